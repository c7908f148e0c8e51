package dev.scoreflow.server;

import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobQueues;
import dev.scoreflow.jobs.RecordingQueue;
import dev.scoreflow.runtime.ChildJvm;
import dev.scoreflow.streaming.EmbeddedBroker;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static dev.scoreflow.server.JobsFailuresTest.get;
import static dev.scoreflow.server.JobsOnPostgresTest.await;
import static dev.scoreflow.server.JobsOnPostgresTest.json;
import static dev.scoreflow.server.JobsOverHttp.jobState;
import static dev.scoreflow.server.JobsOverHttp.submit;
import static dev.scoreflow.server.JobsOverHttp.submitOnceAccepting;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Request-acknowledge scoring on Kafka, end to end: jobs submitted over HTTP to a real server, queued on the embedded
 * KRaft broker, scored by workers (threads, other queue instances, a child JVM that is SIGKILLed), each result in the
 * state topic exactly once. Session timeouts are short (the broker allows 500 ms) so redeliveries take seconds.
 */
class KafkaJobsTest {
    /** The broker lets consumer sessions be this short: the tests' visibility timeouts. */
    static final Map<String, String> SHORT_SESSIONS = Map.of("group.min.session.timeout.ms", "500",
            "transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000");
    @TempDir
    static Path dir;
    static EmbeddedBroker broker;
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeAll
    static void startBroker() {
        broker = EmbeddedBroker.start(dir.resolve("kafka"), "127.0.0.1", 0, SHORT_SESSIONS);
    }

    @AfterAll
    static void stopBroker() {
        broker.close();
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

    static String url(String queue, String settings) {
        return "kafka://" + broker.bootstrapServers() + "?queue=" + queue + (settings.isEmpty() ? "" : "&" + settings);
    }

    static String name(String what) {
        return what + "-" + Long.toHexString(System.nanoTime());
    }

    ServerFixture server(JobQueue q) {
        return keep(new ServerFixture(JobsOverHttp.exampleAndFailing(), s -> s.jobs(q)));
    }

    /** Every committed record of {@code topic}, from its beginning to its end as it is now. */
    static List<ConsumerRecord<byte[], byte[]>> readAll(String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = new ArrayList<>();
            c.partitionsFor(topic, Duration.ofSeconds(10)).forEach(i -> parts.add(new TopicPartition(topic, i.partition())));
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts, Duration.ofSeconds(10));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                assertThat(System.nanoTime()).as(topic + " read within 30 s").isLessThan(deadline);
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    /** The queue's state topic as (job id, state) in order. */
    static List<String[]> stateRecords(String queue) {
        List<String[]> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : readAll("scoreflow.jobs." + queue + ".state")) {
            // the state name sits after the version byte and the model (a modified-UTF-8 string)
            java.io.DataInputStream in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(r.value()));
            try {
                in.readByte();
                in.readUTF();
                out.add(new String[]{new String(r.key(), StandardCharsets.UTF_8), in.readUTF()});
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
        }
        return out;
    }

    static Map<String, Integer> doneCounts(String queue) {
        Map<String, Integer> n = new HashMap<>();
        for (String[] r : stateRecords(queue)) {
            if (r[1].equals("done")) {
                n.merge(r[0], 1, Integer::sum);
            }
        }
        return n;
    }

    @Test
    void nJobsSubmittedOverHttpGiveNResultsEachStoredExactlyOnceByTwoWorkers() throws Exception {
        String queue = name("many");
        JobQueue q = keep(JobQueues.open(url(queue, "visibility=3s")));
        ServerFixture fx = server(q);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            ids.add(submit(fx));
        }
        // two workers in this JVM with queues of their own: two members of the consumer group, as two worker
        // processes would be
        JobWorker a = keep(JobWorker.start(ScoringServer.builder(fx.repository), keep(JobQueues.open(url(queue,
                "visibility=3s"))), 2));
        JobWorker b = keep(JobWorker.start(ScoringServer.builder(fx.repository), keep(JobQueues.open(url(queue,
                "visibility=3s"))), 2));
        for (String id : ids) {
            Map<String, Object> s = json(get(fx, "/jobs/" + id + "?wait=60s").body());
            assertThat(s).as(id).containsEntry("state", "done");
        }
        Map<String, Integer> done = doneCounts(queue);
        assertThat(done.keySet()).containsExactlyInAnyOrderElementsOf(ids);
        assertThat(done.values()).allMatch(n -> n == 1);
        // a worker counts a job once its batch is committed, a moment after the committed state answers GET
        JobsOnPostgresTest.await("every stored result counted", () -> a.done() + b.done() >= ids.size());
        assertThat(a.done() + b.done()).isEqualTo(ids.size());
        System.out.printf("kafka jobs: worker a scored %d, worker b %d%n", a.done(), b.done());
    }

    @Test
    void aJobWhoseWorkerProcessIsSigkilledMidJobIsDeliveredAgainAfterTheSessionTimeoutAndScoredOnce()
            throws Exception {
        String queue = name("killed");
        String url = url(queue, "visibility=2s");
        JobQueue q = keep(JobQueues.open(url));
        ServerFixture fx = server(q);
        String id = submit(fx);
        Process holder = new ProcessBuilder(ChildJvm.command(List.of("-Xmx256m"), QueueLeaseHolder.class.getName(),
                url)).redirectErrorStream(true).start();
        try {
            assertThat(QueueLeaseHolder.said(holder, Duration.ofSeconds(90))).isEqualTo("holding " + id);
            await("the server sees the job running", () -> "running".equals(jobState(fx, id)));
        } finally {
            holder.destroyForcibly(); // SIGKILL: no leave-group, no commit; the session simply times out
            assertThat(holder.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        long killed = System.nanoTime();
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 1));
        Map<String, Object> done = json(get(fx, "/jobs/" + id + "?wait=60s").body());
        assertThat(done).containsEntry("state", "done").containsEntry("receives", 2.0);
        System.out.printf("kafka jobs: redelivered and done %d ms after the SIGKILL%n",
                Duration.ofNanos(System.nanoTime() - killed).toMillis());
        assertThat(doneCounts(queue)).containsExactly(Map.entry(id, 1));
    }

    @Test
    void aJobWhoseModelAlwaysFailsIsRetriedByTheWorkerWithBackoffAndDeadLetteredWithItsReason() throws Exception {
        String queue = name("dead");
        JobQueue q = keep(JobQueues.open(url(queue, "visibility=2s&max-receives=3")));
        ServerFixture fx = server(q);
        String id = (String) JobsOverHttp.assertTheWorkerDeadLettersAJobThatAlwaysFails(fx, q).get("id");
        assertThat(deadLetters(queue)).containsExactly(id + ": HTTP 500: " + JobsOverHttp.ENGINE_ERROR);
        assertThat(q.receive(1, Duration.ofMillis(500))).as("not delivered again").isEmpty();
    }

    /**
     * A worker stopped (closed, as Ctrl-C stops {@code scoreflow worker}) and a new one started on the same queue:
     * the group's committed offsets cover only jobs the first one finished, the new one hands none of those out
     * again, and it takes every job the first did not finish (those it never read, and those it held when stopped).
     */
    @Test
    void aNewWorkerResumesFromTheOffsetsAStoppedOneCommitted() throws Exception {
        String queue = name("resume");
        String url = url(queue, "visibility=3s");
        ServerFixture fx = server(keep(JobQueues.open(url)));
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            ids.add(submit(fx));
        }
        JobQueue firstQueue = keep(JobQueues.open(url));
        RecordingQueue first = new RecordingQueue(firstQueue);
        JobWorker a = JobWorker.start(ScoringServer.builder(fx.repository), first, 1);
        await("the first worker finished some", () -> first.resultsPerId(RecordingQueue.Answer.STORED).size() >= 30);
        a.close();
        firstQueue.close(); // its consumer commits what it finished and leaves the group
        // finished: what the state topic holds as done. Closing the queue commits outcomes still in flight, whose
        // answers the stopped worker no longer waited for, so what it saw stored is a subset
        Set<String> finished = doneCounts(queue).keySet();
        assertThat(first.resultsPerId(RecordingQueue.Answer.STORED).keySet()).as("stored as the worker saw")
                .isSubsetOf(finished);
        assertThat(finished.size()).as("stopped mid-way").isLessThan(ids.size());
        Set<String> committed = jobsBelowCommittedOffsets(queue);
        // a job the stopping worker gave up on (its attempt cut by the close) went to the retry topic in the
        // transaction that moved the offset past it: below the offsets, every job is done or queued again
        Set<String> doneOrRequeued = new java.util.HashSet<>(finished);
        for (ConsumerRecord<byte[], byte[]> r : readAll("scoreflow.jobs." + queue + ".retry")) {
            doneOrRequeued.add(new String(r.headers().lastHeader("scoreflow-id").value(), StandardCharsets.UTF_8));
        }
        assertThat(committed).as("jobs below the committed offsets").isNotEmpty().isSubsetOf(doneOrRequeued);

        RecordingQueue second = new RecordingQueue(keep(JobQueues.open(url)));
        keep(JobWorker.start(ScoringServer.builder(fx.repository), second, 1));
        for (String id : ids) {
            assertThat(json(get(fx, "/jobs/" + id + "?wait=60s").body())).as(id).containsEntry("state", "done");
        }
        Set<String> unfinished = new java.util.HashSet<>(ids);
        unfinished.removeAll(finished);
        assertThat(second.handedOutPerId().keySet()).as("jobs handed to the second worker")
                .doesNotContainAnyElementsOf(finished).containsExactlyInAnyOrderElementsOf(unfinished);
        assertThat(doneCounts(queue)).as("done records per job").isEqualTo(JobsOnPostgresTest.oncePerJob(ids));
        System.out.printf("kafka resume: the first worker finished %d jobs (%d below the committed offsets), the "
                + "second %d%n", finished.size(), committed.size(), unfinished.size());
    }

    /** The ids of the jobs in the jobs topic below the offsets the queue's worker group committed. */
    static Set<String> jobsBelowCommittedOffsets(String queue) throws Exception {
        String topic = "scoreflow.jobs." + queue;
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        Map<TopicPartition, Long> committed = new HashMap<>();
        try (Admin admin = Admin.create(p)) {
            admin.listConsumerGroupOffsets(topic + ".workers").partitionsToOffsetAndMetadata()
                    .get(30, TimeUnit.SECONDS).forEach((tp, o) -> {
                        if (tp.topic().equals(topic) && o != null) {
                            committed.put(tp, o.offset());
                        }
                    });
        }
        Set<String> ids = new java.util.HashSet<>();
        for (ConsumerRecord<byte[], byte[]> r : readAll(topic)) {
            if (r.offset() < committed.getOrDefault(new TopicPartition(r.topic(), r.partition()), 0L)) {
                ids.add(new String(r.headers().lastHeader("scoreflow-id").value(), StandardCharsets.UTF_8));
            }
        }
        return ids;
    }

    /** The dead-letter topic's records as "id: error". */
    static List<String> deadLetters(String queue) {
        List<String> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : readAll("scoreflow.jobs." + queue + ".dead")) {
            out.add(new String(r.headers().lastHeader("scoreflow-id").value(), StandardCharsets.UTF_8) + ": "
                    + new String(r.headers().lastHeader("scoreflow-error").value(), StandardCharsets.UTF_8));
        }
        return out;
    }

    /**
     * The group lives in one partition; the worker that owns it hands over when it stops, and the other resumes from
     * the committed offsets. The Kafka queue's {@code get} reads a view of the state topic, which another process may
     * read a moment late, so the predecessor check is left out here: after a handover, the new owner's view has caught
     * up before it reads the partition, and an outcome and its offset commit in one transaction.
     */
    @Test
    void aFifoGroupIsScoredInSubmissionOrderAcrossTwoWorkersEvenWithARetry() throws Exception {
        String url = url(name("fifo"), "visibility=3s&fifo=true");
        ServerFixture fx = server(keep(JobQueues.open(url)));
        JobsOverHttp.assertAFifoGroupKeptInOrderAcrossTwoWorkers(fx, List.of(JobQueues.open(url),
                JobQueues.open(url)), false);
    }

    @Test
    void twoIndependentSubscribersEachSeeEveryFinishedJobAndEveryEvent() throws Exception {
        String queue = name("pubsub");
        String url = url(queue, "visibility=3s");
        JobQueue q = keep(JobQueues.open(url));
        ServerFixture fx = server(q);
        Set<String> first = ConcurrentHashMap.newKeySet();
        Set<String> second = ConcurrentHashMap.newKeySet();
        List<String> firstEvents = Collections.synchronizedList(new ArrayList<>());
        List<String> secondEvents = Collections.synchronizedList(new ArrayList<>());
        JobQueue a = keep(JobQueues.open(url));
        JobQueue b = keep(JobQueues.open(url));
        a.onFinished(id -> { if (id != null) first.add(id); });
        b.onFinished(id -> { if (id != null) second.add(id); });
        a.onEvent(firstEvents::add);
        b.onEvent(secondEvents::add);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ids.add(submit(fx));
        }
        keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 2));
        await("both subscribers saw every job finish", () -> first.containsAll(ids) && second.containsAll(ids));
        q.publish("{\"file\":\"a.csv\",\"rows\":3}");
        await("both subscribers saw the event", () -> firstEvents.size() == 1 && secondEvents.size() == 1);
        assertThat(firstEvents).containsExactly("{\"file\":\"a.csv\",\"rows\":3}");
        assertThat(secondEvents).isEqualTo(firstEvents);
    }

    @Test
    void whileTheBrokerIsDownSubmissionsGet503NeverA202AndAfterItsRestartTheQueuedJobsAreScored(
            @TempDir Path own) throws Exception {
        EmbeddedBroker b = EmbeddedBroker.start(own.resolve("kafka"), "127.0.0.1", 0, SHORT_SESSIONS);
        String bootstrap = b.bootstrapServers();
        int port = Integer.parseInt(bootstrap.substring(bootstrap.lastIndexOf(':') + 1));
        try {
            JobQueue q = keep(JobQueues.open("kafka://" + bootstrap + "?queue=down&visibility=3s"));
            ServerFixture fx = server(q);
            String before = submit(fx);
            b.close();
            long start = System.nanoTime();
            JobsOverHttp.assertRefusedWhileDown(fx);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("refused within seconds, not hung")
                    .isLessThan(Duration.ofSeconds(40));

            b = EmbeddedBroker.start(own.resolve("kafka"), "127.0.0.1", port, SHORT_SESSIONS);
            String after = submitOnceAccepting(fx);
            keep(JobWorker.start(ScoringServer.builder(fx.repository), q, 1));
            for (String id : List.of(before, after)) {
                assertThat(json(get(fx, "/jobs/" + id + "?wait=60s").body())).as(id).containsEntry("state", "done");
            }
        } finally {
            b.close();
        }
    }
}
