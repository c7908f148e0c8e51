package dev.scoreflow.client;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The client's policies in isolation, with a hand-driven clock. */
class ResiliencePartsTest {
    private long now;

    @Test
    void circuitOpensAfterConsecutiveFailuresAndLetsOneTrialThroughAfterTheOpenTime() {
        CircuitBreaker b = new CircuitBreaker(3, 1_000, 10_000, () -> now);
        b.tryAcquire().noAnswer("refused");
        b.tryAcquire().noAnswer("refused");
        b.tryAcquire().answered(); // an answer resets the count
        b.tryAcquire().noAnswer("refused");
        b.tryAcquire().noAnswer("refused");
        CircuitBreaker.Permit third = b.tryAcquire();
        assertThat(third).isNotNull();
        third.noAnswer("refused");
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(b.tryAcquire()).isNull();
        assertThat(b.describe()).contains("last 3 attempts").contains("refused");
        now += 999;
        assertThat(b.tryAcquire()).isNull();
        now += 1;
        CircuitBreaker.Permit trial = b.tryAcquire();
        assertThat(trial.trial()).isTrue();
        assertThat(b.tryAcquire()).isNull(); // only one
        assertThat(b.describe()).contains("half-open");
        trial.noAnswer("still refused");
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.OPEN);
        now += 1_000;
        b.tryAcquire().answered();
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(b.tryAcquire()).isNotNull();
    }

    private CircuitBreaker openBreaker() {
        CircuitBreaker b = new CircuitBreaker(1, 1_000, 5_000, () -> now);
        b.tryAcquire().noAnswer("connection refused");
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.OPEN);
        now += 1_000;
        return b;
    }

    @Test
    void item16_aTrialNeverResolvedTimesOutBackToOpenAndALaterTrialCanCloseTheCircuit() {
        CircuitBreaker b = openBreaker();
        CircuitBreaker.Permit lost = b.tryAcquire();
        assertThat(lost.trial()).isTrue();
        now += 4_999;
        assertThat(b.tryAcquire()).isNull(); // the trial is still out
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
        now += 1;
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.OPEN); // timed out: counted as a failed trial
        assertThat(b.describe()).contains("trial attempt was not resolved within");
        lost.answered(); // too late: it no longer decides
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.OPEN);
        now += 1_000;
        CircuitBreaker.Permit next = b.tryAcquire();
        assertThat(next.trial()).isTrue();
        next.answered();
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.CLOSED);
    }

    @Test
    void item16_anUnusedTrialPermitHandsTheTrialToTheNextCaller() {
        CircuitBreaker b = openBreaker();
        CircuitBreaker.Permit unsent = b.tryAcquire();
        assertThat(b.tryAcquire()).isNull();
        unsent.unused();
        unsent.noAnswer("ignored: a permit resolves once");
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
        CircuitBreaker.Permit next = b.tryAcquire();
        assertThat(next.trial()).isTrue();
        next.answered();
        next.noAnswer("ignored: a permit resolves once");
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.CLOSED);
    }

    @Test
    void backoffGrowsExponentiallyWithJitterAndHonoursRetryAfter() {
        RetryPolicy p = new RetryPolicy(10, 1_000);
        assertThat(p.delayNanos(1, 0, 0.999)).isEqualTo(9);
        assertThat(p.delayNanos(3, 0, 0.999)).isEqualTo(39);
        assertThat(p.delayNanos(20, 0, 0.999)).isEqualTo(999);
        assertThat(p.delayNanos(200, 0, 0.5)).isEqualTo(500);
        assertThat(p.delayNanos(3, 0, 0.0)).isZero();
        assertThat(p.delayNanos(1, 5_000, 0.5)).isEqualTo(5_000); // Retry-After beats the cap
        assertThat(RetryPolicy.retryAfterNanos("2")).isEqualTo(2_000_000_000L);
        assertThat(RetryPolicy.retryAfterNanos("Wed, 21 Oct 2015 07:28:00 GMT")).isZero();
        assertThat(RetryPolicy.retryAfterNanos(null)).isZero();
        assertThat(List.of(429, 502, 503, 504)).allMatch(RetryPolicy::retryable);
        assertThat(List.of(400, 401, 404, 413, 415, 500)).noneMatch(RetryPolicy::retryable);
    }

    @Test
    void limitGrowsAdditivelyAndHalvesOnOverloadOncePerRoundTrip() {
        AdaptiveLimit l = new AdaptiveLimit(1, 4, 8, 100, 0, () -> now);
        AtomicInteger ran = new AtomicInteger();
        for (int i = 0; i < 6; i++) {
            l.submit(ran::incrementAndGet, false);
        }
        assertThat(ran.get()).isEqualTo(4);
        assertThat(l.waiting()).isEqualTo(2);
        now = 10_000_000;
        l.release(AdaptiveLimit.Signal.OK, 2_000_000, 100); // 4.25: one waiting starts
        assertThat(ran.get()).isEqualTo(5);
        assertThat(l.inFlight()).isEqualTo(4);
        l.release(AdaptiveLimit.Signal.OVERLOAD, 2_000_000, 100); // 2.1
        assertThat(l.limit()).isEqualTo(2);
        l.release(AdaptiveLimit.Signal.OVERLOAD, 2_000_000, 100); // same round trip: no second cut
        assertThat(l.limit()).isEqualTo(2);
        assertThat(l.inFlight()).isEqualTo(2);
        assertThat(ran.get()).isEqualTo(5);
        now += 5_000_000;
        l.release(AdaptiveLimit.Signal.OVERLOAD, 2_000_000, 100); // a later round trip: 1.06
        assertThat(l.limit()).isEqualTo(1);
        l.release(AdaptiveLimit.Signal.NEUTRAL, 0, 100); // in flight 0 < 1: the last waiting one starts
        assertThat(ran.get()).isEqualTo(6);
        for (int i = 0; i < 200; i++) {
            l.submit(() -> { }, false);
            l.release(AdaptiveLimit.Signal.OK, 2_000_000, 100);
        }
        assertThat(l.limit()).isEqualTo(8); // bounded by max
    }

    @Test
    void limitShrinksWhenLatencyRisesFarAboveTheFastestSeen() {
        AdaptiveLimit l = new AdaptiveLimit(1, 8, 16, 100, 3, () -> now);
        for (int i = 0; i < 20; i++) {
            l.submit(() -> { }, false);
            now += 10_000_000;
            l.release(AdaptiveLimit.Signal.OK, 1_000_000, 100);
        }
        int before = l.limit();
        for (int i = 0; i < 10; i++) {
            l.submit(() -> { }, false);
            now += 10_000_000;
            l.release(AdaptiveLimit.Signal.OK, 5_000_000, 100); // 5x the fastest: queueing at the server
        }
        assertThat(l.limit()).isLessThan(before);
    }

    @Test
    void item17_aFullQueueRefusesNewWorkButAlwaysTakesRetries() {
        AdaptiveLimit l = new AdaptiveLimit(1, 1, 1, 2, 0, () -> now);
        AtomicInteger ran = new AtomicInteger();
        assertThat(l.submit(ran::incrementAndGet, false)).isTrue(); // runs
        assertThat(l.submit(ran::incrementAndGet, false)).isTrue(); // waits
        assertThat(l.submit(ran::incrementAndGet, false)).isTrue(); // waits
        assertThat(l.submit(ran::incrementAndGet, false)).isFalse(); // full
        assertThat(l.submit(ran::incrementAndGet, true)).isTrue(); // a retry: admitted work keeps its place
        assertThat(l.waiting()).isEqualTo(3);
        assertThat(ran.get()).isEqualTo(1);
        for (int i = 0; i < 4; i++) {
            l.release(AdaptiveLimit.Signal.NEUTRAL, 0, 0);
        }
        assertThat(ran.get()).isEqualTo(4);
        assertThat(l.inFlight()).isZero();
        assertThatThrownBy(() -> l.release(AdaptiveLimit.Signal.NEUTRAL, 0, 0))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("without a slot");
    }

    @Test
    void item17_aHundredThousandWaitersThatEndAtOnceDrainWithoutDeepRecursion() throws Exception {
        int waiters = 100_000;
        AdaptiveLimit l = new AdaptiveLimit(1, 1, 1, waiters, 0, () -> now);
        AtomicInteger ended = new AtomicInteger();
        l.submit(() -> { }, false); // holds the only slot
        for (int i = 0; i < waiters; i++) {
            // as a call the open circuit refuses: it gives its slot back at once, which starts the next waiter
            assertThat(l.submit(() -> {
                ended.incrementAndGet();
                l.release(AdaptiveLimit.Signal.NEUTRAL, 0, 0);
            }, false)).isTrue();
        }
        Throwable[] failure = new Throwable[1];
        // a small stack, as an event loop might have: recursion per waiter would overflow it at once
        Thread releaser = new Thread(null, () -> {
            try {
                l.release(AdaptiveLimit.Signal.NEUTRAL, 0, 0);
            } catch (Throwable t) {
                failure[0] = t;
            }
        }, "releaser", 256 * 1024);
        releaser.start();
        releaser.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(releaser.isAlive()).isFalse();
        assertThat(failure[0]).isNull();
        assertThat(ended.get()).isEqualTo(waiters);
        assertThat(l.inFlight()).isZero();
        assertThat(l.waiting()).isZero();
    }

    /** Sends {@code n} requests of {@code rows} rows, each taking {@code latencyNanos}, one every 10 ms. */
    private void requests(AdaptiveLimit l, int n, int rows, long latencyNanos) {
        for (int i = 0; i < n; i++) {
            l.submit(() -> { }, false);
            now += 10_000_000;
            l.release(AdaptiveLimit.Signal.OK, latencyNanos, rows);
        }
    }

    @Test
    void item18_aTinyLastBatchFollowedByFullBatchesDoesNotCutTheLimit() {
        AdaptiveLimit l = new AdaptiveLimit(1, 8, 64, 100, 4, () -> now);
        requests(l, 1, 3, 1_000_000);      // a partition's last 3 rows: 1 ms, nearly all of it fixed cost
        requests(l, 40, 1000, 5_000_000);  // full batches: 5 ms, 5 us per row
        assertThat(l.limit()).isGreaterThanOrEqualTo(8);
    }

    @Test
    void item18_aTinyBatchAfterFullBatchesDoesNotCutTheLimitEither() {
        AdaptiveLimit l = new AdaptiveLimit(1, 8, 64, 100, 4, () -> now);
        requests(l, 40, 1000, 5_000_000);
        int before = l.limit();
        requests(l, 1, 3, 1_000_000); // 333 us per row, 66 times a full batch's: fixed cost, not queueing
        assertThat(l.limit()).isGreaterThanOrEqualTo(before);
    }

    @Test
    void item18_fullBatchesSlowingDownPerRowStillCutTheLimit() {
        AdaptiveLimit l = new AdaptiveLimit(1, 8, 64, 100, 4, () -> now);
        requests(l, 1, 3, 1_000_000);
        requests(l, 40, 1000, 5_000_000);
        int before = l.limit();
        requests(l, 5, 900, 25_000_000); // 28 us per row against 5: queueing at the server
        assertThat(l.limit()).isLessThan(before);
    }

    @Test
    void balancerPrefersTheLeastLoadedUntriedNodeInRotation() {
        List<Node> nodes = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            nodes.add(new Node(URI.create("http://h" + i + ":1")));
        }
        LeastOutstandingBalancer b = new LeastOutstandingBalancer(nodes);
        nodes.get(0).outstanding.set(5);
        assertThat(b.pick(Set.of())).isSameAs(nodes.get(1));
        assertThat(b.pick(Set.of(nodes.get(1)))).isSameAs(nodes.get(0));
        nodes.get(0).eject("down");
        assertThat(b.pick(Set.of(nodes.get(1)))).isSameAs(nodes.get(1)); // tried, but the only one in rotation
        nodes.get(1).eject("down");
        assertThat(b.pick(Set.of())).isNotNull(); // all ejected: still try, the breaker decides
        // power of two choices over many nodes never picks the most loaded of three
        List<Node> three = List.of(new Node(URI.create("http://a:1")), new Node(URI.create("http://b:1")),
                new Node(URI.create("http://c:1")));
        three.get(2).outstanding.set(9);
        LeastOutstandingBalancer p2c = new LeastOutstandingBalancer(three);
        for (int i = 0; i < 200; i++) {
            assertThat(p2c.pick(Set.of())).isNotSameAs(three.get(2));
        }
    }
}
