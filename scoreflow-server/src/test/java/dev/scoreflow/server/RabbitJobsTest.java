package dev.scoreflow.server;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobQueues;
import dev.scoreflow.jobs.RecordingQueue;
import dev.scoreflow.runtime.ChildJvm;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static dev.scoreflow.server.JobsFailuresTest.awaitDone;
import static dev.scoreflow.server.JobsFailuresTest.get;
import static dev.scoreflow.server.JobsFailuresTest.put;
import static dev.scoreflow.server.JobsOnPostgresTest.await;
import static dev.scoreflow.server.JobsOnPostgresTest.json;
import static dev.scoreflow.server.JobsOnPostgresTest.oncePerJob;
import static dev.scoreflow.server.JobsOnPostgresTest.sampleRows;
import static dev.scoreflow.server.JobsOverHttp.jobState;
import static dev.scoreflow.server.JobsOverHttp.submit;
import static dev.scoreflow.server.JobsOverHttp.submitOnceAccepting;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Request-acknowledge scoring on RabbitMQ, end to end: jobs submitted over HTTP to a real server, queued on the
 * machine's real RabbitMQ (127.0.0.1:5672) with their states and results in its real PostgreSQL, scored by workers
 * (threads with queues of their own, a child JVM that is SIGKILLed), each result stored exactly once. One test
 * restarts RabbitMQ itself ({@code rabbitmqctl stop_app} / {@code start_app}).
 */
class RabbitJobsTest {
    static final String STORE = "postgresql://postgres@127.0.0.1:5432/test";
    final List<AutoCloseable> open = new ArrayList<>();

    final List<String> queues = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        // quorum queues cost the broker a Raft group each: leave none behind
        try (Connection c = connect(); Channel ch = c.createChannel()) {
            for (String q : queues) {
                for (String suffix : List.of("", ".dead", ".retry.100", ".retry.200", ".retry.500", ".retry.1000")) {
                    ch.queueDelete(q + suffix);
                }
                for (String suffix : List.of(".dlx", ".finished", ".events")) {
                    ch.exchangeDelete(q + suffix);
                }
            }
        }
    }

    static Connection connect() throws Exception {
        ConnectionFactory f = new ConnectionFactory();
        f.setHost("127.0.0.1");
        f.setConnectionTimeout(5000);
        return f.newConnection("rabbit-jobs-test");
    }

    <T extends AutoCloseable> T keep(T c) {
        open.add(c);
        return c;
    }

    static String url(int port, String queue, String settings) {
        return "amqp://guest:guest@127.0.0.1:" + port + "/?store=" + STORE + "&queue=" + queue
                + (settings.isEmpty() ? "" : "&" + settings);
    }

    static String url(String queue, String settings) {
        return url(5672, queue, settings);
    }

    String name(String what) {
        String q = "rabbit-" + what + "-" + Long.toHexString(System.nanoTime());
        queues.add(q);
        return q;
    }

    ServerFixture server(JobQueue q) {
        return keep(new ServerFixture(JobsOverHttp.exampleAndFailing(), s -> s.jobs(q)));
    }

    /** Messages ready in a queue of the machine's RabbitMQ. */
    static long messages(String queue) throws Exception {
        try (Connection c = connect(); Channel ch = c.createChannel()) {
            return ch.messageCount(queue);
        }
    }

    @Test
    void nJobsSubmittedOverHttpGiveNResultsEachStoredExactlyOnceByTwoWorkers() throws Exception {
        String queue = name("many");
        JobQueue q = keep(JobQueues.open(url(queue, "visibility=10s")));
        ServerFixture fx = server(q);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            ids.add(submit(fx));
        }
        // two workers with queues of their own, as two worker processes would have; what each was handed and what
        // the store answered to each result is recorded per job
        List<RecordingQueue> workers = List.of(new RecordingQueue(keep(JobQueues.open(url(queue, "visibility=10s")))),
                new RecordingQueue(keep(JobQueues.open(url(queue, "visibility=10s")))));
        JobWorker a = keep(JobWorker.start(ScoringServer.builder(fx.repository), workers.get(0), 2));
        JobWorker b = keep(JobWorker.start(ScoringServer.builder(fx.repository), workers.get(1), 2));
        for (String id : ids) {
            Map<String, Object> s = json(get(fx, "/jobs/" + id + "?wait=60s").body());
            assertThat(s).as(id).containsEntry("state", "done").containsEntry("receives", 1.0);
        }
        // the store answers GET a moment before the worker hears its answer
        await("every result's answer heard", () -> workers.stream().mapToInt(w -> w.outcomes().size()).sum()
                >= ids.size());
        assertThat(RecordingQueue.handedOutPerId(workers)).as("deliveries per job").isEqualTo(oncePerJob(ids));
        assertThat(RecordingQueue.resultsPerId(workers, RecordingQueue.Answer.STORED)).as("results stored per job")
                .isEqualTo(oncePerJob(ids));
        assertThat(workers).as("both workers took jobs").allMatch(w -> !w.handedOut().isEmpty());
        await("the workers counted every result", () -> a.done() + b.done() >= ids.size());
        assertThat(a.done() + b.done()).isEqualTo(ids.size());
        assertThat(messages(queue)).as("every delivery acknowledged").isZero();
        System.out.printf("rabbit jobs: worker a scored %d, worker b %d%n", a.done(), b.done());
    }

    @Test
    void aJobWhoseWorkerProcessIsSigkilledMidJobIsDeliveredAgainAtOnceAndScoredOnce() throws Exception {
        String queue = name("killed");
        String url = url(queue, "visibility=60s");
        JobQueue q = keep(JobQueues.open(url));
        ServerFixture fx = server(q);
        String id = submit(fx);
        Process holder = new ProcessBuilder(ChildJvm.command(List.of("-Xmx256m"), QueueLeaseHolder.class.getName(),
                url)).redirectErrorStream(true).start();
        try {
            assertThat(QueueLeaseHolder.said(holder, Duration.ofSeconds(90))).isEqualTo("holding " + id);
            await("the server sees the job running", () -> "running".equals(jobState(fx, id)));
        } finally {
            holder.destroyForcibly(); // SIGKILL: the kernel closes its socket, the broker requeues its job
            assertThat(holder.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        long killed = System.nanoTime();
        JobWorker w = keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 1));
        Map<String, Object> done = json(get(fx, "/jobs/" + id + "?wait=60s").body());
        assertThat(done).containsEntry("state", "done").containsEntry("receives", 2.0);
        Duration after = Duration.ofNanos(System.nanoTime() - killed);
        assertThat(after).as("redelivered on the connection's close, not after the 60-s visibility timeout")
                .isLessThan(Duration.ofSeconds(30));
        await("the worker counts it", () -> w.done() >= 1);
        assertThat(w.done()).isEqualTo(1);
        System.out.printf("rabbit jobs: redelivered and done %d ms after the SIGKILL%n", after.toMillis());
    }

    @Test
    void aJobWhoseModelAlwaysFailsIsRetriedByTheWorkerWithBackoffAndDeadLetteredWithItsReason() throws Exception {
        String queue = name("dead");
        JobQueue q = keep(JobQueues.open(url(queue, "visibility=5s&max-receives=3")));
        ServerFixture fx = server(q);
        JobsOverHttp.assertTheWorkerDeadLettersAJobThatAlwaysFails(fx, q);
        await("the message in the dead-letter queue", () -> {
            try {
                return messages(queue + ".dead") == 1;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertThat(q.receive(1, Duration.ofMillis(500))).as("not delivered again").isEmpty();
    }

    @Test
    void aFifoQueueScoresItsJobsInSubmissionOrderAcrossTwoWorkersEvenWithARetry() throws Exception {
        String queue = name("fifo");
        String url = url(queue, "visibility=10s&fifo=true");
        ServerFixture fx = server(keep(JobQueues.open(url)));
        JobsOverHttp.assertAFifoGroupKeptInOrderAcrossTwoWorkers(fx, List.of(JobQueues.open(url),
                JobQueues.open(url)), true);
    }

    @Test
    void whileTheBrokerIsUnreachableSubmissionsGet503NeverA202AndItRecovers() throws Exception {
        TcpProxy broker = keep(new TcpProxy("127.0.0.1", 5672));
        String queue = name("down");
        JobQueue q = keep(JobQueues.open(url(broker.port(), queue, "visibility=10s")));
        ServerFixture fx = server(q);
        String before = submit(fx);
        broker.stop();
        long start = System.nanoTime();
        JobsOverHttp.assertRefusedWhileDown(fx);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("refused within seconds, not hung")
                .isLessThan(Duration.ofSeconds(40));
        broker.start();
        String after = submitOnceAccepting(fx);
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 1));
        for (String id : List.of(before, after)) {
            assertThat(awaitDone(fx, id)).as(id).containsEntry("state", "done");
        }
        assertThat(messages(queue)).as("a refused submission left no message behind").isZero();
    }

    /**
     * The machine's RabbitMQ itself is stopped ({@code rabbitmqctl stop_app}) while workers are scoring, and started
     * again: while it is down submissions are refused (503), and every accepted job still ends done, its result
     * stored once.
     */
    @Test
    @Tag("slow")
    void everyAcceptedJobIsScoredOnceWhenRabbitmqRestartsMidFlight() throws Exception {
        String queue = name("restart");
        JobQueue q = keep(JobQueues.open(url(queue, "visibility=10s&max-receives=20")));
        ServerFixture fx = server(q);
        // enough jobs, and a worker held to one unacknowledged job per consumer, that the broker's stop (an Erlang
        // command line: a second or two) lands while most are still queued, however fast this machine scores
        List<String> ids = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.ExecutorService submitters = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                fs.add(submitters.submit(() -> {
                    for (int i = 0; i < 250; i++) {
                        ids.add(submit(fx));
                    }
                    return null;
                }));
            }
            for (var f : fs) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            submitters.shutdownNow();
        }
        JobWorker worker = keep(JobWorker.start(ScoringServer.builder(fx.repository),
                keep(JobQueues.open(url(queue, "visibility=10s&max-receives=20&prefetch=1"))), 2));
        await("scoring under way", () -> worker.done() >= 40);
        rabbitmqctl("stop_app");
        try {
            System.out.printf("RabbitMQ stopped with %d of %d jobs done%n", worker.done(), ids.size());
            assertThat(worker.done()).as("stopped mid-flight").isLessThan(ids.size());
            HttpResponse<String> refused = put(fx, "/models/example/jobs", sampleRows());
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
        } finally {
            rabbitmqctl("start_app");
        }
        ids.add(submitOnceAccepting(fx));
        for (String id : ids) {
            assertThat(awaitDone(fx, id)).as(id).containsEntry("state", "done");
        }
        await("every stored result counted", () -> worker.done() >= ids.size());
        assertThat(worker.done()).as("one stored result per job").isEqualTo(ids.size());
    }

    static void rabbitmqctl(String command) throws Exception {
        java.nio.file.Path log = java.nio.file.Files.createTempFile("rabbitmqctl-", ".log");
        try {
            Process p = new ProcessBuilder("rabbitmqctl", command).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            boolean ended = p.waitFor(120, TimeUnit.SECONDS);
            if (!ended) {
                p.destroyForcibly();
            }
            String out = java.nio.file.Files.readString(log);
            assertThat(ended).as("rabbitmqctl " + command + " within 120 s: " + out).isTrue();
            assertThat(p.exitValue()).as(out).isZero();
        } finally {
            java.nio.file.Files.deleteIfExists(log);
        }
    }
}
