package dev.scoreflow.jobs;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.scoreflow.jobs.PostgresJobQueueTest.await;
import static dev.scoreflow.jobs.PostgresJobQueueTest.body;
import static dev.scoreflow.jobs.PostgresJobQueueTest.job;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The RabbitMQ queue against the machine's real RabbitMQ (127.0.0.1:5672, guest/guest) with its store in the real
 * PostgreSQL (database {@code test}); each test has queues of its own.
 */
class RabbitJobQueueTest {
    static final String STORE = "postgresql://postgres@127.0.0.1:5432/test";
    final List<AutoCloseable> opened = new ArrayList<>();
    String name;

    /** The URL of this test's queue, with {@code settings} ("visibility=1s&max-receives=3"). */
    String url(TestInfo info, String settings) {
        if (name == null) {
            name = "rq-" + info.getTestMethod().orElseThrow().getName() + "-" + Long.toHexString(System.nanoTime());
        }
        return "amqp://guest:guest@127.0.0.1:5672/?store=" + STORE + "&queue=" + name
                + (settings.isEmpty() ? "" : "&" + settings);
    }

    RabbitJobQueue open(String url) {
        RabbitJobQueue q = (RabbitJobQueue) JobQueues.open(url);
        opened.add(q);
        return q;
    }

    @AfterEach
    void close() throws Exception {
        for (int i = opened.size() - 1; i >= 0; i--) {
            opened.get(i).close();
        }
        if (name != null) {
            deleteFromBroker(name, 50, 1500);
        }
    }

    /**
     * Deletes queue {@code name}'s queues (with its retry queues of these delays) and exchanges: quorum queues cost
     * the broker a Raft group each, so tests do not leave theirs behind.
     */
    static void deleteFromBroker(String name, long... retryDelaysMs) throws Exception {
        try (Connection c = connect(); Channel ch = c.createChannel()) {
            for (String q : List.of(name, name + ".dead")) {
                ch.queueDelete(q);
            }
            for (long ms : retryDelaysMs) {
                ch.queueDelete(name + ".retry." + ms);
            }
            for (String x : List.of(".dlx", ".finished", ".events")) {
                ch.exchangeDelete(name + x);
            }
        }
    }

    static Connection connect() throws Exception {
        ConnectionFactory f = new ConnectionFactory();
        f.setHost("127.0.0.1");
        f.setConnectionTimeout(5000);
        return f.newConnection("rabbit-job-queue-test");
    }

    @Test
    void aSubmittedJobIsDeliveredOnceCompletedExactlyOnceAndItsResultKept(TestInfo info) throws Exception {
        RabbitJobQueue q = open(url(info, ""));
        Set<String> finished = ConcurrentHashMap.newKeySet();
        q.onFinished(id -> { if (id != null) finished.add(id); });
        Submitted s = q.submit(job("rows"));
        assertThat(s.created()).isTrue();
        assertThat(q.get(s.id()).orElseThrow().state()).isEqualTo(JobState.QUEUED);

        List<Delivery> got = q.receive(5, Duration.ofSeconds(10));
        assertThat(got).hasSize(1);
        Delivery d = got.get(0);
        assertThat(d.id()).isEqualTo(s.id());
        assertThat(body(d)).isEqualTo("rows");
        assertThat(d.receives()).isEqualTo(1);
        assertThat(q.get(s.id()).orElseThrow().state()).isEqualTo(JobState.RUNNING);

        assertThat(q.complete(d, new byte[]{7}, "application/octet-stream")).isTrue();
        assertThat(q.complete(d, new byte[]{8}, "application/octet-stream")).as("a result is stored once").isFalse();
        Job j = q.get(s.id()).orElseThrow();
        assertThat(j.state()).isEqualTo(JobState.DONE);
        assertThat(j.result()).containsExactly(7);
        assertThat(q.receive(1, Duration.ofMillis(500))).as("acknowledged: not delivered again").isEmpty();
        await("the finished job announced", Duration.ofSeconds(10), () -> finished.contains(s.id()));
    }

    @Test
    void submitReturnsOnlyOnceTheBrokerHasTheJob(TestInfo info) throws Exception {
        RabbitJobQueue q = open(url(info, ""));
        try (Connection c = connect(); Channel ch = c.createChannel()) {
            for (int i = 1; i <= 20; i++) {
                q.submit(job("job " + i));
                // confirmed: the broker counts it the moment submit returns, no waiting
                assertThat(ch.messageCount(name)).isEqualTo(i);
            }
        }
    }

    @Test
    void concurrentSubmissionsShareTheConfirmsAndEveryOneIsDeliveredOnce(TestInfo info) throws Exception {
        RabbitJobQueue q = open(url(info, "prefetch=64"));
        int threads = 16;
        int each = 40;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        Set<String> submitted = ConcurrentHashMap.newKeySet();
        try {
            List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                fs.add(pool.submit(() -> {
                    for (int i = 0; i < each; i++) {
                        submitted.add(q.submit(job("t" + thread + " j" + i)).id());
                    }
                    return null;
                }));
            }
            for (var f : fs) {
                f.get(60, java.util.concurrent.TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(submitted).hasSize(threads * each);
        try (Connection c = connect(); Channel ch = c.createChannel()) {
            assertThat(ch.messageCount(name)).as("every confirmed job is on the broker").isEqualTo(threads * each);
        }
        Set<String> delivered = new java.util.HashSet<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (delivered.size() < submitted.size() && System.nanoTime() < deadline) {
            for (Delivery d : q.receive(64, Duration.ofSeconds(1))) {
                assertThat(delivered.add(d.id())).as("delivered once: %s", d.id()).isTrue();
                assertThat(q.complete(d, new byte[]{1}, "application/octet-stream")).isTrue();
            }
        }
        assertThat(delivered).isEqualTo(submitted);
    }

    @Test
    void aMessageTheBrokerRefusesIsReportedUnavailableNotAccepted(TestInfo info) throws Exception {
        String full = "rq-full-" + Long.toHexString(System.nanoTime());
        try (Connection c = connect()) {
            try (Channel ch = c.createChannel()) {
                ch.queueDeclare(full, true, false, true, Map.of("x-max-length", 1, "x-overflow", "reject-publish"));
            }
            ConfirmedPublisher p = new ConfirmedPublisher(c, Duration.ofSeconds(5), "RabbitMQ");
            p.publish("", full, null, new byte[]{1});
            assertThatThrownBy(() -> p.publish("", full, null, new byte[]{2}))
                    .isInstanceOf(QueueUnavailableException.class).hasMessageContaining("did not confirm");
            p.publish("", full + "-nowhere", null, new byte[]{3}); // unroutable is confirmed: the channel lives on
            p.close();
            try (Channel ch = c.createChannel()) {
                ch.queueDelete(full);
            }
        }
    }

    @Test
    void whenAConsumersConnectionClosesItsJobIsDeliveredAgainAtOnceAndOnlyTheNewReceiptCounts(TestInfo info)
            throws Exception {
        String url = url(info, "visibility=60s");
        RabbitJobQueue first = open(url);
        RabbitJobQueue second = open(url);
        String id = first.submit(job("held")).id();
        List<Delivery> held = first.receive(1, Duration.ofSeconds(10));
        assertThat(held).hasSize(1);
        long closed = System.nanoTime();
        first.close(); // the connection goes: the broker gives its unacknowledged job to the other consumer
        List<Delivery> again = second.receive(1, Duration.ofSeconds(20));
        assertThat(again).hasSize(1);
        assertThat(Duration.ofNanos(System.nanoTime() - closed)).as("long before the 60-s visibility timeout")
                .isLessThan(Duration.ofSeconds(20));
        assertThat(again.get(0).id()).isEqualTo(id);
        assertThat(again.get(0).receives()).isEqualTo(2);
        assertThat(second.complete(held.get(0), new byte[]{1}, "x")).as("the first receipt is spent").isFalse();
        assertThat(second.complete(again.get(0), new byte[]{2}, "x")).isTrue();
        assertThat(second.get(id).orElseThrow().result()).containsExactly(2);
    }

    @Test
    void aJobHeldPastTheVisibilityTimeoutIsDeliveredAgainAndTheLateResultIsRefused(TestInfo info) throws Exception {
        RabbitJobQueue q = open(url(info, "visibility=500ms"));
        String id = q.submit(job("slow")).id();
        Delivery slow = q.receive(1, Duration.ofSeconds(10)).get(0);
        List<Delivery> again = q.receive(1, Duration.ofSeconds(10));
        assertThat(again).hasSize(1);
        assertThat(again.get(0).id()).isEqualTo(id);
        assertThat(again.get(0).receives()).isEqualTo(2);
        assertThat(q.complete(slow, new byte[]{1}, "x")).isFalse();
        assertThat(q.complete(again.get(0), new byte[]{2}, "x")).isTrue();
    }

    /**
     * Leases running out while workers finish, on two queue instances with three threads each: job times (seeded)
     * straddle the 300-ms visibility timeout, so the lease reaper, redeliveries and late completions race. Every job
     * ends done, and exactly one completion per job is accepted.
     */
    @Test
    void racingLeasesAndLateWorkersStoreEveryResultExactlyOnce(TestInfo info) throws Exception {
        String url = url(info, "visibility=300ms&max-receives=100&prefetch=4");
        RabbitJobQueue q = open(url);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            ids.add(q.submit(job("race " + i)).id());
        }
        Map<String, Integer> accepted = new ConcurrentHashMap<>();
        AtomicInteger refused = new AtomicInteger();
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        List<Thread> threads = new ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        for (int w = 0; w < 2; w++) {
            RabbitJobQueue mine = open(url);
            for (int t = 0; t < 3; t++) {
                Random random = new Random(100 * w + t);
                Thread thread = new Thread(() -> {
                    try {
                        while (accepted.size() < ids.size() && System.nanoTime() < deadline) {
                            for (Delivery d : mine.receive(2, Duration.ofMillis(100))) {
                                Thread.sleep(random.nextInt(450)); // often past the lease
                                if (mine.complete(d, new byte[]{1}, "x")) {
                                    accepted.merge(d.id(), 1, Integer::sum);
                                } else {
                                    refused.incrementAndGet();
                                }
                            }
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } catch (RuntimeException e) {
                        errors.add(e);
                    }
                }, "race-" + w + "-" + t);
                threads.add(thread);
                thread.start();
            }
        }
        for (Thread t : threads) {
            t.join(120_000);
            assertThat(t.isAlive()).isFalse();
        }
        assertThat(errors).isEmpty();
        assertThat(accepted.keySet()).containsExactlyInAnyOrderElementsOf(ids);
        assertThat(accepted.values()).allMatch(n -> n == 1);
        for (String id : ids) {
            assertThat(q.get(id).orElseThrow().state()).isEqualTo(JobState.DONE);
        }
        System.out.printf("rabbit race: %d late completions refused%n", refused.get());
    }

    @Test
    void aJobThatKeepsFailingIsDeadLetteredWithItsLastErrorIntoTheDeadQueue(TestInfo info) throws Exception {
        RabbitJobQueue q = open(url(info, "max-receives=3"));
        Set<String> finished = ConcurrentHashMap.newKeySet();
        q.onFinished(id -> { if (id != null) finished.add(id); });
        String id = q.submit(job("bad")).id();
        List<Integer> attempts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            List<Delivery> got = q.receive(1, Duration.ofSeconds(10));
            assertThat(got).as("attempt " + (i + 1)).hasSize(1);
            attempts.add(got.get(0).receives());
            assertThat(q.fail(got.get(0), "exploded on attempt " + got.get(0).receives(), Duration.ofMillis(50)))
                    .isTrue();
        }
        assertThat(attempts).containsExactly(1, 2, 3);
        Job j = q.get(id).orElseThrow();
        assertThat(j.state()).isEqualTo(JobState.DEAD_LETTERED);
        assertThat(j.error()).isEqualTo("exploded on attempt 3");
        assertThat(j.receives()).isEqualTo(3);
        await("the message in " + name + ".dead", Duration.ofSeconds(10), () -> q.deadMessages() == 1);
        await("the dead letter announced", Duration.ofSeconds(10), () -> finished.contains(id));
        assertThat(q.receive(1, Duration.ofMillis(500))).isEmpty();
    }

    @Test
    void aJobWhoseWorkersNeverFinishIsDeadLetteredOnceItsReceivesAreUsedUp(TestInfo info) throws Exception {
        RabbitJobQueue q = open(url(info, "visibility=300ms&max-receives=2"));
        String id = q.submit(job("never")).id();
        List<Integer> receives = new ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (q.get(id).orElseThrow().state() != JobState.DEAD_LETTERED) {
            assertThat(System.nanoTime()).as("dead-lettered within 30 s").isLessThan(deadline);
            q.receive(1, Duration.ofMillis(200)).forEach(d -> receives.add(d.receives())); // and never finished
        }
        assertThat(receives).containsExactly(1, 2);
        assertThat(q.get(id).orElseThrow().error()).contains("not finished within the visibility timeout");
        await("the message in " + name + ".dead", Duration.ofSeconds(10), () -> q.deadMessages() == 1);
    }

    @Test
    void aFailedAttemptWithADelayComesBackOnlyAfterTheDelay(TestInfo info) throws Exception {
        RabbitJobQueue q = open(url(info, ""));
        String id = q.submit(job("later")).id();
        Delivery d = q.receive(1, Duration.ofSeconds(10)).get(0);
        long failed = System.nanoTime();
        assertThat(q.fail(d, "busy", Duration.ofMillis(1500))).isTrue();
        assertThat(q.get(id).orElseThrow().state()).isEqualTo(JobState.QUEUED);
        assertThat(q.receive(1, Duration.ofMillis(700))).as("not before the delay").isEmpty();
        List<Delivery> again = q.receive(1, Duration.ofSeconds(10));
        assertThat(again).hasSize(1);
        assertThat(Duration.ofNanos(System.nanoTime() - failed)).isGreaterThanOrEqualTo(Duration.ofMillis(1400));
        assertThat(again.get(0).receives()).isEqualTo(2);
        assertThat(q.get(id).orElseThrow().error()).isEqualTo("busy");
    }

    @Test
    void aFifoQueueHandsJobsOutOneAtATimeInOrderAcrossTwoConsumersEvenWithRetries(TestInfo info) throws Exception {
        String url = url(info, "fifo=true&visibility=10s");
        RabbitJobQueue q = open(url);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            ids.add(q.submit(job("job " + i, "account-7")).id());
        }
        // the single active consumer takes everything until its worker stops; then the other consumer takes over
        FifoWorkers run = FifoWorkers.run(List.of(open(url), open(url)), ids, Set.of(ids.get(4), ids.get(11),
                ids.get(25)), 7, true);
        run.assertKeptInOrder(ids, 3);
    }

    @Test
    void aCancelledJobIsNeverHandedOutAndARepeatedIdempotencyKeyGetsTheSameJob(TestInfo info) throws Exception {
        RabbitJobQueue q = open(url(info, ""));
        Submitted first = q.submit(job("once").withIdempotencyKey("order-42"));
        Submitted again = q.submit(job("once").withIdempotencyKey("order-42"));
        assertThat(again).isEqualTo(new Submitted(first.id(), false));
        assertThat(q.cancel(first.id())).isTrue();
        assertThat(q.receive(1, Duration.ofSeconds(1))).isEmpty();
        assertThat(q.get(first.id()).orElseThrow().state()).isEqualTo(JobState.CANCELLED);
        try (Connection c = connect(); Channel ch = c.createChannel()) {
            await("the cancelled job's message dropped", Duration.ofSeconds(10), () -> {
                try {
                    return ch.messageCount(name) == 0;
                } catch (java.io.IOException e) {
                    throw new AssertionError(e);
                }
            });
        }
    }

    @Test
    void aMessageThatIsNotOneOfItsJobsIsDroppedAndTheJobsGoOn(TestInfo info) throws Exception {
        RabbitJobQueue q = open(url(info, ""));
        try (Connection c = connect(); Channel ch = c.createChannel()) {
            ch.basicPublish("", name, null, "hello".getBytes(java.nio.charset.StandardCharsets.UTF_8)); // no id
            ch.basicPublish("", name, new com.rabbitmq.client.AMQP.BasicProperties.Builder().messageId("not-a-job")
                    .build(), new byte[]{1});
        }
        String id = q.submit(job("real")).id();
        List<Delivery> got = q.receive(5, Duration.ofSeconds(10)); // passes over the strangers, waits for the job
        assertThat(got).extracting(Delivery::id).containsExactly(id);
        assertThat(q.complete(got.get(0), new byte[]{1}, "x")).isTrue();
        try (Connection c = connect(); Channel ch = c.createChannel()) {
            assertThat(ch.messageCount(name)).as("the strangers acknowledged and gone").isZero();
        }
    }

    @Test
    void everyEventReachesEverySubscribingProcess(TestInfo info) throws Exception {
        String url = url(info, "");
        RabbitJobQueue a = open(url);
        RabbitJobQueue b = open(url);
        List<String> seenA = Collections.synchronizedList(new ArrayList<>());
        List<String> seenB = Collections.synchronizedList(new ArrayList<>());
        a.onEvent(seenA::add);
        b.onEvent(seenB::add);
        a.publish("{\"file\":\"a.csv\"}");
        b.publish("{\"file\":\"b.csv\"}");
        await("both saw both", Duration.ofSeconds(10), () -> seenA.size() == 2 && seenB.size() == 2);
        assertThat(seenA).containsExactlyInAnyOrder("{\"file\":\"a.csv\"}", "{\"file\":\"b.csv\"}");
        assertThat(seenB).containsExactlyInAnyOrderElementsOf(seenA);
    }
}
