package dev.scoreflow.server;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.api.internal.Json;
import dev.scoreflow.jobs.PostgresJobQueue;
import dev.scoreflow.jobs.RecordingQueue;
import dev.scoreflow.jobs.QueueSettings;
import dev.scoreflow.runtime.TestModels;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Request-acknowledge scoring end to end: jobs submitted over HTTP to a real server, queued in the machine's real
 * PostgreSQL, scored by a worker, read back; each result equal to the synchronous answer for the same request.
 */
class JobsOnPostgresTest {
    static final String URL = "jdbc:postgresql://127.0.0.1:5432/test";
    final List<AutoCloseable> open = new ArrayList<>();

    static PostgresJobQueue queue(String name) {
        return open(name + "-" + Long.toHexString(System.nanoTime()), QueueSettings.defaults());
    }

    /** Queue {@code exactName} of the machine's PostgreSQL, with {@code settings} and a 10-s lease. */
    static PostgresJobQueue open(String exactName, QueueSettings settings) {
        Properties p = new Properties();
        p.put("user", "postgres");
        return PostgresJobQueue.open(URL, p, exactName, settings.withVisibilityTimeout(Duration.ofSeconds(10)));
    }

    /**
     * What the jobs table holds for queue {@code name}: each job's result by id, failing the test if a job is there
     * twice or in any state but done.
     */
    static Map<String, byte[]> storedResults(String name) throws Exception {
        Map<String, byte[]> out = new java.util.HashMap<>();
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(URL, "postgres", null);
             java.sql.PreparedStatement s = c.prepareStatement("SELECT id::text, state, result FROM scoreflow_jobs "
                     + "WHERE queue = ?")) {
            s.setString(1, name);
            try (java.sql.ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    assertThat(rs.getString(2)).as(rs.getString(1)).isEqualTo("done");
                    assertThat(out.put(rs.getString(1), rs.getBytes(3))).as("a second row of " + rs.getString(1))
                            .isNull();
                }
            }
        }
        return out;
    }

    /** The synchronous answer to {@code rows}: what a job of them must store. */
    static byte[] scoredNow(ServerFixture fx, byte[] rows) throws Exception {
        HttpResponse<byte[]> r = fx.client.send(HttpRequest.newBuilder(fx.uri("/models/example/score"))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(rows)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    /** {@code 1} for each of {@code ids}: the count each job must have once. */
    static Map<String, Integer> oncePerJob(java.util.Collection<String> ids) {
        Map<String, Integer> once = new java.util.HashMap<>();
        ids.forEach(id -> once.put(id, 1));
        return once;
    }

    @AfterEach
    void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    <T extends AutoCloseable> T keep(T c) {
        open.add(c);
        return c;
    }

    static byte[] sampleRows() {
        float[] x = TestModels.sampleInput(TestModels.example());
        ByteBuffer b = SeedBinaryCodec.encode(FloatMatrix.of(x, x.length / 26, 26));
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    static Map<String, Object> json(String s) {
        return Json.parseObject(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)), "answer");
    }

    static HttpResponse<String> send(ServerFixture fx, String method, String path, byte[] body, String type)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(fx.uri(path)).timeout(Duration.ofSeconds(30));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        if (type != null) {
            b.header("Content-Type", type);
        }
        return fx.client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static Map<String, Object> awaitFinal(ServerFixture fx, String id) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            Map<String, Object> s = json(send(fx, "GET", "/jobs/" + id, null, null).body());
            String state = (String) s.get("state");
            if (!state.equals("queued") && !state.equals("running")) {
                return s;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("job " + id + " still " + state + " after 60 s");
            }
            Thread.sleep(50);
        }
    }

    @Test
    void aSeedJobIsAcceptedAtOnceScoredByAWorkerAndItsResultIsTheSynchronousAnswer() throws Exception {
        PostgresJobQueue q = keep(queue("seed"));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 2));
        byte[] rows = sampleRows();

        HttpResponse<String> accepted = send(fx, "PUT", "/models/example/jobs", rows, "application/octet-stream");
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        String id = (String) json(accepted.body()).get("id");
        assertThat(accepted.headers().firstValue("Location")).hasValue("/jobs/" + id);

        Map<String, Object> done = awaitFinal(fx, id);
        assertThat(done).containsEntry("state", "done").containsEntry("model", "example")
                .containsEntry("receives", 1.0).containsEntry("result_url", "/jobs/" + id + "/result");
        HttpResponse<byte[]> result = fx.client.send(HttpRequest.newBuilder(fx.uri("/jobs/" + id + "/result")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        HttpResponse<byte[]> direct = fx.client.send(HttpRequest.newBuilder(fx.uri("/models/example/score"))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(rows)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(result.statusCode()).isEqualTo(200);
        assertThat(result.headers().firstValue("Content-Type")).hasValue("application/octet-stream");
        assertThat(result.body()).isEqualTo(direct.body());
    }

    /**
     * Two hundred jobs, each of rows of its own, scored by two workers that have a queue instance each (as two worker
     * processes would): exactly once is checked from what the store holds (one done row per job, with the
     * synchronous answer to that job's own rows) and from what passed between each worker and its queue (each job
     * handed out once, its result stored once: never refused, never twice).
     */
    @Test
    void nJobsSubmittedOverHttpGiveNResultsEachStoredExactlyOnceByTwoWorkers() throws Exception {
        String name = "many-" + Long.toHexString(System.nanoTime());
        PostgresJobQueue q = keep(open(name, QueueSettings.defaults()));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        Map<String, byte[]> expected = new java.util.LinkedHashMap<>();
        for (int i = 0; i < 200; i++) {
            byte[] rows = SeedBinaryCodec.encode(FloatMatrix.of(TestModels.noisyRows(TestModels.example(), 3, 26,
                    1000 + i), 3, 26)).array();
            HttpResponse<String> accepted = send(fx, "PUT", "/models/example/jobs", rows, null);
            assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
            expected.put((String) json(accepted.body()).get("id"), scoredNow(fx, rows));
        }
        List<RecordingQueue> workers = List.of(new RecordingQueue(keep(open(name, QueueSettings.defaults()))),
                new RecordingQueue(keep(open(name, QueueSettings.defaults()))));
        JobWorker a = keep(JobWorker.start(ScoringServer.builder(fx.repository), workers.get(0), 2));
        JobWorker b = keep(JobWorker.start(ScoringServer.builder(fx.repository), workers.get(1), 2));
        for (String id : expected.keySet()) {
            assertThat(json(send(fx, "GET", "/jobs/" + id + "?wait=60s", null, null).body())).as(id)
                    .containsEntry("state", "done").containsEntry("receives", 1.0);
        }
        Map<String, byte[]> stored = storedResults(name);
        assertThat(stored.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
        expected.forEach((id, answer) -> assertThat(stored.get(id)).as(id).isEqualTo(answer));
        // the store answers GET a moment before the worker hears its answer
        await("every result's answer heard", () -> workers.stream().mapToInt(w -> w.outcomes().size()).sum()
                >= expected.size());
        assertThat(RecordingQueue.handedOutPerId(workers)).as("deliveries per job")
                .isEqualTo(oncePerJob(expected.keySet()));
        assertThat(RecordingQueue.resultsPerId(workers, RecordingQueue.Answer.STORED)).as("results stored per job")
                .isEqualTo(oncePerJob(expected.keySet()));
        assertThat(workers).as("both workers took jobs").allMatch(w -> !w.handedOut().isEmpty());
        await("the workers counted every result", () -> a.done() + b.done() >= expected.size());
        assertThat(a.done() + b.done()).isEqualTo(expected.size());
        System.out.printf("postgres jobs: worker a scored %d, worker b %d%n", a.done(), b.done());
    }

    @Test
    void aJobWhoseModelAlwaysFailsIsRetriedByTheWorkerWithBackoffAndDeadLetteredWithItsReason() throws Exception {
        PostgresJobQueue q = keep(open("dead-" + Long.toHexString(System.nanoTime()),
                QueueSettings.defaults().withMaxReceives(3)));
        ServerFixture fx = keep(new ServerFixture(JobsOverHttp.exampleAndFailing(), s -> s.jobs(q)));
        JobsOverHttp.assertTheWorkerDeadLettersAJobThatAlwaysFails(fx, q);
        assertThat(q.receive(1, Duration.ofMillis(500))).as("not delivered again").isEmpty();
    }

    @Test
    void aFifoGroupIsScoredInSubmissionOrderAcrossTwoWorkersEvenWithARetry() throws Exception {
        String name = "fifo-" + Long.toHexString(System.nanoTime());
        QueueSettings fifo = QueueSettings.defaults().withFifo(true);
        PostgresJobQueue q = keep(open(name, fifo));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        JobsOverHttp.assertAFifoGroupKeptInOrderAcrossTwoWorkers(fx, List.of(open(name, fifo), open(name, fifo)),
                true);
    }

    @Test
    void aV2JobCarriesItsJsonResultInItsState() throws Exception {
        PostgresJobQueue q = keep(queue("v2"));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 1));
        float[] x = TestModels.sampleInput(TestModels.example());
        StringBuilder data = new StringBuilder();
        for (int i = 0; i < 2 * 26; i++) {
            data.append(i == 0 ? "" : ",").append(x[i]);
        }
        byte[] body = ("{\"id\":\"r1\",\"inputs\":[{\"name\":\"float_input\",\"datatype\":\"FP32\",\"shape\":[2,26],"
                + "\"data\":[" + data + "]}]}").getBytes(StandardCharsets.UTF_8);
        HttpResponse<String> accepted = send(fx, "POST", "/v2/models/example/jobs", body, "application/json");
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        Map<String, Object> done = awaitFinal(fx, (String) json(accepted.body()).get("id"));
        assertThat(done).containsEntry("state", "done");
        HttpResponse<String> direct = send(fx, "POST", "/v2/models/example/infer", body, "application/json");
        assertThat(done.get("result")).isEqualTo(json(direct.body()));
    }

    @Test
    void aLongPollAnswersAsSoonAsTheJobIsDoneOrWithItsStateWhenTheWaitIsOver() throws Exception {
        PostgresJobQueue q = keep(queue("poll"));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        String id = (String) json(send(fx, "PUT", "/models/example/jobs", sampleRows(), null).body()).get("id");
        long start = System.nanoTime();
        HttpResponse<String> still = send(fx, "GET", "/jobs/" + id + "?wait=1s", null, null);
        assertThat(json(still.body())).containsEntry("state", "queued");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(900));

        var waiting = fx.client.sendAsync(HttpRequest.newBuilder(fx.uri("/jobs/" + id + "?wait=60s")).build(),
                HttpResponse.BodyHandlers.ofString());
        await("the request waiting on the server", () -> fx.server.jobsWaiting() == 1);
        assertThat(fx.server.metricsText()).contains("scoreflow_jobs_waiting 1.0\n");
        long workerStart = System.nanoTime();
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 1));
        HttpResponse<String> done = waiting.get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(json(done.body())).containsEntry("state", "done");
        assertThat(Duration.ofNanos(System.nanoTime() - workerStart)).isLessThan(Duration.ofSeconds(15));
        assertThat(fx.server.jobsWaiting()).isZero();
        assertThat(send(fx, "GET", "/jobs/" + id + "?wait=soon", null, null).statusCode()).isEqualTo(400);
        assertThat(send(fx, "GET", "/jobs/" + id + "?wait=10m", null, null).body()).contains("at most 120 s");
    }

    @Test
    void fiveThousandLongPollsWaitOnOneServerWithoutAThreadEach() throws Exception {
        PostgresJobQueue q = keep(queue("many"));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        int jobs = 50;
        int waiters = 5_000;
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < jobs; i++) {
            ids.add((String) json(send(fx, "PUT", "/models/example/jobs", sampleRows(), null).body()).get("id"));
        }
        // the waiters' client: a few threads of its own (the default one starts a thread per pending answer)
        java.util.concurrent.ExecutorService clientThreads = java.util.concurrent.Executors.newFixedThreadPool(4);
        java.net.http.HttpClient client = java.net.http.HttpClient.newBuilder()
                .version(java.net.http.HttpClient.Version.HTTP_1_1).executor(clientThreads).build();
        open.add(clientThreads::shutdownNow);
        int threadsBefore = Thread.activeCount();
        System.gc();
        long heapBefore = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> polls = new ArrayList<>();
        for (int i = 0; i < waiters; i++) {
            polls.add(client.sendAsync(HttpRequest.newBuilder(fx.uri("/jobs/" + ids.get(i % jobs) + "?wait=120s"))
                    .timeout(Duration.ofSeconds(150)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        await("5,000 requests waiting", () -> fx.server.jobsWaiting() == waiters);
        int threadsWaiting = Thread.activeCount();
        long heapWaiting = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        System.out.printf("long polling: %,d waiters; threads %d -> %d; heap %,d -> %,d bytes (client and server in "
                + "this JVM)%n", waiters, threadsBefore, threadsWaiting, heapBefore, heapWaiting);
        // the client's and the server's event loops, the jobs' pools: a few dozen threads, not one per waiter
        assertThat(threadsWaiting - threadsBefore).isLessThan(50);
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 2));
        for (var p : polls) {
            assertThat(json(p.get(60, java.util.concurrent.TimeUnit.SECONDS).body())).containsEntry("state", "done");
        }
        assertThat(fx.server.jobsWaiting()).isZero();
    }

    @Test
    void aStoppingServerAnswersItsLongPollsAtOnceInsteadOfHoldingTheDrain() throws Exception {
        PostgresJobQueue q = keep(queue("stop"));
        ServerFixture fx = new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q));
        String id = (String) json(send(fx, "PUT", "/models/example/jobs", sampleRows(), null).body()).get("id");
        var waiting = fx.client.sendAsync(HttpRequest.newBuilder(fx.uri("/jobs/" + id + "?wait=120s")).build(),
                HttpResponse.BodyHandlers.ofString());
        await("the request waiting on the server", () -> fx.server.jobsWaiting() == 1);
        long start = System.nanoTime();
        assertThat(fx.server.shutdown(Duration.ofSeconds(60))).as("drained cleanly").isTrue();
        HttpResponse<String> answer = waiting.get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(answer.statusCode()).isEqualTo(503);
        assertThat(answer.body()).contains("ask again");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(20));
    }

    static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 60 s: " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void aSubmissionThatCouldNotRunIsRefusedAtOnceNamingTheProblem() throws Exception {
        PostgresJobQueue q = keep(queue("bad"));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        HttpResponse<String> shape = send(fx, "PUT", "/models/example/jobs", new byte[7], null);
        assertThat(shape.statusCode()).isEqualTo(400);
        assertThat(shape.body()).contains("multiple");
        HttpResponse<String> model = send(fx, "PUT", "/models/nope/jobs", new byte[104], null);
        assertThat(model.statusCode()).isEqualTo(404);
        HttpResponse<String> v2 = send(fx, "POST", "/v2/models/example/jobs",
                "{\"inputs\": 3}".getBytes(StandardCharsets.UTF_8), "application/json");
        assertThat(v2.statusCode()).as(v2.body()).isEqualTo(400);
        HttpResponse<String> empty = send(fx, "PUT", "/models/example/jobs", new byte[0], null);
        assertThat(empty.statusCode()).isEqualTo(400);
        assertThat(empty.body()).contains("empty body");
        assertThat(q.receive(10, Duration.ZERO)).as("nothing was queued").isEmpty();
    }

    @Test
    void aQueuedJobCanBeCancelledAndUnknownJobsAreNotFound() throws Exception {
        PostgresJobQueue q = keep(queue("cancel"));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        // no worker: the job stays queued
        String id = (String) json(send(fx, "PUT", "/models/example/jobs", sampleRows(), null).body()).get("id");
        HttpResponse<String> early = send(fx, "GET", "/jobs/" + id + "/result", null, null);
        assertThat(early.statusCode()).isEqualTo(409);
        assertThat(early.body()).contains("is queued");
        HttpResponse<String> cancelled = send(fx, "DELETE", "/jobs/" + id, null, null);
        assertThat(cancelled.statusCode()).isEqualTo(200);
        assertThat(json(send(fx, "GET", "/jobs/" + id, null, null).body())).containsEntry("state", "cancelled");
        assertThat(send(fx, "DELETE", "/jobs/" + id, null, null).statusCode()).isEqualTo(409);
        assertThat(send(fx, "GET", "/jobs/0b7c5a4e-0000-4000-8000-000000000000", null, null).statusCode())
                .isEqualTo(404);
        assertThat(send(fx, "GET", "/jobs/not-an-id", null, null).statusCode()).isEqualTo(404);
    }

    @Test
    void aRetriedSubmissionWithItsIdempotencyKeyGetsTheSameJob() throws Exception {
        PostgresJobQueue q = keep(queue("idem"));
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> s.jobs(q)));
        HttpRequest r = HttpRequest.newBuilder(fx.uri("/models/example/jobs")).header("Idempotency-Key", "order-7")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(sampleRows())).build();
        Map<String, Object> first = json(fx.client.send(r, HttpResponse.BodyHandlers.ofString()).body());
        Map<String, Object> again = json(fx.client.send(r, HttpResponse.BodyHandlers.ofString()).body());
        assertThat(first).containsEntry("created", true);
        assertThat(again).containsEntry("created", false).containsEntry("id", first.get("id"));
    }

    @Test
    void aServerWithoutAQueueSaysJobsAreNotEnabled() throws Exception {
        ServerFixture fx = keep(new ServerFixture(r -> r.model("example", TestModels.example()), s -> { }));
        HttpResponse<String> r = send(fx, "PUT", "/models/example/jobs", sampleRows(), null);
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(r.body()).contains("jobs are not enabled");
    }
}
