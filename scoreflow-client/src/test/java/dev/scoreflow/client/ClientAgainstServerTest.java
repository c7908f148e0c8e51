package dev.scoreflow.client;

import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.runtime.ThreadBudget;
import dev.scoreflow.server.ScoringServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The client against two real Scoreflow servers, in both protocols: scores equal in-process ONNX Runtime. */
class ClientAgainstServerTest {
    private static final List<ScoringServer> servers = new ArrayList<>();
    private static final List<ModelRepository> repositories = new ArrayList<>();

    @BeforeAll
    static void start() {
        for (int i = 0; i < 2; i++) {
            ModelRepository repo = ModelRepository.builder().threads(new ThreadBudget(2, 1))
                    .model("example", TestModels.example()).model("forest", TestModels.forest()).build();
            repositories.add(repo);
            servers.add(ScoringServer.builder(repo).port(0).start());
        }
    }

    @AfterAll
    static void stop() {
        servers.forEach(s -> s.shutdown(Duration.ofSeconds(5)));
    }

    private static String endpoints() {
        return servers.get(0).uri() + "," + servers.get(1).uri();
    }

    private static void assertScoresEqualInProcess(Path model, int features, ClientConfig config) {
        int n = 20_000;
        float[] flat = TestModels.noisyRows(model, n, features, 42);
        float[] expected = TestModels.inProcessScores(model, flat, features);
        List<float[]> rows = new ArrayList<>(n);
        for (int r = 0; r < n; r++) {
            rows.add(Arrays.copyOfRange(flat, r * features, (r + 1) * features));
        }
        try (ScoringClient client = ScoringClient.create(config)) {
            OrderedScoring<float[]> scores = client.scoreAll(rows.iterator(), 700, 6);
            int i = 0;
            while (scores.hasNext()) {
                Scored<float[]> s = scores.next();
                assertThat(s.item()).isSameAs(rows.get(i));
                assertThat(s.score()).as("row %d", i).isCloseTo(expected[i],
                        org.assertj.core.data.Offset.offset(TestModels.tolerance(expected[i])));
                i++;
            }
            assertThat(i).isEqualTo(n);
            assertThat(client.metrics().rows()).isEqualTo(n);
            assertThat(client.metrics().failures()).isZero();
        }
    }

    @Test
    void seedProtocolScoresEqualInProcessScores() {
        assertScoresEqualInProcess(TestModels.forest(), 20,
                ClientConfig.builder(endpoints()).model("forest").build());
    }

    @Test
    void v2ProtocolScoresEqualInProcessScores() {
        assertScoresEqualInProcess(TestModels.example(), 26,
                ClientConfig.builder(endpoints()).model("example").protocol(Protocol.V2).build());
    }

    @Test
    void httpsEndpointsAreVerifiedAgainstTheTrustedCertificates() throws Exception {
        java.nio.file.Path tls = TestModels.root().resolve("scoreflow-server/src/test/resources/tls");
        ModelRepository repo = ModelRepository.builder().threads(new ThreadBudget(2, 1))
                .model("forest", TestModels.forest()).build();
        ScoringServer secure = ScoringServer.builder(repo).port(0)
                .tls(tls.resolve("cert.pem"), tls.resolve("key.pem")).start();
        try {
            String https = "https://localhost:" + secure.port();
            assertScoresEqualInProcess(TestModels.forest(), 20, ClientConfig.builder(https).model("forest")
                    .trustCertificates(tls.resolve("cert.pem").toString()).build());
            // without the certificate the handshake fails: a clear error, not a score
            try (ScoringClient untrusting = ScoringClient.create(ClientConfig.builder(https).model("forest")
                    .maxAttempts(2).build())) {
                assertThatThrownBy(() -> untrusting.score(dev.scoreflow.api.FloatMatrix.of(new float[20], 1, 20))
                        .get(30, java.util.concurrent.TimeUnit.SECONDS)).hasStackTraceContaining("certification path");
            }
        } finally {
            secure.shutdown(Duration.ofSeconds(5));
        }
    }

    @Test
    void theServersBadInputErrorReachesTheCaller() {
        try (ScoringClient client = ScoringClient.create(ClientConfig.builder(endpoints()).model("forest").build())) {
            OrderedScoring<float[]> scores = client.scoreAll(List.of(new float[3]).iterator(), 10, 1);
            assertThatThrownBy(scores::hasNext).isInstanceOf(ScoringFailedException.class)
                    .hasMessageContaining("HTTP 400").hasMessageContaining("20");
        }
    }
}
