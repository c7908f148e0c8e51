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

    @Test
    void item20_theV2PathSendsTheBatchWithoutCopyingIt() throws Exception {
        int n = 20_000;
        int features = 26;
        float[] flat = TestModels.noisyRows(TestModels.example(), n, features, 11);
        float[] expected = TestModels.inProcessScores(TestModels.example(), flat, features);
        java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocateDirect(flat.length * 4)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(flat);
        dev.scoreflow.api.FloatMatrix batch = dev.scoreflow.api.FloatMatrix.wrap(bytes, n, features);
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        assertThat(threads.isThreadAllocatedMemoryEnabled()).isTrue();
        try (ScoringClient client = ScoringClient.create(ClientConfig.builder(servers.get(0).uri().toString())
                .model("example").protocol(Protocol.V2).build())) {
            client.score(batch).get(30, java.util.concurrent.TimeUnit.SECONDS); // reads the input name once
            for (int i = 0; i < 3; i++) {
                // with the input name known, the attempt is encoded and handed to Netty on this thread
                long before = threads.getCurrentThreadAllocatedBytes();
                java.util.concurrent.CompletableFuture<float[]> scored = client.score(batch);
                long allocated = threads.getCurrentThreadAllocatedBytes() - before;
                assertThat(allocated).as("bytes allocated to send a %d-byte batch", flat.length * 4)
                        .isLessThan(flat.length * 4L / 8);
                float[] scores = scored.get(30, java.util.concurrent.TimeUnit.SECONDS);
                for (int r = 0; r < n; r++) {
                    assertThat(scores[r]).as("row %d", r).isCloseTo(expected[r],
                            org.assertj.core.data.Offset.offset(TestModels.tolerance(expected[r])));
                }
            }
        }
    }
}
