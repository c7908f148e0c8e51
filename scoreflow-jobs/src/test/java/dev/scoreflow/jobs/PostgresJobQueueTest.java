package dev.scoreflow.jobs;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The PostgreSQL queue against the machine's real PostgreSQL (127.0.0.1:5432, database {@code test}). */
class PostgresJobQueueTest {
    static final String URL = "jdbc:postgresql://127.0.0.1:5432/test";
    final List<PostgresJobQueue> opened = new ArrayList<>();
    String name;

    static Properties user() {
        Properties p = new Properties();
        p.put("user", "postgres");
        return p;
    }

    PostgresJobQueue open(TestInfo info, QueueSettings s) {
        // a queue of its own per test (and per run): tests never see each other's jobs
        name = info.getTestMethod().orElseThrow().getName() + "-" + Long.toHexString(System.nanoTime());
        PostgresJobQueue q = PostgresJobQueue.open(URL, user(), name, s);
        opened.add(q);
        return q;
    }

    @AfterEach
    void close() {
        opened.forEach(PostgresJobQueue::close);
    }

    static JobRequest job(String body) {
        return JobRequest.seed("fraud", body.getBytes(StandardCharsets.UTF_8));
    }

    static JobRequest job(String body, String group) {
        return job(body).withGroup(group);
    }

    static String body(Delivery d) {
        return new String(d.request().body(), StandardCharsets.UTF_8);
    }

    static void await(String what, Duration limit, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + limit + ": " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void aSubmittedJobIsReceivedOnceCompletedAndItsResultKept(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults());
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Submitted s = q.submit(job("rows-" + i));
            assertThat(s.created()).isTrue();
            ids.add(s.id());
            assertThat(q.get(s.id())).get().extracting(Job::state).isEqualTo(JobState.QUEUED);
        }
        List<Delivery> got = q.receive(10, Duration.ofSeconds(5));
        assertThat(got).extracting(Delivery::id).containsExactlyElementsOf(ids);
        assertThat(got).extracting(PostgresJobQueueTest::body).containsExactly("rows-0", "rows-1", "rows-2");
        assertThat(got).allSatisfy(d -> assertThat(d.receives()).isEqualTo(1));
        assertThat(q.get(ids.get(0))).get().extracting(Job::state).isEqualTo(JobState.RUNNING);
        assertThat(q.receive(10, Duration.ZERO)).as("leased: invisible to others").isEmpty();
        for (Delivery d : got) {
            assertThat(q.complete(d, ("scores-" + body(d)).getBytes(StandardCharsets.UTF_8), "application/octet-stream"))
                    .isTrue();
        }
        assertThat(q.complete(got.get(0), new byte[]{1}, "x")).as("a second result is refused").isFalse();
        Job done = q.get(ids.get(1)).orElseThrow();
        assertThat(done.state()).isEqualTo(JobState.DONE);
        assertThat(new String(done.result(), StandardCharsets.UTF_8)).isEqualTo("scores-rows-1");
        assertThat(done.receives()).isEqualTo(1);
        assertThat(q.receive(10, Duration.ofMillis(200))).isEmpty();
        assertThat(q.get("not-a-uuid")).isEmpty();
        assertThat(q.get("00000000-0000-0000-0000-000000000000")).isEmpty();
    }

    @Test
    void jobsFinishedLongerAgoThanKeepFinishedAreCleanedUpAndNoOthers(TestInfo info) throws Exception {
        QueueSettings keepBriefly = new QueueSettings(Duration.ofSeconds(30), 3, false, Duration.ofMillis(1));
        PostgresJobQueue q = open(info, keepBriefly);
        String finished = q.submit(job("done-soon")).id();
        Delivery d = q.receive(1, Duration.ofSeconds(5)).get(0); // this receive's clean-up found nothing to do
        assertThat(q.complete(d, new byte[]{1}, "application/octet-stream")).isTrue();
        String queued = q.submit(job("still-queued")).id();
        assertThat(q.get(finished)).get().extracting(Job::state).isEqualTo(JobState.DONE);
        // a new instance cleans up in its first chores (then once a minute): the finished job goes, the queued stays
        await("the finished job cleaned up", Duration.ofSeconds(10), () -> {
            PostgresJobQueue other = PostgresJobQueue.open(URL, user(), name, keepBriefly);
            opened.add(other);
            other.sweep();
            return q.get(finished).isEmpty();
        });
        assertThat(q.get(queued)).get().extracting(Job::state).isEqualTo(JobState.QUEUED);
    }

    @Test
    void claimsUseTheIndexOfJobsInPlayWhenTheTableHoldsAMillionFinishedJobs(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults());
        long indexBefore = count("SELECT pg_relation_size('scoreflow_jobs_due')", Optional.empty());
        try (Connection c = DriverManager.getConnection(URL, user()); java.sql.Statement s = c.createStatement()) {
            s.executeUpdate("INSERT INTO scoreflow_jobs (id, queue, model, protocol, content_type, header_length, body, "
                    + "state, receives, finished_at) SELECT gen_random_uuid(), '" + name + "', 'fraud', 'seed', "
                    + "'application/octet-stream', -1, '\\x00'::bytea, 'done', 1, now() "
                    + "FROM generate_series(1, 1000000)");
            s.execute("ANALYZE scoreflow_jobs");
        }
        try {
            assertThat(count("SELECT count(*) FROM scoreflow_jobs WHERE queue = ?", Optional.of(name)))
                    .isEqualTo(1_000_000);
            long indexAfter = count("SELECT pg_relation_size('scoreflow_jobs_due')", Optional.empty());
            assertThat(indexAfter - indexBefore).as("the claims' index holds only the jobs in play")
                    .isLessThan(64 * 1024);
            for (String sql : List.of(PostgresJobQueue.CLAIM, PostgresJobQueue.CLAIM_FIFO)) {
                String plan = explain(sql, name);
                assertThat(plan).as("the claim's plan:%n%s", plan)
                        .containsAnyOf("scoreflow_jobs_due", "scoreflow_jobs_groups").doesNotContain("Seq Scan");
            }
            String id = q.submit(job("needle")).id();
            long t = System.nanoTime();
            assertThat(q.receive(1, Duration.ofSeconds(5))).extracting(Delivery::id).containsExactly(id);
            System.out.printf("claimed 1 job among 1,000,000 finished ones in %.1f ms%n", (System.nanoTime() - t) / 1e6);
        } finally {
            try (Connection c = DriverManager.getConnection(URL, user());
                 PreparedStatement s = c.prepareStatement("DELETE FROM scoreflow_jobs WHERE queue = ?")) {
                s.setString(1, name);
                s.executeUpdate();
            }
        }
    }

    static String explain(String claim, String queue) throws java.sql.SQLException {
        try (Connection c = DriverManager.getConnection(URL, user());
             PreparedStatement s = c.prepareStatement("EXPLAIN " + claim)) {
            s.setString(1, queue);
            s.setInt(2, 3);
            s.setInt(3, 4);
            StringBuilder out = new StringBuilder();
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    out.append(rs.getString(1)).append('\n');
                }
            }
            return out.toString();
        }
    }

    @Test
    void aJobWhoseLeaseExpiresIsDeliveredAgainAndOnlyTheNewLeaseCanCompleteIt(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults().withVisibilityTimeout(Duration.ofMillis(500)));
        String id = q.submit(job("slow")).id();
        Delivery first = q.receive(1, Duration.ofSeconds(5)).get(0);
        // the worker "dies": the receive below waits for the lease to run out, then gets the job again
        List<Delivery> again = q.receive(1, Duration.ofSeconds(10));
        assertThat(again).hasSize(1);
        Delivery second = again.get(0);
        assertThat(second.id()).isEqualTo(id);
        assertThat(second.receives()).isEqualTo(2);
        assertThat(second.receipt()).isNotEqualTo(first.receipt());
        assertThat(q.complete(first, new byte[]{1}, "x")).as("the old lease is gone").isFalse();
        assertThat(q.fail(first, "late", Duration.ZERO)).isFalse();
        assertThat(q.complete(second, new byte[]{2}, "x")).isTrue();
        Job j = q.get(id).orElseThrow();
        assertThat(j.state()).isEqualTo(JobState.DONE);
        assertThat(j.result()).containsExactly(2);
        assertThat(j.receives()).isEqualTo(2);
    }

    @Test
    void aJobThatKeepsFailingIsDeadLetteredWithItsLastErrorAfterTheMaximumReceives(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults().withMaxReceives(3));
        String id = q.submit(job("poison")).id();
        for (int attempt = 1; attempt <= 3; attempt++) {
            Delivery d = q.receive(1, Duration.ofSeconds(5)).get(0);
            assertThat(d.receives()).isEqualTo(attempt);
            assertThat(q.fail(d, "bad input, attempt " + attempt, Duration.ZERO)).isTrue();
        }
        assertThat(q.receive(1, Duration.ofMillis(300))).isEmpty();
        Job dead = q.get(id).orElseThrow();
        assertThat(dead.state()).isEqualTo(JobState.DEAD_LETTERED);
        assertThat(dead.error()).isEqualTo("bad input, attempt 3");
        assertThat(dead.receives()).isEqualTo(3);
        assertThat(deadLetterRows(id)).isEqualTo(1);
    }

    @Test
    void aJobWhoseWorkersNeverFinishIsDeadLetteredOnceItsReceivesAreUsedUp(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults().withMaxReceives(1)
                .withVisibilityTimeout(Duration.ofMillis(300)));
        String id = q.submit(job("hangs")).id();
        assertThat(q.receive(1, Duration.ofSeconds(5))).hasSize(1);
        await("dead-lettered after its only lease ran out", Duration.ofSeconds(10), () -> {
            try {
                return q.receive(1, Duration.ofMillis(200)).isEmpty()
                        && q.get(id).orElseThrow().state() == JobState.DEAD_LETTERED;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(q.get(id).orElseThrow().error()).contains("not finished within the visibility timeout in 1 receives");
    }

    @Test
    void aFailedAttemptWithADelayComesBackOnlyAfterTheDelay(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults());
        String id = q.submit(job("retry me")).id();
        Delivery d = q.receive(1, Duration.ofSeconds(5)).get(0);
        assertThat(q.fail(d, "the model server said 503", Duration.ofMillis(800))).isTrue();
        Job waiting = q.get(id).orElseThrow();
        assertThat(waiting.state()).isEqualTo(JobState.QUEUED);
        assertThat(waiting.error()).isEqualTo("the model server said 503");
        long start = System.nanoTime();
        assertThat(q.receive(1, Duration.ZERO)).as("not yet due").isEmpty();
        List<Delivery> again = q.receive(1, Duration.ofSeconds(10));
        assertThat(again).extracting(Delivery::id).containsExactly(id);
        assertThat(again.get(0).receives()).isEqualTo(2);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(Duration.ofMillis(600));
    }

    @Test
    void aJobThatCannotBeScoredFailsForGood(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults());
        String id = q.submit(job("7 bytes")).id();
        Delivery d = q.receive(1, Duration.ofSeconds(5)).get(0);
        assertThat(q.fail(d, "the body is 7 bytes, not a multiple of 4 x 11", null)).isTrue();
        Job j = q.get(id).orElseThrow();
        assertThat(j.state()).isEqualTo(JobState.FAILED);
        assertThat(j.error()).contains("not a multiple");
        assertThat(q.receive(1, Duration.ofMillis(200))).isEmpty();
    }

    @Test
    void aFifoQueueHandsEachGroupsJobsOutOneAtATimeInOrderAcrossTwoWorkers(TestInfo info) throws Exception {
        QueueSettings fifo = QueueSettings.defaults().withFifo(true);
        PostgresJobQueue q = open(info, fifo);
        List<List<String>> groups = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        for (int i = 0; i < 12; i++) {
            for (int g = 0; g < groups.size(); g++) {
                groups.get(g).add(q.submit(job("card-" + g + ":" + i, "card-" + g)).id());
            }
        }
        // two workers with a queue instance each, asking for up to three jobs at a time: at most one per group
        List<JobQueue> workers = new ArrayList<>();
        for (int w = 0; w < 2; w++) {
            PostgresJobQueue mine = PostgresJobQueue.open(URL, user(), name, fifo);
            opened.add(mine);
            workers.add(mine);
        }
        FifoWorkers run = FifoWorkers.runGroups(workers, groups, Set.of(groups.get(1).get(4)), 42, true);
        run.assertGroupsKeptInOrder(groups, 1);
    }

    @Test
    void aRetriedSubmissionWithTheSameIdempotencyKeyGetsTheSameJob(TestInfo info) {
        PostgresJobQueue q = open(info, QueueSettings.defaults());
        JobRequest r = new JobRequest("fraud", "2", JobRequest.V2, "application/json", -1, new byte[]{1}, null,
                "order-17");
        Submitted first = q.submit(r);
        Submitted again = q.submit(r);
        assertThat(first.created()).isTrue();
        assertThat(again.created()).isFalse();
        assertThat(again.id()).isEqualTo(first.id());
        Submitted other = q.submit(r.withIdempotencyKey("order-18"));
        assertThat(other.id()).isNotEqualTo(first.id());
    }

    @Test
    void aQueuedJobCanBeCancelledARunningOneCannot(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults());
        String a = q.submit(job("a")).id();
        Delivery running = q.receive(1, Duration.ofSeconds(5)).get(0);
        String b = q.submit(job("b")).id();
        assertThat(q.cancel(b)).isTrue();
        assertThat(q.cancel(b)).isFalse();
        assertThat(q.cancel(a)).as("running").isFalse();
        assertThat(q.get(b).orElseThrow().state()).isEqualTo(JobState.CANCELLED);
        assertThat(q.receive(5, Duration.ofMillis(200))).as("a cancelled job is not delivered").isEmpty();
        assertThat(q.complete(running, new byte[0], "x")).isTrue();
    }

    @Test
    void anIdleReceiverSleepsOnNotificationsAndWakesWhenAJobArrives(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults());
        ExecutorService receiver = Executors.newSingleThreadExecutor();
        try {
            Future<List<Delivery>> waiting = receiver.submit(() -> q.receive(1, Duration.ofSeconds(60)));
            // it listens on its own connection once it has found nothing to do
            await("the receiver listening", Duration.ofSeconds(10), () -> listeners() > 0);
            long start = System.nanoTime();
            String id = q.submit(job("wake up")).id();
            List<Delivery> got = waiting.get(10, TimeUnit.SECONDS); // far less than its 60 s of waiting
            assertThat(got).extracting(Delivery::id).containsExactly(id);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        } finally {
            receiver.shutdownNow();
        }
    }

    @Test
    void everyFinishedJobIsPublishedToEverySubscriberInAnyProcess(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults().withMaxReceives(1));
        // two subscribers with connections of their own, as two other processes would be
        PostgresJobQueue one = PostgresJobQueue.open(URL, user(), name, QueueSettings.defaults());
        PostgresJobQueue two = PostgresJobQueue.open(URL, user(), name, QueueSettings.defaults());
        opened.add(one);
        opened.add(two);
        Set<String> seenByOne = Collections.synchronizedSet(new HashSet<>());
        Set<String> seenByTwo = Collections.synchronizedSet(new HashSet<>());
        one.onFinished(seenByOne::add);
        two.onFinished(seenByTwo::add);
        await("both subscribers listening", Duration.ofSeconds(10), () -> finishedListeners() >= 2);
        Set<String> finished = new HashSet<>();
        for (int i = 0; i < 30; i++) {
            String id = q.submit(job("j" + i)).id();
            finished.add(id);
            if (i % 10 == 9) {
                assertThat(q.cancel(id)).isTrue();
            }
        }
        for (Delivery d : q.receive(30, Duration.ofSeconds(5))) {
            if (body(d).endsWith("3")) {
                q.fail(d, "bad", Duration.ZERO); // one receive at most: dead-lettered, also final
            } else {
                q.complete(d, new byte[0], "x");
            }
        }
        await("every finished job seen by both", Duration.ofSeconds(10),
                () -> seenByOne.containsAll(finished) && seenByTwo.containsAll(finished));
        assertThat(seenByOne).isEqualTo(finished);
        assertThat(seenByTwo).isEqualTo(finished);
    }

    /** Connections that listen for finished jobs and events (their last statement is the events' LISTEN). */
    long finishedListeners() {
        return count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'scoreflow-jobs' "
                + "AND query = 'LISTEN " + PostgresJobQueue.EVENTS + "'", Optional.empty());
    }

    @Test
    void everyEventIsPublishedToEverySubscriberOfItsQueueOnly(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults());
        PostgresJobQueue one = PostgresJobQueue.open(URL, user(), name, QueueSettings.defaults());
        PostgresJobQueue two = PostgresJobQueue.open(URL, user(), name, QueueSettings.defaults());
        PostgresJobQueue other = PostgresJobQueue.open(URL, user(), name + "-other", QueueSettings.defaults());
        opened.addAll(List.of(one, two, other));
        List<String> seenByOne = Collections.synchronizedList(new ArrayList<>());
        List<String> seenByTwo = Collections.synchronizedList(new ArrayList<>());
        List<String> seenByOther = Collections.synchronizedList(new ArrayList<>());
        one.onEvent(seenByOne::add);
        two.onEvent(seenByTwo::add);
        other.onEvent(seenByOther::add);
        await("three subscribers listening", Duration.ofSeconds(10), () -> finishedListeners() >= 3);
        List<String> sent = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            sent.add("{\"file\": \"part " + i + ".csv\"}");
            q.publish(sent.get(i));
        }
        await("every event seen by both", Duration.ofSeconds(10),
                () -> seenByOne.size() == sent.size() && seenByTwo.size() == sent.size());
        assertThat(seenByOne).isEqualTo(sent); // NOTIFYs from one session arrive in order
        assertThat(seenByTwo).isEqualTo(sent);
        other.publish("{}"); // its own queue's event, after the others: once it is seen, theirs would have been
        await("the other queue's own event", Duration.ofSeconds(10), () -> seenByOther.size() == 1);
        assertThat(seenByOther).containsExactly("{}");
        assertThatThrownBy(() -> q.publish("x".repeat(JobQueue.MAX_EVENT_BYTES + 1)))
                .hasMessageContaining("at most");
    }

    @Test
    void aJobsCallbacksTravelWithItAndTheirOutcomeIsKept(TestInfo info) throws Exception {
        PostgresJobQueue q = open(info, QueueSettings.defaults());
        String id = q.submit(job("c").withCallbacks(List.of("https://hooks.test/a", "mailto:ops@example.test")))
                .id();
        assertThat(q.get(id).orElseThrow().callbacks()).isEqualTo("pending");
        Delivery d = q.receive(1, Duration.ofSeconds(5)).get(0);
        assertThat(d.request().callbacks()).containsExactly("https://hooks.test/a", "mailto:ops@example.test");
        assertThat(q.complete(d, new byte[]{1}, "x")).isTrue();
        q.noteCallbacks(id, "delivered https://hooks.test/a (attempt 1)");
        assertThat(q.get(id).orElseThrow().callbacks()).isEqualTo("delivered https://hooks.test/a (attempt 1)");
        String plain = q.submit(job("p")).id();
        assertThat(q.get(plain).orElseThrow().callbacks()).isNull();
    }

    @Test
    void aDatabaseThatDoesNotAnswerIsReportedAsUnavailableWithinSeconds() {
        long start = System.nanoTime();
        assertThatThrownBy(() -> PostgresJobQueue.open("jdbc:postgresql://127.0.0.1:1/test", user(), "q",
                QueueSettings.defaults()))
                .isInstanceOf(QueueUnavailableException.class)
                .hasMessageContaining("PostgreSQL at jdbc:postgresql://127.0.0.1:1/test");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(20));
    }

    @Test
    void badRequestsAreRefusedNamingTheProblem() {
        assertThatThrownBy(() -> JobRequest.seed("", new byte[0]))
                .hasMessageContaining("the model must have 1 to 256 characters");
        assertThatThrownBy(() -> JobRequest.seed("m", new byte[0]).withGroup("g".repeat(300)))
                .hasMessageContaining("the group must have 1 to 256 characters, had 300");
        assertThatThrownBy(() -> new JobRequest("m", null, "v3", "x", -1, new byte[0], null, null))
                .hasMessageContaining("the protocol must be seed or v2, was 'v3'");
        assertThatThrownBy(() -> new JobRequest("m", null, "v2", "x", 5, new byte[2], null, null))
                .hasMessageContaining("the header length must be -1 or within the body's 2 bytes, was 5");
        assertThatThrownBy(() -> QueueSettings.defaults().withMaxReceives(0)).hasMessageContaining("max receives");
        assertThatThrownBy(() -> QueueSettings.defaults().withVisibilityTimeout(Duration.ofMillis(5)))
                .hasMessageContaining("visibility timeout");
    }

    long listeners() {
        return count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'scoreflow-jobs' "
                + "AND query = 'LISTEN " + PostgresJobQueue.CHANNEL + "'", Optional.empty());
    }

    long deadLetterRows(String id) {
        return count("SELECT count(*) FROM scoreflow_jobs_dead WHERE id = ?::uuid", Optional.of(id));
    }

    static long count(String sql, Optional<String> arg) {
        try (Connection c = DriverManager.getConnection(URL, user()); PreparedStatement s = c.prepareStatement(sql)) {
            if (arg.isPresent()) {
                s.setString(1, arg.get());
            }
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
