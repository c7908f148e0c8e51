package dev.scoreflow.client;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

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
        AdaptiveLimit l = new AdaptiveLimit(1, 4, 8, 0, () -> now);
        AtomicInteger ran = new AtomicInteger();
        for (int i = 0; i < 6; i++) {
            l.submit(ran::incrementAndGet, false);
        }
        assertThat(ran.get()).isEqualTo(4);
        assertThat(l.waiting()).isEqualTo(2);
        now = 10_000_000;
        l.release(AdaptiveLimit.Signal.OK, 2_000_000); // 4.25: one waiting starts
        assertThat(ran.get()).isEqualTo(5);
        assertThat(l.inFlight()).isEqualTo(4);
        l.release(AdaptiveLimit.Signal.OVERLOAD, 2_000_000); // 2.1
        assertThat(l.limit()).isEqualTo(2);
        l.release(AdaptiveLimit.Signal.OVERLOAD, 2_000_000); // same round trip: no second cut
        assertThat(l.limit()).isEqualTo(2);
        assertThat(l.inFlight()).isEqualTo(2);
        assertThat(ran.get()).isEqualTo(5);
        now += 5_000_000;
        l.release(AdaptiveLimit.Signal.OVERLOAD, 2_000_000); // a later round trip: 1.06
        assertThat(l.limit()).isEqualTo(1);
        l.release(AdaptiveLimit.Signal.NEUTRAL, 0); // in flight 0 < 1: the last waiting one starts
        assertThat(ran.get()).isEqualTo(6);
        for (int i = 0; i < 200; i++) {
            l.submit(() -> { }, false);
            l.release(AdaptiveLimit.Signal.OK, 2_000_000);
        }
        assertThat(l.limit()).isEqualTo(8); // bounded by max
    }

    @Test
    void limitShrinksWhenLatencyRisesFarAboveTheFastestSeen() {
        AdaptiveLimit l = new AdaptiveLimit(1, 8, 16, 3, () -> now);
        for (int i = 0; i < 20; i++) {
            l.submit(() -> { }, false);
            now += 10_000_000;
            l.release(AdaptiveLimit.Signal.OK, 1_000_000);
        }
        int before = l.limit();
        for (int i = 0; i < 10; i++) {
            l.submit(() -> { }, false);
            now += 10_000_000;
            l.release(AdaptiveLimit.Signal.OK, 5_000_000); // 5x the fastest: queueing at the server
        }
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
