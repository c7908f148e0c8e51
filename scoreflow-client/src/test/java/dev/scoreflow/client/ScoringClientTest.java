package dev.scoreflow.client;

import dev.scoreflow.api.FloatMatrix;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The HTTP client against fake nodes on real sockets: latency, 503s, dropped connections, dying nodes. */
class ScoringClientTest {
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
    }

    private FakeNode node(long seed) {
        FakeNode n = new FakeNode(seed);
        open.add(n);
        return n;
    }

    private ScoringClient client(ClientConfig.Builder b) {
        ScoringClient c = ScoringClient.create(b.build());
        open.add(c);
        return c;
    }

    /** A client whose deadlines, latencies and breaker read {@code clock} (the transport's timers stay real). */
    private ScoringClient client(ClientConfig.Builder b, AtomicLong clock) {
        ScoringClient c = new ScoringClient(b.build(), false, clock::get);
        open.add(c);
        return c;
    }

    private static FloatMatrix row(float first) {
        return FloatMatrix.of(new float[]{first, 1}, 1, 2);
    }

    /** Consumes everything, asserting order and the memory bound; returns rows consumed. */
    private static long consumeInOrder(OrderedScoring<float[]> scores, CountingRows input, int batchRows, int window,
                                       Runnable atHalf) {
        long consumed = 0;
        while (scores.hasNext()) {
            Scored<float[]> s = scores.next();
            assertThat(s.ok()).isTrue();
            assertThat(s.score()).isEqualTo((float) consumed);
            assertThat(s.item()[0]).isEqualTo((float) consumed);
            consumed++;
            assertThat(input.read.get() - consumed).isLessThanOrEqualTo((long) (window + 1) * batchRows);
            assertThat(scores.inFlight()).isLessThanOrEqualTo(window);
            if (consumed == input.n / 2 && atHalf != null) {
                atHalf.run();
            }
        }
        return consumed;
    }

    @Test
    void scoresEveryRowOnceInOrderThroughSlowFlakyNodes() {
        List<FakeNode> nodes = List.of(node(1), node(2), node(3));
        StringBuilder urls = new StringBuilder();
        for (FakeNode n : nodes) {
            n.maxLatencyMicros = 3000;
            n.refuseShare = 0.1;
            n.dropShare = 0.05;
            urls.append(n.url()).append(',');
        }
        ScoringClient client = client(ClientConfig.builder(urls.toString()).backoff(Duration.ofMillis(1),
                Duration.ofMillis(20)).concurrency(1, 4, 16));
        int rows = 60_000;
        int batch = 300;
        int window = 6;
        CountingRows input = new CountingRows(rows);
        OrderedScoring<float[]> scores = client.scoreAll(input, batch, window);
        assertThat(consumeInOrder(scores, input, batch, window, null)).isEqualTo(rows);
        assertThat(client.metrics().rows()).isEqualTo(rows);
        assertThat(client.metrics().retries()).isPositive(); // 503s and drops were retried, none lost
        assertThat(client.metrics().failures()).isZero();
        long served = nodes.stream().mapToLong(n -> n.rowsAnswered.get()).sum();
        assertThat(served).isGreaterThanOrEqualTo(rows); // a dropped answer may have been scored before the drop
        assertThat(nodes).allSatisfy(n -> assertThat(n.requests.get()).isPositive()); // balanced over all
        assertThat(client.metrics().waiting()).isZero();
    }

    @Test
    void aNodeThatDiesMidRunIsEjectedAndItsRequestsFailOver() {
        FakeNode a = node(4);
        FakeNode b = node(5);
        a.maxLatencyMicros = 2000;
        b.maxLatencyMicros = 2000;
        ScoringClient client = client(ClientConfig.builder(a.url() + "," + b.url())
                .backoff(Duration.ofMillis(1), Duration.ofMillis(10)).healthInterval(Duration.ofMillis(100)));
        int rows = 100_000;
        CountingRows input = new CountingRows(rows);
        OrderedScoring<float[]> scores = client.scoreAll(input, 250, 8);
        long[] aAtDeath = new long[1];
        assertThat(consumeInOrder(scores, input, 250, 8, () -> {
            a.kill();
            aAtDeath[0] = a.rowsAnswered.get();
        })).isEqualTo(rows);
        assertThat(aAtDeath[0]).isPositive();
        assertThat(a.rowsAnswered.get()).isEqualTo(aAtDeath[0]);
        assertThat(b.rowsAnswered.get()).isGreaterThanOrEqualTo(rows - aAtDeath[0]);
        assertThat(client.metrics().ejections()).isPositive();
        assertThat(client.ejectedNodes()).singleElement().asString().contains(":" + a.port);
        assertThat(client.metrics().failures()).isZero();
    }

    @Test
    void aKilledNodeIsReadmittedWhenItAnswersHealthChecksAgain() throws Exception {
        FakeNode a = node(6);
        FakeNode b = node(7);
        ScoringClient client = client(ClientConfig.builder(a.url() + "," + b.url())
                .backoff(Duration.ofMillis(1), Duration.ofMillis(10)).healthInterval(Duration.ofMillis(50)));
        a.kill();
        awaitCondition(() -> !client.ejectedNodes().isEmpty());
        assertThat(client.score(FloatMatrix.of(new float[]{7, 1}, 1, 2)).get(10, TimeUnit.SECONDS))
                .containsExactly(7f);
        FakeNode again = new FakeNode(8, a.port);
        open.add(again);
        awaitCondition(() -> client.ejectedNodes().isEmpty());
        for (int i = 0; i < 20; i++) {
            client.score(FloatMatrix.of(new float[]{i, 1}, 1, 2)).get(10, TimeUnit.SECONDS);
        }
        assertThat(again.requests.get()).isPositive(); // back in rotation
    }

    @Test
    void aDrainingNodeIsTakenOutOfRotation() throws Exception {
        FakeNode a = node(9);
        FakeNode b = node(10);
        ScoringClient client = client(ClientConfig.builder(a.url() + "," + b.url())
                .healthInterval(Duration.ofMillis(50)));
        a.healthy = false;
        awaitCondition(() -> !client.ejectedNodes().isEmpty());
        int before = a.requests.get();
        for (int i = 0; i < 20; i++) {
            client.score(FloatMatrix.of(new float[]{i, 1}, 1, 2)).get(10, TimeUnit.SECONDS);
        }
        assertThat(a.requests.get()).isEqualTo(before);
    }

    @Test
    void aKeptAliveConnectionTheServerClosedIsReplacedWithoutBlamingTheNode() throws Exception {
        FakeNode a = node(16);
        a.closeKeptAliveConnections = true;
        ScoringClient client = client(ClientConfig.builder(a.url()).healthInterval(Duration.ofMinutes(10)));
        for (int i = 0; i < 20; i++) {
            assertThat(client.score(FloatMatrix.of(new float[]{i, 1}, 1, 2)).get(10, TimeUnit.SECONDS))
                    .containsExactly((float) i);
        }
        assertThat(client.metrics().reconnects()).isEqualTo(19); // every request after the first
        assertThat(client.metrics().retries()).isZero();
        assertThat(client.metrics().ejections()).isZero();
        assertThat(a.requests.get()).isEqualTo(20);
    }

    @Test
    void retriesWaitAtLeastTheRetryAfterTheServerAskedFor() throws Exception {
        FakeNode a = node(11);
        a.refuseNext = 1;
        a.retryAfter = "1";
        ScoringClient client = client(ClientConfig.builder(a.url()).backoff(Duration.ofMillis(1),
                Duration.ofMillis(5)));
        assertThat(client.score(FloatMatrix.of(new float[]{3, 1}, 1, 2)).get(10, TimeUnit.SECONDS))
                .containsExactly(3f);
        List<Long> times = new ArrayList<>(a.requestTimes);
        assertThat(times).hasSize(2);
        assertThat(times.get(1) - times.get(0)).isGreaterThanOrEqualTo(TimeUnit.SECONDS.toNanos(1));
        assertThat(client.metrics().retries()).isEqualTo(1);
    }

    @Test
    void badInputIsNeverRetriedAndFailsTheStreamOnTheCallersThread() {
        FakeNode a = node(12);
        ScoringClient client = client(ClientConfig.builder(a.url()));
        Iterator<float[]> rows = List.of(new float[]{0, 1}, new float[]{-1, 1}, new float[]{2, 1}).iterator();
        OrderedScoring<float[]> scores = client.scoreAll(rows, 10, 2);
        Thread caller = Thread.currentThread();
        assertThatThrownBy(scores::hasNext).isInstanceOfSatisfying(ScoringFailedException.class, e -> {
            assertThat(e.status()).isEqualTo(400);
            assertThat(e.attempts()).isEqualTo(1);
            assertThat(e).hasMessageContaining("row 1 is negative");
            assertThat(Thread.currentThread()).isSameAs(caller);
        });
        assertThat(a.requests.get()).isEqualTo(1);
    }

    @Test
    void inValueModeABadRowBecomesAnErrorAndTheRestAreScored() {
        FakeNode a = node(13);
        ScoringClient client = client(ClientConfig.builder(a.url()));
        List<float[]> rows = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            rows.add(new float[]{i == 337 || i == 901 ? -i : i, 1});
        }
        OrderedScoring<float[]> scores = OrderedScoring.of(rows.iterator(), r -> r, client, 1000, 2,
                ErrorMode.VALUE);
        int i = 0;
        while (scores.hasNext()) {
            Scored<float[]> s = scores.next();
            if (i == 337 || i == 901) {
                assertThat(s.ok()).isFalse();
                assertThat(s.error()).contains("HTTP 400").contains("negative");
                assertThat(s.score()).isNaN();
            } else {
                assertThat(s.ok()).as("row %d", i).isTrue();
                assertThat(s.score()).isEqualTo((float) i);
            }
            i++;
        }
        assertThat(i).isEqualTo(1000);
        assertThat(a.requests.get()).isLessThan(60); // bisection: about 2 x log2(1000) requests per bad row
    }

    @Test
    void aDeadClusterOpensTheCircuitAndLaterCallsFailAtOnce() throws Exception {
        int dead1 = freePort();
        int dead2 = freePort();
        ScoringClient client = client(ClientConfig.builder("http://127.0.0.1:" + dead1 + ",http://127.0.0.1:"
                + dead2).backoff(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(5)
                .breaker(4, Duration.ofMinutes(1)));
        assertThatThrownBy(() -> client.score(FloatMatrix.of(new float[]{1}, 1, 1)).get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).cause().isInstanceOf(ScoringFailedException.class);
        long attempts = client.metrics().attempts();
        assertThat(attempts).isBetween(4L, 5L);
        long start = System.nanoTime();
        for (int i = 0; i < 100; i++) {
            assertThatThrownBy(() -> client.score(FloatMatrix.of(new float[]{1}, 1, 1)).get(10, TimeUnit.SECONDS))
                    .cause().isInstanceOf(CircuitOpenException.class).hasMessageContaining("circuit open");
        }
        assertThat(client.metrics().attempts()).isEqualTo(attempts); // nothing more was sent
        assertThat(client.metrics().refusedByCircuit()).isGreaterThanOrEqualTo(100);
        assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(5));
    }

    @Test
    void item16_trialWhoseAnswerCannotBeDecodedStillResolvesTheBreaker() throws Exception {
        AtomicLong now = new AtomicLong();
        FakeNode a = node(20);
        ScoringClient client = client(ClientConfig.builder(a.url()).maxAttempts(1)
                .breaker(1, Duration.ofSeconds(1)).healthInterval(Duration.ofMinutes(10)), now);
        a.dropShare = 1;
        assertThatThrownBy(() -> client.score(row(1)).get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOf(ScoringFailedException.class).isNotInstanceOf(CircuitOpenException.class);
        a.dropShare = 0;
        assertThatThrownBy(() -> client.score(row(2)).get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOf(CircuitOpenException.class);
        now.addAndGet(TimeUnit.SECONDS.toNanos(1));
        a.garbleNext = 1;
        assertThatThrownBy(() -> client.score(row(3)).get(10, TimeUnit.SECONDS)).cause() // the trial
                .isInstanceOf(ScoringFailedException.class).hasMessageContaining("bad answer");
        // an undecodable answer is still an answer: the trial closed the circuit instead of holding it half-open
        assertThat(client.score(row(4)).get(10, TimeUnit.SECONDS)).containsExactly(4f);
    }

    @Test
    void item16_trialWhoseDeadlinePassedStillResolvesTheBreaker() throws Exception {
        AtomicLong now = new AtomicLong();
        FakeNode a = node(21);
        ScoringClient client = client(ClientConfig.builder(a.url()).maxAttempts(3).deadline(Duration.ofSeconds(10))
                .backoff(Duration.ofMillis(1), Duration.ofMillis(1)).breaker(1, Duration.ofSeconds(1))
                .healthInterval(Duration.ofMinutes(10)), now);
        a.refuseNext = 1;
        a.retryAfter = "3"; // its retry waits 3 s of real time: long enough to open the circuit and move the clock
        CompletableFuture<float[]> late = client.score(row(1));
        awaitCondition(() -> a.requests.get() == 1 && client.metrics().inFlight() == 0);
        a.dropShare = 1;
        assertThatThrownBy(() -> client.score(row(2)).get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOf(ScoringFailedException.class);
        a.dropShare = 0;
        now.addAndGet(TimeUnit.SECONDS.toNanos(20)); // past the open time, and past the first batch's deadline
        // the retry finds the circuit ready for a trial but its own deadline gone: it must not take the trial
        assertThatThrownBy(() -> late.get(10, TimeUnit.SECONDS)).cause().hasMessageContaining("deadline");
        assertThat(client.score(row(5)).get(10, TimeUnit.SECONDS)).containsExactly(5f);
    }

    @Test
    void item17_batchesBeyondMaxWaitingFailAtOnceAndAreCounted() throws Exception {
        FakeNode a = node(22);
        a.gate = new CompletableFuture<>();
        ScoringClient client = client(ClientConfig.builder(a.url()).concurrency(1, 1, 1).maxWaiting(2)
                .healthInterval(Duration.ofMinutes(10)));
        CompletableFuture<float[]> first = client.score(row(1));
        awaitCondition(() -> a.requests.get() == 1);
        CompletableFuture<float[]> second = client.score(row(2));
        CompletableFuture<float[]> third = client.score(row(3));
        assertThat(client.metrics().waiting()).isEqualTo(2);
        assertThatThrownBy(() -> client.score(row(4)).getNow(null)).cause()
                .isInstanceOf(ClientQueueFullException.class).hasMessageContaining("2 batches wait");
        assertThat(client.metrics().refusedQueueFull()).isEqualTo(1);
        a.gate.complete(null);
        assertThat(first.get(10, TimeUnit.SECONDS)).containsExactly(1f);
        assertThat(second.get(10, TimeUnit.SECONDS)).containsExactly(2f);
        assertThat(third.get(10, TimeUnit.SECONDS)).containsExactly(3f);
    }

    @Test
    void item17_aHundredThousandWaitersFailThroughTheOpenCircuitWithoutOverflowingTheStack() throws Exception {
        int waiters = 100_000;
        FakeNode a = node(23);
        a.gate = new CompletableFuture<>(); // never opened: the node dies holding the one request in flight
        ScoringClient client = client(ClientConfig.builder(a.url()).concurrency(1, 1, 1).maxWaiting(waiters)
                .maxAttempts(1).breaker(1, Duration.ofMinutes(1)).healthInterval(Duration.ofMinutes(10)));
        CompletableFuture<float[]> held = client.score(row(0));
        awaitCondition(() -> a.requests.get() == 1);
        List<CompletableFuture<float[]>> waiting = new ArrayList<>(waiters);
        for (int i = 0; i < waiters; i++) {
            waiting.add(client.score(row(i)));
        }
        assertThat(client.metrics().waiting()).isEqualTo(waiters);
        a.kill(); // no answer: the circuit opens, and every waiter is refused on the event loop
        assertThatThrownBy(() -> held.get(10, TimeUnit.SECONDS)).cause().isInstanceOf(ScoringFailedException.class);
        CompletableFuture.allOf(waiting.toArray(new CompletableFuture<?>[0])).handle((v, e) -> null)
                .get(30, TimeUnit.SECONDS);
        for (CompletableFuture<float[]> f : waiting) {
            assertThat(f).isCompletedExceptionally();
        }
        assertThatThrownBy(() -> waiting.get(waiters - 1).join()).cause().isInstanceOf(CircuitOpenException.class);
        assertThat(client.metrics().refusedByCircuit()).isEqualTo(waiters);
        assertThat(client.metrics().inFlight()).isZero();
    }

    @Test
    void aBatchFailsWhenItsDeadlinePasses() {
        FakeNode slow = node(14);
        slow.maxLatencyMicros = 5_000_000;
        ScoringClient client = client(ClientConfig.builder(slow.url()).requestTimeout(Duration.ofMillis(100))
                .deadline(Duration.ofMillis(400)).backoff(Duration.ofMillis(1), Duration.ofMillis(5))
                .breaker(1000, Duration.ofSeconds(1)));
        long start = System.nanoTime();
        // rows chosen so that the random latency exceeds the timeout almost always; the deadline bounds the wait
        assertThatThrownBy(() -> {
            for (int i = 0; i < 50; i++) {
                client.score(FloatMatrix.of(new float[]{i, 1}, 1, 2)).get(10, TimeUnit.SECONDS);
            }
        }).cause().isInstanceOf(ScoringFailedException.class).hasMessageContaining("deadline");
        assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(9));
    }

    @Test
    void sharedClientsAreOnePerConfigurationAndIgnoreClose() throws Exception {
        FakeNode a = node(15);
        ClientConfig config = ClientConfig.builder(a.url()).build();
        ScoringClient one = ScoringClients.shared(config);
        ScoringClient two = ScoringClients.shared(ClientConfig.builder(a.url()).build());
        assertThat(two).isSameAs(one);
        assertThat(ScoringClients.shared(config.toBuilder().maxAttempts(3).build())).isNotSameAs(one);
        one.close();
        assertThat(two.score(FloatMatrix.of(new float[]{5}, 1, 1)).get(10, TimeUnit.SECONDS)).containsExactly(5f);
        ScoringClients.closeAll();
        assertThat(ScoringClients.shared(config)).isNotSameAs(one);
        ScoringClients.closeAll();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static void awaitCondition(BooleanSupplier c) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!c.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition within 10 s").isLessThan(end);
            Thread.sleep(5);
        }
    }
}
