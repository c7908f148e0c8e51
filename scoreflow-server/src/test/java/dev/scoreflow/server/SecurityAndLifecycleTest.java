package dev.scoreflow.server;

import dev.scoreflow.runtime.TestModels;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLContext;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Bearer-token auth, TLS from PEM files, and graceful shutdown, over real sockets. */
class SecurityAndLifecycleTest {
    private static final Path TLS = ServerFixture.TLS;

    @Test
    void requiresTheBearerTokenExceptOnHealth() {
        try (ServerFixture f = ServerFixture.exampleAndForest(s -> s.authToken("s3cret"))) {
            HttpResponse<byte[]> none = f.put("/models/example/score", new byte[104], null);
            assertThat(none.statusCode()).isEqualTo(401);
            assertThat(none.headers().firstValue("WWW-Authenticate")).contains("Bearer realm=\"scoreflow\"");
            assertThat(ServerFixture.text(none)).contains("bearer token");
            HttpResponse<byte[]> wrong = f.send(HttpRequest.newBuilder(f.uri("/models/example/score"))
                    .header("Authorization", "Bearer guess").PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[104])));
            assertThat(wrong.statusCode()).isEqualTo(401);
            assertThat(f.get("/metrics").statusCode()).isEqualTo(401);
            assertThat(f.get("/v2/health/ready").statusCode()).isEqualTo(200);
            HttpResponse<byte[]> ok = f.send(HttpRequest.newBuilder(f.uri("/models/example/score"))
                    .header("Authorization", "Bearer s3cret").PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[104])));
            assertThat(ok.statusCode()).isEqualTo(200);
        }
    }

    @Test
    void servesHttpsFromPemFiles() throws Exception {
        SSLContext ssl = ServerFixture.trustingTestCertificate();
        HttpClient https = HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1).build();
        try (ServerFixture f = new ServerFixture(r -> r.model("example", TestModels.example()),
                s -> s.tls(TLS.resolve("cert.pem"), TLS.resolve("key.pem")), https)) {
            assertThat(f.server.uri().getScheme()).isEqualTo("https");
            float[] rows = TestModels.sampleInput(TestModels.example());
            HttpResponse<byte[]> r = f.put("/score", ServerFixture.body(java.util.Arrays.copyOf(rows, 26), 26), null);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(ServerFixture.scores(r)[0]).isCloseTo(TestModels.sampleScores(TestModels.example())[0],
                    within(1e-5f));
            // plain HTTP to the TLS port gets no answer
            HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            assertThatThrownBy(() -> plain.send(HttpRequest.newBuilder(
                    java.net.URI.create("http://127.0.0.1:" + f.server.port() + "/v2/health/live"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(java.io.IOException.class);
        }
    }

    @Test
    void refusesAMissingCertificateWithAClearError() {
        assertThatThrownBy(() -> new ServerFixture(r -> r.model("example", TestModels.example()),
                s -> s.tls(TLS.resolve("missing.pem"), TLS.resolve("key.pem"))))
                .hasMessageContaining("cannot use TLS certificate");
    }

    @Test
    void shutdownAnswersWhatWasAcceptedThenStops() throws Exception {
        ServerFixture f = new ServerFixture(r -> r.model("forest", TestModels.forest()), s -> { });
        int n = 200_000; // long enough to be in flight when shutdown starts
        float[] rows = TestModels.noisyRows(TestModels.forest(), n, 20, 1);
        CompletableFuture<HttpResponse<byte[]>> big = CompletableFuture.supplyAsync(
                () -> f.put("/models/forest/score", ServerFixture.body(rows, 20), null));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (f.repository.get("forest", null).queuedRows() == 0 && !big.isDone()) {
            assertThat(System.nanoTime()).as("request reached the queue").isLessThan(deadline);
            Thread.onSpinWait();
        }
        CompletableFuture<Boolean> stopped = CompletableFuture.supplyAsync(() -> f.server.shutdown(Duration.ofSeconds(60)));
        HttpResponse<byte[]> r = big.get(60, TimeUnit.SECONDS);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(ServerFixture.scores(r)).hasSize(n);
        assertThat(stopped.get(60, TimeUnit.SECONDS)).isTrue();
        assertThatThrownBy(() -> f.client.send(HttpRequest.newBuilder(f.uri("/v2/health/live"))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(java.io.IOException.class);
    }

    @Test
    void exposesPrometheusMetrics() {
        try (ServerFixture f = ServerFixture.exampleAndForest(s -> { })) {
            f.put("/models/example/score", new byte[104 * 5], null);
            f.put("/models/example/score", new byte[7], null);
            String m = ServerFixture.text(f.get("/metrics"));
            assertThat(m).contains("# TYPE scoreflow_requests_total counter")
                    .contains("scoreflow_requests_total{code=\"200\",model=\"example\",protocol=\"seed\"} 1.0")
                    .contains("scoreflow_requests_total{code=\"400\",model=\"example\",protocol=\"seed\"} 1.0")
                    .contains("scoreflow_rows_total{code=\"200\",model=\"example\"} 5.0")
                    .contains("scoreflow_request_duration_seconds_count{model=\"example\"} 1")
                    .contains("scoreflow_batch_rows_bucket{model=\"example\",le=\"8.0\"} 1")
                    .contains("scoreflow_queue_duration_seconds_count{model=\"example\"} 1")
                    .contains("scoreflow_queue_rows{model=\"forest\",version=\"1\"} 0.0")
                    .contains("scoreflow_model_ready{model=\"example\",version=\"1\"} 1.0")
                    .contains("scoreflow_open_connections")
                    // the JVM's, from the Prometheus client: heap, the direct buffers Netty holds, GC, threads
                    .containsPattern("jvm_memory_used_bytes\\{area=\"heap\"\\} [0-9.eE+]+")
                    .containsPattern("jvm_buffer_pool_used_bytes\\{pool=\"direct\"\\} [0-9.eE+]+")
                    .contains("jvm_gc_collection_seconds_count", "jvm_threads_current");
        }
    }
}
