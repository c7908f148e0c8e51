package dev.scoreflow.server;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.GreenMailUtil;
import com.icegreen.greenmail.util.ServerSetup;
import com.sun.net.httpserver.HttpServer;
import dev.scoreflow.jobs.PostgresJobQueue;
import dev.scoreflow.runtime.TestModels;
import jakarta.mail.internet.MimeMessage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntUnaryOperator;

import static dev.scoreflow.server.JobsOnPostgresTest.awaitFinal;
import static dev.scoreflow.server.JobsOnPostgresTest.json;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Observer + callback end to end: jobs with callbacks submitted over HTTP to a real server, queued in the machine's
 * real PostgreSQL, finished by a worker that POSTs signed webhooks to a real HTTP receiver (which fails when told to)
 * and mails through an embedded SMTP server (GreenMail); the outcome is read back from {@code GET /jobs/{id}}.
 */
class CallbacksOnPostgresTest {
    static final byte[] SECRET = "a-test-secret-of-32-bytes-......".getBytes(StandardCharsets.US_ASCII);
    /** What a test opened, closed after it in reverse order (the jobs tests' own bookkeeping). */
    final JobsOnPostgresTest resources = new JobsOnPostgresTest();

    @AfterEach
    void close() throws Exception {
        resources.close();
    }

    <T extends AutoCloseable> T keep(T c) {
        return resources.keep(c);
    }

    /** A webhook receiver on a free port: answers attempt n (1, 2, ...) with {@code status.applyAsInt(n)}. */
    static final class Receiver implements AutoCloseable {
        record Call(long nanos, Map<String, List<String>> headers, byte[] body) {
            String header(String name) {
                return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                        .map(e -> e.getValue().get(0)).findFirst().orElse(null);
            }
        }

        final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
        final HttpServer server;
        final CountDownLatch release = new CountDownLatch(1);

        Receiver(IntUnaryOperator status, boolean hold) throws Exception {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            server.setExecutor(Executors.newFixedThreadPool(4));
            server.createContext("/hook", ex -> {
                byte[] body = ex.getRequestBody().readAllBytes();
                calls.add(new Call(System.nanoTime(), Map.copyOf(ex.getRequestHeaders()), body));
                if (hold) {
                    try {
                        release.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                ex.sendResponseHeaders(status.applyAsInt(calls.size()), -1);
                ex.close();
            });
            server.start();
        }

        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort() + "/hook";
        }

        @Override
        public void close() {
            release.countDown();
            server.stop(0);
            ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
        }
    }

    /** The real timer, recording each wait it is asked for. */
    static final class RecordingTimer implements CallbackSettings.RetryTimer, AutoCloseable {
        final List<Duration> delays = Collections.synchronizedList(new ArrayList<>());
        final ScheduledExecutorService real = Executors.newSingleThreadScheduledExecutor();

        @Override
        public void schedule(Runnable retry, Duration delay) {
            delays.add(delay);
            real.schedule(retry, delay.toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public void close() {
            real.shutdownNow();
        }
    }

    static byte[] v2Body() {
        float[] x = TestModels.sampleInput(TestModels.example());
        StringBuilder data = new StringBuilder();
        for (int i = 0; i < 26; i++) {
            data.append(i == 0 ? "" : ",").append(x[i]);
        }
        return ("{\"inputs\":[{\"name\":\"float_input\",\"datatype\":\"FP32\",\"shape\":[1,26],\"data\":[" + data
                + "]}]}").getBytes(StandardCharsets.UTF_8);
    }

    String submit(ServerFixture fx, String... callbacks) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(fx.uri("/v2/models/example/jobs"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(v2Body()));
        for (String c : callbacks) {
            b.header(JobsEndpoint.CALLBACK, c);
        }
        HttpResponse<String> r = fx.client.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        return (String) json(r.body()).get("id");
    }

    /** The job's callback lines once {@code done} holds of them, or fails after 60 s. */
    @SuppressWarnings("unchecked")
    static List<String> awaitCallbacks(ServerFixture fx, String id, java.util.function.Predicate<List<String>> done)
            throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            Map<String, Object> s = json(JobsOnPostgresTest.send(fx, "GET", "/jobs/" + id, null, null).body());
            List<String> lines = (List<String>) s.get("callbacks");
            if (lines != null && done.test(lines)) {
                return lines;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("job " + id + " callbacks still " + lines + " after 60 s");
            }
            Thread.sleep(50);
        }
    }

    static boolean settled(List<String> lines) {
        return lines.stream().allMatch(l -> l.startsWith("delivered ") || l.startsWith("failed "));
    }

    @Test
    void aWebhookThatFailsTwiceIsRetriedWithBackoffAndDeliveredSignedOnTheThirdAttempt() throws Exception {
        PostgresJobQueue q = keep(JobsOnPostgresTest.queue("cb-retry"));
        Receiver hook = keep(new Receiver(n -> n <= 2 ? 500 : 204, false));
        RecordingTimer timer = keep(new RecordingTimer());
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 1, CallbackSettings.builder().secret(SECRET)
                .attempts(5).backoff(Duration.ofMillis(300), Duration.ofSeconds(5)).timeout(Duration.ofSeconds(5))
                .timer(timer).build()));

        String id = submit(fx, hook.url());
        List<String> lines = awaitCallbacks(fx, id, CallbacksOnPostgresTest::settled);

        assertThat(lines).containsExactly("delivered " + hook.url() + " (attempt 3)");
        assertThat(hook.calls).hasSize(3);
        assertThat(timer.delays).containsExactly(Duration.ofMillis(300), Duration.ofMillis(600));
        assertThat(Duration.ofNanos(hook.calls.get(1).nanos() - hook.calls.get(0).nanos()))
                .isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(Duration.ofNanos(hook.calls.get(2).nanos() - hook.calls.get(1).nanos()))
                .isGreaterThanOrEqualTo(Duration.ofMillis(600));
        Map<String, Object> job = awaitFinal(fx, id);
        for (Receiver.Call c : hook.calls) {
            assertThat(CallbackSignature.verify(SECRET, c.header(CallbackSignature.HEADER), c.body(), Instant.now(),
                    Duration.ofMinutes(5))).as("signature of %s", c.header(CallbackSignature.HEADER)).isTrue();
            assertThat(c.header("Scoreflow-Job-Id")).isEqualTo(id);
            assertThat(c.header("Idempotency-Key")).isEqualTo(id);
            Map<String, Object> sent = json(new String(c.body(), StandardCharsets.UTF_8));
            assertThat(sent).containsEntry("id", id).containsEntry("model", "example").containsEntry("state", "done")
                    .containsEntry("result", job.get("result")).doesNotContainKey("callbacks");
        }
        byte[] tampered = hook.calls.get(2).body().clone();
        tampered[tampered.length - 2] ^= 1;
        assertThat(CallbackSignature.verify(SECRET, hook.calls.get(2).header(CallbackSignature.HEADER), tampered,
                Instant.now(), Duration.ofMinutes(5))).isFalse();
    }

    @Test
    void aWebhookThatAlwaysFailsIsRecordedFailedAfterTheMaximumOfAttempts() throws Exception {
        PostgresJobQueue q = keep(JobsOnPostgresTest.queue("cb-fail"));
        Receiver hook = keep(new Receiver(n -> 503, false));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 1, CallbackSettings.builder().secret(SECRET)
                .attempts(3).backoff(Duration.ofMillis(50), Duration.ofMillis(200)).build()));
        String refused = "http://127.0.0.1:" + freePort() + "/nobody";

        String id = submit(fx, hook.url() + "," + refused);
        List<String> lines = awaitCallbacks(fx, id, CallbacksOnPostgresTest::settled);

        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).isEqualTo("failed " + hook.url() + " after 3 attempts: HTTP 503");
        assertThat(lines.get(1)).startsWith("failed " + refused + " after 3 attempts: ").contains("Connect");
        assertThat(hook.calls).hasSize(3);
        assertThat(awaitFinal(fx, id)).containsEntry("state", "done");
    }

    @Test
    void aMailtoCallbackSendsTheResultThroughTheSmtpServer() throws Exception {
        int port = freePort();
        GreenMail smtp = new GreenMail(new ServerSetup(port, "127.0.0.1", ServerSetup.PROTOCOL_SMTP));
        smtp.start();
        resources.open.add(smtp::stop);
        PostgresJobQueue q = keep(JobsOnPostgresTest.queue("cb-mail"));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 1, CallbackSettings.builder()
                .smtp("127.0.0.1:" + port).mailFrom("jobs@scoreflow.test").build()));

        String id = submit(fx, "mailto:analyst@example.com");
        assertThat(smtp.waitForIncomingEmail(30_000, 1)).as("a message arrived").isTrue();
        MimeMessage m = smtp.getReceivedMessages()[0];
        assertThat(m.getSubject()).isEqualTo("Scoreflow job " + id + " done");
        assertThat(m.getAllRecipients()[0].toString()).isEqualTo("analyst@example.com");
        assertThat(m.getFrom()[0].toString()).isEqualTo("jobs@scoreflow.test");
        String text = GreenMailUtil.getBody(m);
        assertThat(awaitFinal(fx, id)).containsKey("result");
        assertThat(text).contains("is done").contains("\"outputs\"").contains("/jobs/" + id + "/result");
        assertThat(awaitCallbacks(fx, id, CallbacksOnPostgresTest::settled))
                .containsExactly("delivered mailto:analyst@example.com (attempt 1)");
    }

    @Test
    void aFullCallbackQueueIsRecordedInsteadOfHoldingUpScoring() throws Exception {
        PostgresJobQueue q = keep(JobsOnPostgresTest.queue("cb-full"));
        Receiver slow = keep(new Receiver(n -> 200, true));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 1, CallbackSettings.builder().capacity(1)
                .attempts(1).timeout(Duration.ofSeconds(30)).build()));

        String first = submit(fx, slow.url());
        JobsOnPostgresTest.await("the first callback held by its receiver", () -> slow.calls.size() == 1);
        String second = submit(fx, slow.url());
        assertThat(awaitFinal(fx, second)).as("scored while the callback is stuck").containsEntry("state", "done");
        assertThat(awaitCallbacks(fx, second, CallbacksOnPostgresTest::settled)).containsExactly("failed "
                + slow.url() + ": not sent: the worker's callback queue is full (1 in progress)");
        slow.release.countDown();
        assertThat(awaitCallbacks(fx, first, CallbacksOnPostgresTest::settled))
                .containsExactly("delivered " + slow.url() + " (attempt 1)");
    }

    @Test
    void aJobTheQueueDeadLettersItselfIsCalledBackByTheWorkerThatTookItOnce() throws Exception {
        java.util.Properties p = new java.util.Properties();
        p.put("user", "postgres");
        PostgresJobQueue q = keep(PostgresJobQueue.open(JobsOnPostgresTest.URL, p, "cb-swept-"
                + Long.toHexString(System.nanoTime()), dev.scoreflow.jobs.QueueSettings.defaults()
                .withVisibilityTimeout(Duration.ofMillis(300)).withMaxReceives(1)));
        Receiver hook = keep(new Receiver(n -> 200, false));
        Callbacks callbacks = keep(new Callbacks(q, CallbackSettings.builder().secret(SECRET).build()));
        String id = q.submit(dev.scoreflow.jobs.JobRequest.seed("example", JobsOnPostgresTest.sampleRows())
                .withCallbacks(List.of(hook.url()))).id();
        // a worker takes the job and never finishes it (it hangs, say): its lease runs out, and with one receive
        // allowed the queue's own sweep (run by the next receive) dead-letters it
        var taken = q.receive(1, Duration.ofSeconds(5));
        assertThat(taken).hasSize(1);
        callbacks.taken(taken.get(0));
        JobsOnPostgresTest.await("the queue dead-lettering the job", () -> {
            try {
                q.receive(1, Duration.ofMillis(100));
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            return q.get(id).orElseThrow().state() == dev.scoreflow.jobs.JobState.DEAD_LETTERED;
        });
        JobsOnPostgresTest.await("the callback delivered", () -> ("delivered " + hook.url() + " (attempt 1)")
                .equals(q.get(id).orElseThrow().callbacks()));
        assertThat(hook.calls).hasSize(1);
        assertThat(json(new String(hook.calls.get(0).body(), StandardCharsets.UTF_8)))
                .containsEntry("state", "dead_lettered").containsKey("error");
    }

    @Test
    void callbacksAreTakenFromRepeatedOrCommaSeparatedHeadersAndABadOneIsRefusedNamingIt() throws Exception {
        PostgresJobQueue q = keep(JobsOnPostgresTest.queue("cb-submit"));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        HttpResponse<String> bad = fx.client.send(HttpRequest.newBuilder(fx.uri("/models/example/jobs"))
                .header(JobsEndpoint.CALLBACK, "https://ok.example/hook, ftp://files.example/x")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(JobsOnPostgresTest.sampleRows())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).contains("ftp://files.example/x");
        assertThat(q.receive(10, Duration.ZERO)).as("nothing was queued").isEmpty();

        submit(fx, "https://a.example/hook, mailto:b@example.com", "http://c.example/");
        var d = q.receive(1, Duration.ofSeconds(5));
        assertThat(d).hasSize(1);
        assertThat(d.get(0).request().callbacks()).containsExactly("https://a.example/hook", "mailto:b@example.com",
                "http://c.example/");
        assertThat(json(JobsOnPostgresTest.send(fx, "GET", "/jobs/" + d.get(0).id(), null, null).body()))
                .containsEntry("callbacks", List.of("pending"));
    }

    @Test
    void aSignatureVerifiesOnlyForItsBodyItsSecretAndWithinTheTolerance() {
        Random random = new Random(20261203L);
        Instant now = Instant.ofEpochSecond(1_800_000_000L);
        for (int i = 0; i < 200; i++) {
            byte[] body = new byte[random.nextInt(300)];
            random.nextBytes(body);
            String h = CallbackSignature.sign(SECRET, now.getEpochSecond(), body);
            assertThat(h).matches("t=1800000000,v1=[0-9a-f]{64}");
            assertThat(CallbackSignature.verify(SECRET, h, body, now.plusSeconds(299), Duration.ofMinutes(5)))
                    .isTrue();
            assertThat(CallbackSignature.verify(SECRET, h, body, now.plusSeconds(301), Duration.ofMinutes(5)))
                    .as("too old").isFalse();
            byte[] other = SECRET.clone();
            other[random.nextInt(other.length)] ^= 1;
            assertThat(CallbackSignature.verify(other, h, body, now, Duration.ofMinutes(5))).isFalse();
            if (body.length > 0) {
                byte[] changed = body.clone();
                changed[random.nextInt(body.length)] ^= (byte) (1 + random.nextInt(255));
                assertThat(CallbackSignature.verify(SECRET, h, changed, now, Duration.ofMinutes(5))).isFalse();
            }
        }
        assertThat(CallbackSignature.verify(SECRET, "t=x,v1=zz", new byte[0], now, Duration.ofMinutes(5))).isFalse();
        assertThat(CallbackSignature.verify(SECRET, null, new byte[0], now, Duration.ofMinutes(5))).isFalse();
    }

    static int freePort() throws java.io.IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
