package dev.scoreflow.server;

import dev.scoreflow.api.internal.Json;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.runtime.ThreadBudget;
import io.netty.handler.codec.http.FullHttpResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.scoreflow.server.ServerFixture.text;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code /v2/health/ready} with models that failed, in both readiness settings, and while draining. */
class ReadinessTest {

    private static Path repositoryWithABrokenModel(Path dir) throws Exception {
        TestModels.install(TestModels.example(), dir, "good", "1");
        Path broken = Files.createDirectories(dir.resolve("broken/3"));
        Files.writeString(broken.resolve("model.onnx"), "garbage");
        return dir;
    }

    @Test
    void item13_strictReadinessAnswers503NamingTheModelThatFailedAndWhy(@TempDir Path dir) throws Exception {
        Path root = repositoryWithABrokenModel(dir);
        try (ServerFixture f = new ServerFixture(r -> r.root(root), s -> { })) {
            var ready = f.get("/v2/health/ready");
            assertThat(ready.statusCode()).isEqualTo(503);
            Map<?, ?> body = (Map<?, ?>) Json.parse(text(ready));
            assertThat(body.get("ready")).isEqualTo(false);
            assertThat((String) body.get("error")).contains("not every model is ready")
                    .contains("model broken version 3: cannot load").doesNotContain("starting");
            assertThat((List<?>) body.get("not_ready")).singleElement()
                    .satisfies(m -> {
                        Map<?, ?> model = (Map<?, ?>) m;
                        assertThat(model.get("name")).isEqualTo("broken");
                        assertThat(model.get("version")).isEqualTo("3");
                        assertThat(model.get("state")).isEqualTo("UNAVAILABLE");
                    });
            // the model that loaded still serves
            assertThat(f.get("/v2/models/good/ready").statusCode()).isEqualTo(200);
            // once the broken file is gone, the server is ready
            Files.delete(root.resolve("broken/3/model.onnx"));
            f.repository.rescan();
            assertThat(f.get("/v2/health/ready").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void item13_lenientReadinessIsReadyWhileOneModelIs(@TempDir Path dir) throws Exception {
        Path root = repositoryWithABrokenModel(dir);
        try (ServerFixture f = new ServerFixture(r -> r.root(root), s -> s.readiness(Readiness.LENIENT))) {
            assertThat(f.get("/v2/health/ready").statusCode()).isEqualTo(200);
            f.post("/v2/repository/models/good/unload", "");
            var ready = f.get("/v2/health/ready");
            assertThat(ready.statusCode()).isEqualTo(503);
            assertThat(text(ready)).contains("no model is ready").contains("model broken version 3");
        }
    }

    @Test
    void item13_drainingServerIsNotReadyAndSaysSo(@TempDir Path dir) {
        TestModels.install(TestModels.example(), dir, "good", "1");
        try (ModelRepository repository = ModelRepository.builder().root(dir).threads(new ThreadBudget(1, 1))
                .build()) {
            V2Endpoint v2 = new V2Endpoint(repository, "test", () -> true, Readiness.STRICT);
            FullHttpResponse r = v2.ready();
            try {
                assertThat(r.status().code()).isEqualTo(503);
                assertThat(r.content().toString(StandardCharsets.UTF_8)).contains("draining");
            } finally {
                r.release();
            }
            V2Endpoint serving = new V2Endpoint(repository, "test", () -> false, Readiness.STRICT);
            FullHttpResponse ok = serving.ready();
            try {
                assertThat(ok.status().code()).isEqualTo(200);
            } finally {
                ok.release();
            }
        }
    }

    @Test
    void item12_loadOfDotDotIsRefusedWith400(@TempDir Path dir) throws Exception {
        Path root = Files.createDirectories(dir.resolve("repo"));
        TestModels.install(TestModels.example(), root, "good", "1");
        // what '..' would reach: <root>/../evil/model.onnx, served as model '..' version 'evil'
        TestModels.install(TestModels.example(), dir, "evil", "1");
        Files.copy(TestModels.example(), dir.resolve("evil/model.onnx"));
        try (ServerFixture f = new ServerFixture(r -> r.root(root), s -> { })) {
            var load = f.post("/v2/repository/models/%2e%2e/load", "");
            assertThat(load.statusCode()).isEqualTo(400);
            assertThat(text(load)).contains("model name '..' is not allowed");
            assertThat(f.get("/v2/models/%2e%2e/ready").statusCode()).isEqualTo(404);
            assertThat(f.repository.readyNames()).containsExactly("good");
        }
    }
}
