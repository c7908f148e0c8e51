package dev.scoreflow.server;

import dev.scoreflow.jobs.FifoWorkers;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.RecordingQueue;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.RowSumLoader;
import dev.scoreflow.runtime.TestModels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static dev.scoreflow.server.JobsFailuresTest.get;
import static dev.scoreflow.server.JobsFailuresTest.put;
import static dev.scoreflow.server.JobsOnPostgresTest.json;
import static dev.scoreflow.server.JobsOnPostgresTest.sampleRows;
import static org.assertj.core.api.Assertions.assertThat;

/** What the per-broker jobs tests do over a server's HTTP jobs API, on any queue. */
final class JobsOverHttp {
    private JobsOverHttp() {
    }

    /** What the engine of model {@code failing} says on every call. */
    static final String ENGINE_ERROR = "the engine lost its accelerator";
    private static Path failingModel;

    /** The models of the per-broker tests: {@code example}, and {@code failing} (26 features, fails every call). */
    static Consumer<ModelRepository.Builder> exampleAndFailing() {
        return r -> r.model("example", TestModels.example()).model("failing", failingModel());
    }

    private static synchronized Path failingModel() {
        if (failingModel == null) {
            try {
                Path dir = Files.createTempDirectory("scoreflow-failing-model");
                dir.toFile().deleteOnExit();
                failingModel = RowSumLoader.writeFailing(dir, 26, ENGINE_ERROR);
                failingModel.toFile().deleteOnExit();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return failingModel;
    }

    /** Submits the sample rows as a job of model {@code example}; asserts 202 and returns the id. */
    static String submit(ServerFixture fx) throws Exception {
        return submit(fx, "example");
    }

    /** Submits the sample rows as a job of {@code model}; asserts 202 and returns the id. */
    static String submit(ServerFixture fx, String model) throws Exception {
        HttpResponse<String> r = put(fx, "/models/" + model + "/jobs", sampleRows());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        return (String) json(r.body()).get("id");
    }

    /**
     * A job of model {@code failing} submitted over HTTP to {@code fx} (its models {@link #exampleAndFailing()}),
     * taken by a {@link JobWorker} on {@code workerQueue}: the worker's own failure path fails every attempt (the
     * model answers 500), retries it after its backoff (0.5 s, then 1 s), and the queue dead-letters it at its
     * maximum of receives with the reason that {@code GET /jobs/{id}} shows. Asserts each of those steps from the
     * deliveries and outcomes the queue saw; returns the job's final state.
     */
    static Map<String, Object> assertTheWorkerDeadLettersAJobThatAlwaysFails(ServerFixture fx, JobQueue workerQueue)
            throws Exception {
        int max = workerQueue.settings().maxReceives();
        String id = submit(fx, "failing");
        RecordingQueue seen = new RecordingQueue(workerQueue);
        try (JobWorker worker = JobWorker.start(ScoringServer.builder(fx.repository), seen, 1)) {
            Map<String, Object> dead = json(get(fx, "/jobs/" + id + "?wait=60s").body());
            assertThat(dead).containsEntry("state", "dead_lettered").containsEntry("receives", (double) max)
                    .containsEntry("error", "HTTP 500: " + ENGINE_ERROR);
            List<RecordingQueue.HandedOut> attempts = seen.handedOut();
            assertThat(attempts).extracting(RecordingQueue.HandedOut::receives)
                    .containsExactlyElementsOf(java.util.stream.IntStream.rangeClosed(1, max).boxed().toList());
            for (int i = 1; i < attempts.size(); i++) {
                Duration gap = Duration.ofNanos(attempts.get(i).atNanos() - attempts.get(i - 1).atNanos());
                assertThat(gap).as("attempt %d came after the worker's backoff", i + 1)
                        .isGreaterThanOrEqualTo(Duration.ofMillis(500L << (i - 1)));
            }
            // the store answers GET with the dead letter a moment before the worker hears that it was stored
            JobsOnPostgresTest.await("every outcome answered", () -> seen.outcomes().size() >= max);
            assertThat(seen.outcomes()).as("each attempt failed and stored as such, no result")
                    .containsExactlyElementsOf(java.util.stream.IntStream.rangeClosed(1, max).mapToObj(n ->
                            new RecordingQueue.Outcome(id, n, "HTTP 500: " + ENGINE_ERROR,
                                    RecordingQueue.Answer.STORED)).toList());
            assertThat(worker.failed()).isEqualTo(max);
            assertThat(worker.done()).isZero();
            return dead;
        }
    }

    /** Three submissions while the queue's broker is down: each a 503 with Retry-After naming the queue. */
    static void assertRefusedWhileDown(ServerFixture fx) throws Exception {
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> refused = put(fx, "/models/example/jobs", sampleRows());
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
            assertThat(refused.headers().firstValue("Retry-After")).isPresent();
            assertThat(refused.body()).contains("the job queue is unavailable");
        }
    }

    /** Submits until the queue accepts again (within 60 s); every answer must be 503 or 202. */
    static String submitOnceAccepting(ServerFixture fx) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            HttpResponse<String> r = put(fx, "/models/example/jobs", sampleRows());
            assertThat(r.statusCode()).as(r.body()).isIn(202, 503);
            if (r.statusCode() == 202) {
                return (String) json(r.body()).get("id");
            }
            assertThat(System.nanoTime()).as("accepting again within 60 s").isLessThan(deadline);
            Thread.sleep(100); // the queue's client reconnects on its own schedule
        }
    }

    /**
     * Forty jobs of one group ({@code Scoreflow-Job-Group: account-7}) submitted over HTTP to {@code fx}, taken by
     * {@link FifoWorkers} on {@code workerQueues} (two instances, as two worker processes would hold; closed here),
     * the 6th, 18th and 31st failing once: asserts the group was completed in submission order, both workers took
     * jobs, one handed over, and no job was held beside another or taken before its predecessor was stored done
     * (that last check only if the queue's reads see its own writes: {@code storeReadsItsWrites}).
     */
    static FifoWorkers assertAFifoGroupKeptInOrderAcrossTwoWorkers(ServerFixture fx, List<JobQueue> workerQueues,
                                                                   boolean storeReadsItsWrites) throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            HttpResponse<String> r = fx.client.send(java.net.http.HttpRequest.newBuilder(fx.uri("/models/example/jobs"))
                    .timeout(Duration.ofSeconds(30)).header("Scoreflow-Job-Group", "account-7")
                    .PUT(java.net.http.HttpRequest.BodyPublishers.ofByteArray(sampleRows())).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
            ids.add((String) json(r.body()).get("id"));
        }
        FifoWorkers run = FifoWorkers.run(workerQueues, ids, java.util.Set.of(ids.get(5), ids.get(17), ids.get(30)),
                42, storeReadsItsWrites);
        System.out.printf("FIFO: jobs taken per worker %s, worker %d handed over, %d calls cut%n", run.takes(),
                run.handedOverBy(), run.cut());
        run.assertKeptInOrder(ids, 3);
        for (String id : ids) {
            assertThat(json(get(fx, "/jobs/" + id + "?wait=30s").body())).as(id).containsEntry("state", "done");
        }
        return run;
    }

    static String jobState(ServerFixture fx, String id) {
        try {
            return (String) json(get(fx, "/jobs/" + id).body()).get("state");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
