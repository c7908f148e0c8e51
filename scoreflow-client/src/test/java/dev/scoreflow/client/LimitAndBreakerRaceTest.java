package dev.scoreflow.client;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Races on the adaptive limit and the circuit breaker: many threads, many iterations, seeded randomness (each
 * assertion names its seed), and a deterministic single-threaded schedule for the breaker's exact invariants.
 * Invariants: in flight never exceeds the limit's maximum, every slot is given back exactly once (a second
 * release throws), every accepted task runs once, and the breaker never stays half-open on a lost trial.
 */
class LimitAndBreakerRaceTest {
    private static final int THREADS = 4;

    /** Runs {@code body(thread index, its Random)} on {@link #THREADS} threads started together; rethrows. */
    private static void race(long seed, BodyOf body) throws Exception {
        CyclicBarrier start = new CyclicBarrier(THREADS);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int index = t;
            Thread th = new Thread(() -> {
                try {
                    start.await(10, TimeUnit.SECONDS);
                    body.run(index, new Random(seed * 31 + index));
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "race-" + t);
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join(TimeUnit.SECONDS.toMillis(60));
            assertThat(th.isAlive()).as("seed %d: %s finished within 60 s", seed, th.getName()).isFalse();
        }
        if (failure.get() != null) {
            throw new AssertionError("seed " + seed + ": " + failure.get(), failure.get());
        }
    }

    @FunctionalInterface
    interface BodyOf {
        void run(int thread, Random random) throws Exception;
    }

    @Test
    void limitNeverExceedsItsMaximumAndGivesEverySlotBackOnceUnderConcurrentUse() throws Exception {
        for (long seed = 1; seed <= 8; seed++) {
            int max = 6;
            AtomicLong clock = new AtomicLong();
            AdaptiveLimit l = new AdaptiveLimit(1, 3, max, 1_000_000, 2, clock::get);
            AtomicInteger running = new AtomicInteger();
            AtomicInteger maxRunning = new AtomicInteger();
            AtomicInteger accepted = new AtomicInteger();
            AtomicInteger ran = new AtomicInteger();
            ConcurrentLinkedQueue<Object> held = new ConcurrentLinkedQueue<>(); // one token per slot held
            long s = seed;
            race(seed, (thread, random) -> {
                for (int i = 0; i < 20_000; i++) {
                    clock.addAndGet(random.nextInt(2_000_000));
                    if (random.nextInt(3) > 0) {
                        boolean refuseAtOnce = random.nextInt(4) == 0; // as a call the open circuit refuses
                        boolean first = random.nextInt(8) == 0;
                        if (l.submit(() -> {
                            ran.incrementAndGet();
                            maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                            if (refuseAtOnce) {
                                running.decrementAndGet();
                                l.release(AdaptiveLimit.Signal.NEUTRAL, 0, 0);
                            } else {
                                held.add(new Object());
                            }
                        }, first)) {
                            accepted.incrementAndGet();
                        }
                    } else if (held.poll() != null) {
                        running.decrementAndGet();
                        AdaptiveLimit.Signal signal = AdaptiveLimit.Signal.values()[random.nextInt(3)];
                        l.release(signal, 100_000 + random.nextInt(10_000_000), 1 + random.nextInt(2000));
                    }
                    assertThat(l.inFlight()).as("seed %d", s).isLessThanOrEqualTo(max);
                }
            });
            while (true) { // give back what is still held; that starts the waiting, until nothing is left
                if (held.poll() != null) {
                    running.decrementAndGet();
                    l.release(AdaptiveLimit.Signal.OK, 1_000_000, 100);
                } else if (l.waiting() == 0) {
                    break;
                } else {
                    throw new AssertionError("seed " + seed + ": " + l.waiting() + " waiting with no slot held");
                }
            }
            assertThat(maxRunning.get()).as("seed %d", seed).isLessThanOrEqualTo(max);
            assertThat(ran.get()).as("seed %d: every accepted task ran once", seed).isEqualTo(accepted.get());
            assertThat(l.inFlight()).as("seed %d", seed).isZero();
            assertThat(running.get()).as("seed %d", seed).isZero();
            assertThat(l.limit()).as("seed %d", seed).isBetween(1, max);
        }
    }

    @Test
    void breakerHandsOutAtMostOneLiveTrialAndNeverStaysHalfOpenOnALostOneInAnySeededSchedule() {
        long open = 1_000;
        long trialTimeout = 5_000;
        for (long seed = 1; seed <= 200; seed++) {
            Random random = new Random(seed);
            long[] now = {0};
            CircuitBreaker b = new CircuitBreaker(3, open, trialTimeout, () -> now[0]);
            List<CircuitBreaker.Permit> out = new ArrayList<>();
            List<Long> trialGrantedAt = new ArrayList<>();
            CircuitBreaker.Permit liveTrial = null;
            long liveTrialAt = 0;
            for (int step = 0; step < 2_000; step++) {
                now[0] += random.nextInt(400);
                int action = random.nextInt(10);
                if (action < 4) {
                    CircuitBreaker.Permit p = b.tryAcquire();
                    if (p != null) {
                        if (p.trial()) {
                            boolean previousStillLive = liveTrial != null && now[0] - liveTrialAt < trialTimeout;
                            assertThat(previousStillLive).as("seed %d step %d: a second live trial", seed, step)
                                    .isFalse();
                            liveTrial = p;
                            liveTrialAt = now[0];
                            trialGrantedAt.add(now[0]);
                        }
                        if (random.nextInt(10) > 0) { // else: lost, never resolved
                            out.add(p);
                        }
                    }
                } else if (!out.isEmpty()) {
                    CircuitBreaker.Permit p = out.remove(random.nextInt(out.size()));
                    switch (random.nextInt(3)) {
                        case 0 -> p.answered();
                        case 1 -> p.noAnswer("refused");
                        default -> p.unused();
                    }
                    if (random.nextInt(5) == 0) {
                        p.answered(); // a second resolution is ignored
                    }
                    if (p == liveTrial) {
                        liveTrial = null;
                    }
                }
                if (b.state() != CircuitBreaker.State.HALF_OPEN) {
                    liveTrial = null; // the circuit moved on (another answer closed it): that trial decides nothing
                } else if (b.trialOut()) { // as any caller would see it
                    assertThat(now[0] - liveTrialAt).as("seed %d step %d: half-open on a trial older than its "
                            + "timeout", seed, step).isLessThan(trialTimeout);
                }
            }
            // whatever was lost, the breaker comes back: after the open time and the trial timeout a call goes out
            now[0] += trialTimeout + open;
            b.state();
            now[0] += open;
            CircuitBreaker.Permit p = b.tryAcquire();
            assertThat(p).as("seed %d: a permit after the timeouts", seed).isNotNull();
            p.answered();
            assertThat(b.state()).as("seed %d", seed).isEqualTo(CircuitBreaker.State.CLOSED);
        }
    }

    @Test
    void breakerUnderConcurrentPermitsEndsWithNoTrialOutAndAlwaysComesBack() throws Exception {
        // the exact one-live-trial invariant is checked by the seeded schedule above, where every step is seen;
        // here threads race on the lock: no permit may throw, be lost, or leave a trial out once all are resolved
        for (long seed = 1; seed <= 8; seed++) {
            AtomicLong clock = new AtomicLong();
            long open = 50_000;
            CircuitBreaker b = new CircuitBreaker(2, open, Long.MAX_VALUE / 4, clock::get);
            AtomicInteger trialsGranted = new AtomicInteger();
            race(seed, (thread, random) -> {
                for (int i = 0; i < 20_000; i++) {
                    clock.addAndGet(random.nextInt(1_000));
                    CircuitBreaker.Permit p = b.tryAcquire();
                    if (p == null) {
                        continue;
                    }
                    if (p.trial()) {
                        trialsGranted.incrementAndGet();
                    }
                    switch (random.nextInt(4)) {
                        case 0 -> p.answered();
                        case 1 -> p.unused();
                        default -> p.noAnswer("refused");
                    }
                }
            });
            assertThat(trialsGranted.get()).as("seed %d: the schedule reached half-open", seed).isPositive();
            assertThat(b.trialOut()).as("seed %d: every permit was resolved", seed).isFalse();
            clock.addAndGet(open);
            CircuitBreaker.Permit p = b.tryAcquire();
            assertThat(p).as("seed %d", seed).isNotNull();
            p.answered();
            assertThat(b.state()).as("seed %d", seed).isEqualTo(CircuitBreaker.State.CLOSED);
        }
    }
}
