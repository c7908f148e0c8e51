package dev.scoreflow.server;

import dev.scoreflow.server.InMemoryServer.Conn;
import dev.scoreflow.server.InMemoryServer.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 7's items on the connection: what a hostile, slow or careless peer can do to one connection and to the
 * server, driven in memory through the real pipeline with a hand-driven clock. Test names carry the item number.
 */
class HttpConnectionTest {
    private static final int ROW = 26 * 4; // one row of the example model

    private static String put(String path, int length, String... headers) {
        StringBuilder b = new StringBuilder("PUT " + path + " HTTP/1.1\r\nHost: x\r\n");
        if (length >= 0) {
            b.append("Content-Length: ").append(length).append("\r\n");
        }
        for (String h : headers) {
            b.append(h).append("\r\n");
        }
        return b.append("\r\n").toString();
    }

    private static String zeros(int n) {
        return new String(new byte[n], StandardCharsets.ISO_8859_1);
    }

    private static InMemoryServer server(Consumer<ScoringServer.Builder> settings) {
        return new InMemoryServer(settings);
    }

    @Test
    void item1_bodyBudgetCountsBytesThatArrivedNotTheDeclaredLength() {
        try (InMemoryServer s = server(b -> b.bodyBudgetBytes(4096).maxBodyBytes(1 << 20))) {
            // sixteen peers that declare 64 KiB each and send one byte hold sixteen bytes, not 1 MiB
            for (int i = 0; i < 16; i++) {
                s.connect().send(put("/score", 65536) + "x");
            }
            assertThat(s.budgetInUse()).isEqualTo(16);
            List<Response> r = s.connect().send(put("/score", ROW) + zeros(ROW)).await(1);
            assertThat(r.get(0).status()).isEqualTo(200);
        }
    }

    @Test
    void item1_largeDeclaredBodiesAreReservedWholeOnlyWhileDeclaredBodiesHoldLessThanHalfTheBudget() {
        int whole = HttpConnection.WHOLE_MIN;
        try (InMemoryServer s = server(b -> b.bodyBudgetBytes(5L * whole).maxBodyBytes(1 << 22))) {
            s.connect().send(put("/score", whole) + "x"); // one buffer of the declared length, reserved whole
            assertThat(s.budgetInUse()).isEqualTo(whole);
            s.connect().send(put("/score", whole) + "x"); // 2 of 5 held: still under half
            assertThat(s.budgetInUse()).isEqualTo(2L * whole);
            s.connect().send(put("/score", whole) + "x"); // would pass half: gathered as it arrives
            assertThat(s.budgetInUse()).isEqualTo(2L * whole + 1);
            List<Response> r = s.connect().send(put("/score", ROW) + zeros(ROW)).await(1);
            assertThat(r.get(0).status()).isEqualTo(200);
        }
    }

    @Test
    void item1_unauthenticatedUploadIsRefusedBeforeAnyBodyByteIsKept() {
        try (InMemoryServer s = server(b -> b.authToken("s3cret").bodyBudgetBytes(4096))) {
            Conn c = s.connect().send(put("/score", 2000) + zeros(1000));
            Response r = c.await(1).get(0);
            assertThat(r.status()).isEqualTo(401);
            assertThat(r.body()).contains("bearer token");
            assertThat(r.closes()).isTrue();
            assertThat(c.isOpen()).isFalse();
            assertThat(s.budgetInUse()).isZero();
        }
    }

    @Test
    void item1_headerThatNeverCompletesGets408AndTheConnectionCloses() {
        try (InMemoryServer s = server(b -> b.headerTimeout(Duration.ofSeconds(10)))) {
            Conn c = s.connect().send("PUT /score HTTP/1.1\r\nHost: x\r\n");
            c.advance(Duration.ofSeconds(9));
            assertThat(c.responses()).isEmpty();
            c.advance(Duration.ofSeconds(2));
            Response r = c.responses().get(0);
            assertThat(r.status()).isEqualTo(408);
            assertThat(r.body()).contains("request header").contains("--header-timeout-ms");
            assertThat(r.closes()).isTrue();
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void item1_stalledBodyGets408AndGivesItsBytesBack() {
        try (InMemoryServer s = server(b -> b.bodyTimeout(Duration.ofSeconds(30)).bodyMinRate(0))) {
            Conn c = s.connect().send(put("/score", 1000) + zeros(500));
            assertThat(s.budgetInUse()).isEqualTo(500);
            c.advance(Duration.ofSeconds(20)).send(zeros(100)); // a pause shorter than the timeout is fine
            c.advance(Duration.ofSeconds(20));
            assertThat(c.responses()).isEmpty();
            c.advance(Duration.ofSeconds(11));
            Response r = c.responses().get(0);
            assertThat(r.status()).isEqualTo(408);
            assertThat(r.body()).contains("600 bytes");
            assertThat(c.isOpen()).isFalse();
            assertThat(s.budgetInUse()).isZero();
            assertThat(s.service.metrics.timeouts.value("body")).isEqualTo(1);
        }
    }

    @Test
    void item1_bodyTricklingBelowTheMinimumRateGets408() {
        try (InMemoryServer s = server(b -> b.bodyTimeout(Duration.ofSeconds(10)).bodyMinRate(1000))) {
            Conn c = s.connect().send(put("/score", 100_000) + zeros(10));
            for (int i = 0; i < 10 && c.responses().isEmpty(); i++) {
                c.advance(Duration.ofSeconds(5)).send(zeros(10)); // never pauses 10 s, but 2 bytes/s
            }
            assertThat(c.responses()).singleElement().extracting(Response::status).isEqualTo(408);
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void item2_idleKeptAliveConnectionIsClosedAfterTheIdleTimeout() {
        try (InMemoryServer s = server(b -> b.idleTimeout(Duration.ofSeconds(60)))) {
            Conn c = s.connect().send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(c.await(1).get(0).closes()).isFalse();
            c.advance(Duration.ofSeconds(59));
            assertThat(c.isOpen()).isTrue();
            c.advance(Duration.ofSeconds(2));
            assertThat(c.isOpen()).isFalse();
            assertThat(c.responses()).hasSize(1); // closed quietly
            assertThat(s.service.metrics.timeouts.value("idle")).isEqualTo(1);
        }
    }

    @Test
    void item2_newConnectionThatSendsNothingIsClosedAfterTheHeaderTimeout() {
        try (InMemoryServer s = server(b -> b.headerTimeout(Duration.ofSeconds(10)))) {
            Conn c = s.connect();
            c.advance(Duration.ofSeconds(11));
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void item2_lastRequestOfAConnectionSaysCloseAndCloses() {
        try (InMemoryServer s = server(b -> b.maxRequestsPerConnection(2))) {
            Conn c = s.connect();
            String get = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
            c.send(get);
            assertThat(c.await(1).get(0).closes()).isFalse();
            c.send(get);
            List<Response> r = c.await(2);
            assertThat(r.get(1).closes()).isTrue();
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void item3_continueIsNotAnAnswerAndReleasesNothing() {
        try (InMemoryServer s = server(b -> { })) {
            Conn c = s.connect().send(put("/score", 2 * ROW, "Expect: 100-continue"));
            List<Response> r = c.await(1);
            assertThat(r.get(0).status()).isEqualTo(100);
            c.send(zeros(ROW));
            assertThat(s.budgetInUse()).isEqualTo(ROW);
            assertThat(s.service.metrics.inflightBodyBytes.get()).isEqualTo(ROW);
            c.send(zeros(ROW));
            r = c.await(2);
            assertThat(r.get(1).status()).isEqualTo(200);
            assertThat(r.get(1).body()).hasSize(8); // two scores
            assertThat(s.budgetInUse()).isZero();
        }
    }

    @Test
    void item4_unsupportedExpectationIsRefusedAndItsBodyNeverParsedAsARequest() {
        try (InMemoryServer s = server(b -> { })) {
            String smuggled = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
            Conn c = s.connect().send(put("/score", smuggled.length(), "Expect: foo") + smuggled);
            List<Response> r = c.await(1);
            assertThat(r).hasSize(1);
            assertThat(r.get(0).status()).isEqualTo(417);
            assertThat(r.get(0).body()).startsWith("{\"error\":").contains("Expect: foo");
            assertThat(r.get(0).closes()).isTrue();
            assertThat(c.isOpen()).isFalse();
            assertThat(c.responses()).hasSize(1);
        }
    }

    @Test
    void item4_overLimitBodyAfterExpectContinueGetsJson413AndCloses() {
        try (InMemoryServer s = server(b -> b.maxBodyBytes(1024))) {
            Conn c = s.connect().send(put("/score", 4096, "Expect: 100-continue"));
            Response r = c.await(1).get(0);
            assertThat(r.status()).isEqualTo(413);
            assertThat(r.body()).startsWith("{\"error\":").contains("4096 bytes");
            assertThat(r.closes()).isTrue();
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void item4_overLimitBodyOfADeclaredLengthIsSkippedExactlyAndTheConnectionServesOn() {
        try (InMemoryServer s = server(b -> b.maxBodyBytes(1024))) {
            String next = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
            Conn c = s.connect().send(put("/score", 2048) + zeros(2048) + next);
            List<Response> r = c.await(2);
            assertThat(r.get(0).status()).isEqualTo(413);
            assertThat(r.get(0).closes()).isFalse();
            assertThat(r.get(1).status()).isEqualTo(200);
            assertThat(r.get(1).body()).contains("\"live\":true");
        }
    }

    @Test
    void item5_malformedUrlIsAnswered400AndItsBodyReleased() {
        try (InMemoryServer s = server(b -> { })) {
            Conn c = s.connect().send(put("/models/example/%zz", ROW) + zeros(ROW));
            Response r = c.await(1).get(0);
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body()).contains("malformed URL");
            assertThat(s.budgetInUse()).isZero(); // and NoLeaksExtension checks the buffers
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "104, 104", "18446744073709551616", "-1"})
    void item7_unparseableContentLengthGets400AndACloses(String length) {
        try (InMemoryServer s = server(b -> { })) {
            Conn c = s.connect().send("PUT /score HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + "\r\n\r\n"
                    + zeros(ROW));
            Response r = c.await(1).get(0);
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body()).startsWith("{\"error\":\"malformed HTTP request");
            assertThat(r.closes()).isTrue();
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void item7_pipelinedRequestsBeyondWhatIsKeptGetA429InTurn() throws Exception {
        try (InMemoryServer s = server(b -> { })) {
            CountDownLatch hold = holdAdminThread(s);
            // the first request waits for the admin thread, so everything behind it waits in line
            StringBuilder many = new StringBuilder("POST /v2/repository/models/forest/load HTTP/1.1\r\nHost: x\r\n"
                    + "Content-Length: 0\r\n\r\n");
            int n = ConnectionLimits.MAX_WAITING + 50;
            for (int i = 0; i < n; i++) {
                many.append(put("/score", ROW)).append(zeros(ROW));
            }
            Conn c = s.connect().send(many.toString());
            hold.countDown();
            List<Response> r = c.await(ConnectionLimits.MAX_WAITING + 1);
            // the load and every request that was kept (as many as wait in line), then the refusal; nothing after
            assertThat(r.subList(0, ConnectionLimits.MAX_WAITING)).allMatch(x -> x.status() == 200);
            Response last = r.get(ConnectionLimits.MAX_WAITING);
            assertThat(last.status()).isEqualTo(429);
            assertThat(last.closes()).isTrue();
            assertThat(c.isOpen()).isFalse();
            assertThat(c.responses()).hasSize(ConnectionLimits.MAX_WAITING + 1);
        }
    }

    /** Occupies the service's admin thread until the returned latch is counted down. */
    private static CountDownLatch holdAdminThread(InMemoryServer s) throws InterruptedException {
        CountDownLatch hold = new CountDownLatch(1);
        CountDownLatch held = new CountDownLatch(1);
        s.service.admin.execute(() -> {
            held.countDown();
            try {
                hold.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(held.await(30, TimeUnit.SECONDS)).isTrue();
        return hold;
    }

    @Test
    void item7_morePipelinedRequestsThanNettysDefaultDepthAreAllAnswered() {
        try (InMemoryServer s = server(b -> { })) {
            StringBuilder many = new StringBuilder();
            for (int i = 0; i < 200; i++) {
                many.append("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
            }
            List<Response> r = s.connect().send(many.toString()).await(200);
            assertThat(r).hasSize(200).allMatch(x -> x.status() == 200);
        }
    }

    @Test
    void item8_malformedHeaderGets400WithConnectionCloseAndNothingMoreIsRead() {
        try (InMemoryServer s = server(b -> { })) {
            Conn c = s.connect().send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"
                    + "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
            List<Response> r = c.await(1);
            assertThat(r).hasSize(1);
            assertThat(r.get(0).status()).isEqualTo(400);
            assertThat(r.get(0).closes()).isTrue();
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void item8_headerTooLargeGets431AndCloses() {
        try (InMemoryServer s = server(b -> { })) {
            Conn c = s.connect().send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(20_000)
                    + "\r\n\r\n");
            Response r = c.await(1).get(0);
            assertThat(r.status()).isEqualTo(431);
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void item9_modelNamesFromUrlsBecomeMetricsLabelsOnlyWhenTheModelExists() {
        try (InMemoryServer s = server(b -> { })) {
            Conn c = s.connect();
            for (int i = 0; i < 5; i++) {
                c.send(put("/models/random" + i + "/score", ROW, "Content-Type: text/plain") + zeros(ROW));
            }
            c.send(put("/models/example/score", ROW, "Content-Type: text/plain") + zeros(ROW));
            assertThat(c.await(6)).allMatch(r -> r.status() == 415);
            String m = s.service.metrics.render();
            assertThat(m).doesNotContain("random")
                    .contains("scoreflow_requests_total{code=\"415\",model=\"unknown\",protocol=\"seed\"} 5.0")
                    .contains("scoreflow_requests_total{code=\"415\",model=\"example\",protocol=\"seed\"} 1.0");
        }
    }

    @Test
    void item11_loadAndUnloadRunOnTheAdminThreadNotTheEventLoop() throws Exception {
        try (InMemoryServer s = server(b -> { })) {
            CountDownLatch hold = holdAdminThread(s);
            Conn admin = s.connect().send("POST /v2/repository/models/example/unload HTTP/1.1\r\nHost: x\r\n"
                    + "Content-Length: 0\r\n\r\n");
            // the event loop is free: another connection is served while the unload waits for the admin thread
            assertThat(s.connect().send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n").await(1).get(0)
                    .status()).isEqualTo(200);
            assertThat(admin.responses()).isEmpty();
            hold.countDown();
            assertThat(admin.await(1).get(0).status()).isEqualTo(200);
            assertThat(s.repository.readyNames()).containsExactly("forest");
        }
    }

    @Test
    void item12_scoringTokenCannotUseTheRepositoryApi() {
        try (InMemoryServer s = server(b -> b.authToken("score"))) {
            Response r = s.connect().send("POST /v2/repository/models/example/unload HTTP/1.1\r\nHost: x\r\n"
                    + "Authorization: Bearer score\r\nContent-Length: 0\r\n\r\n").await(1).get(0);
            assertThat(r.status()).isEqualTo(403);
            assertThat(r.body()).contains("--admin-token-file");
            assertThat(s.repository.readyNames()).contains("example");
        }
    }

    @Test
    void item12_adminTokenIsRequiredForTheRepositoryApiAndIsNotAScoringToken() {
        try (InMemoryServer s = server(b -> b.authToken("score").adminToken("admin"))) {
            String unload = "POST /v2/repository/models/example/unload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n";
            assertThat(s.connect().send(unload + "Authorization: Bearer score\r\n\r\n").await(1).get(0).status())
                    .isEqualTo(401);
            assertThat(s.connect().send(put("/score", ROW, "Authorization: Bearer admin") + zeros(ROW)).await(1)
                    .get(0).status()).isEqualTo(401);
            assertThat(s.connect().send(unload + "Authorization: Bearer admin\r\n\r\n").await(1).get(0).status())
                    .isEqualTo(200);
            assertThat(s.repository.readyNames()).containsExactly("forest");
        }
    }

    @Test
    void item12_repositoryApiCanBeSwitchedOff() {
        try (InMemoryServer s = server(b -> b.repositoryApi(false))) {
            Response r = s.connect().send("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Length: 0"
                    + "\r\n\r\n").await(1).get(0);
            assertThat(r.status()).isEqualTo(403);
            assertThat(r.body()).contains("switched off");
        }
    }

    @Test
    void item14_drainingAnswersAnUploadInProgressWithConnectionCloseThenCloses() {
        try (InMemoryServer s = server(b -> b.drainLinger(Duration.ofMillis(500)))) {
            Conn c = s.connect().send(put("/score", 2 * ROW) + zeros(ROW));
            s.service.startDraining();
            c.ch.pipeline().fireUserEventTriggered(HttpConnection.DRAIN);
            c.advance(Duration.ofSeconds(1)); // the linger does not apply to a connection mid-request
            assertThat(c.isOpen()).isTrue();
            Response r = c.send(zeros(ROW)).await(1).get(0);
            assertThat(r.status()).isEqualTo(200);
            c.advance(Duration.ofSeconds(1)); // it says close, or (answered within its own read) the linger ends it
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void item14_drainingAnswersEveryPipelinedRequestAlreadyReceived() {
        try (InMemoryServer s = server(b -> { })) {
            Conn c = s.connect().send((put("/score", ROW) + zeros(ROW)).repeat(5));
            s.service.startDraining();
            c.ch.pipeline().fireUserEventTriggered(HttpConnection.DRAIN);
            List<Response> r = c.await(5);
            assertThat(r).allMatch(x -> x.status() == 200);
            assertThat(r.subList(0, 4)).noneMatch(Response::closes);
            c.advance(Duration.ofSeconds(1)); // the last may say close, or the linger ends the connection
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void item14_idleConnectionLingersForARequestInTransitThenCloses() {
        try (InMemoryServer s = server(b -> b.drainLinger(Duration.ofMillis(500)))) {
            Conn idle = s.connect();
            Conn late = s.connect();
            for (Conn c : List.of(idle, late)) {
                c.send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n").await(1);
                c.ch.pipeline().fireUserEventTriggered(HttpConnection.DRAIN);
            }
            s.service.startDraining();
            late.advance(Duration.ofMillis(300));
            Response r = late.send("GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n").await(2).get(1);
            assertThat(r.status()).isEqualTo(503); // readiness is off while draining
            assertThat(r.body()).contains("draining");
            assertThat(r.closes()).isTrue();
            idle.advance(Duration.ofMillis(300));
            assertThat(idle.isOpen()).isFalse();
            assertThat(s.service.metrics.timeouts.value("drain")).isEqualTo(1);
        }
    }
}
