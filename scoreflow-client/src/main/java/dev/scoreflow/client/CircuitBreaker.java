package dev.scoreflow.client;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.LongSupplier;

/**
 * Stops a retry storm against a dead cluster: after {@code threshold} consecutive failed attempts (connection
 * errors and timeouts; any HTTP answer proves the cluster alive) the circuit opens and every attempt is refused
 * for {@code openNanos}; then one trial attempt goes through, and its outcome closes or re-opens the circuit.
 *
 * <p>Every attempt goes out under a {@link Permit} from {@link #tryAcquire()}, which the caller resolves exactly once
 * ({@link Permit#answered}, {@link Permit#noAnswer} or {@link Permit#unused}). A trial permit that is not resolved
 * within {@code trialTimeoutNanos} counts as a failed trial: the next look at the breaker re-opens it, so a
 * forgotten trial cannot hold the circuit half-open (and the JVM's shared client refusing every call) for ever.
 *
 * <p>Thread-safe; time comes from the injected clock. State changes are logged once each, with the reason.
 */
final class CircuitBreaker {
    private static final Logger LOG = LoggerFactory.getLogger(CircuitBreaker.class);

    enum State { CLOSED, OPEN, HALF_OPEN }

    private final int threshold;
    private final long openNanos;
    private final long trialTimeoutNanos;
    private final LongSupplier clock;
    private State state = State.CLOSED;
    private int consecutiveFailures;
    private long openedAt;
    private Permit trial; // the trial out now, in HALF_OPEN
    private long trialStartedAt;
    private String lastFailure = "";

    CircuitBreaker(int threshold, long openNanos, long trialTimeoutNanos, LongSupplier clock) {
        this.threshold = threshold;
        this.openNanos = openNanos;
        this.trialTimeoutNanos = trialTimeoutNanos;
        this.clock = clock;
    }

    /**
     * The right to send one attempt. Resolve it exactly once; later calls are ignored, so a permit cannot be
     * counted twice. Only the first resolution of the current trial decides the half-open state.
     */
    final class Permit {
        private final boolean isTrial;
        private boolean resolved; // guarded by the breaker

        private Permit(boolean isTrial) {
            this.isTrial = isTrial;
        }

        /** Whether this permit is the half-open state's one trial. */
        boolean trial() {
            return isTrial;
        }

        /** The attempt got an HTTP answer (whatever its status, decodable or not): the cluster is reachable. */
        void answered() {
            resolve(this, null);
        }

        /** The attempt failed without an answer (connection error, timeout). */
        void noAnswer(String why) {
            resolve(this, why == null ? "no answer" : why);
        }

        /** The attempt was never sent: no verdict; a trial permit lets the next caller try instead. */
        void unused() {
            boolean wasTrial;
            synchronized (CircuitBreaker.this) {
                if (resolved) {
                    return;
                }
                resolved = true;
                wasTrial = trial == this;
                if (wasTrial) {
                    trial = null; // still half-open: the next caller is the trial
                }
            }
            if (wasTrial) {
                LOG.debug("circuit half-open: the trial attempt was not sent; the next attempt is the trial");
            }
        }
    }

    /** A permit for one attempt, or null when the circuit refuses it (open, or a trial already out). */
    Permit tryAcquire() {
        String log;
        Permit p;
        synchronized (this) {
            long now = clock.getAsLong();
            log = expireTrial(now);
            switch (state) {
                case CLOSED -> p = new Permit(false);
                case OPEN -> {
                    if (now - openedAt < openNanos) {
                        p = null;
                    } else {
                        state = State.HALF_OPEN;
                        p = startTrial(now);
                        log = "circuit half-open after " + openNanos / 1_000_000 + " ms: one trial attempt decides";
                    }
                }
                default -> p = trial == null ? startTrial(now) : null;
            }
        }
        if (log != null) {
            LOG.info(log);
        }
        return p;
    }

    private Permit startTrial(long now) {
        trial = new Permit(true);
        trialStartedAt = now;
        return trial;
    }

    /** Re-opens the circuit if the trial out has outlived its timeout; returns what to log. Holds the lock. */
    private String expireTrial(long now) {
        if (state != State.HALF_OPEN || trial == null || now - trialStartedAt < trialTimeoutNanos) {
            return null;
        }
        trial.resolved = true; // a late answer from it no longer decides anything
        trial = null;
        consecutiveFailures++;
        lastFailure = "the trial attempt was not resolved within " + trialTimeoutNanos / 1_000_000 + " ms";
        state = State.OPEN;
        openedAt = now;
        return "circuit re-opened: " + lastFailure;
    }

    private void resolve(Permit p, String failure) {
        String log = null;
        boolean warn = false;
        synchronized (this) {
            if (p.resolved) {
                return;
            }
            p.resolved = true;
            boolean decides = trial == p; // a superseded trial counts as any other attempt
            if (decides) {
                trial = null;
            }
            State before = state;
            if (failure == null) {
                consecutiveFailures = 0;
                state = State.CLOSED;
                trial = null; // a trial still out no longer decides anything
                if (before != State.CLOSED) {
                    log = "circuit closed: an attempt got an answer" + (decides ? " (the trial)" : "");
                }
            } else {
                consecutiveFailures++;
                lastFailure = failure;
                if ((before == State.HALF_OPEN && decides) || (before == State.CLOSED
                        && consecutiveFailures >= threshold)) {
                    state = State.OPEN;
                    openedAt = clock.getAsLong();
                    warn = true;
                    log = (before == State.HALF_OPEN ? "circuit re-opened: the trial attempt failed: "
                            : "circuit opened after " + consecutiveFailures + " attempts in a row without an answer; "
                                    + "last: ") + failure + "; calls fail at once for " + openNanos / 1_000_000
                            + " ms";
                }
            }
        }
        if (log != null) {
            if (warn) {
                LOG.warn(log);
            } else {
                LOG.info(log);
            }
        }
    }

    State state() {
        String log;
        State now;
        synchronized (this) {
            log = expireTrial(clock.getAsLong());
            now = state;
        }
        if (log != null) {
            LOG.info(log);
        }
        return now;
    }

    /** Whether a trial permit is out and unresolved (a test hook). */
    synchronized boolean trialOut() {
        return trial != null;
    }

    /** Why the circuit refuses calls, for the error a refused caller sees. */
    synchronized String describe() {
        if (state == State.HALF_OPEN) {
            return "circuit half-open: a trial attempt is out and decides whether calls go through again (the last "
                    + consecutiveFailures + " attempts failed without an answer; last: " + lastFailure + ")";
        }
        long left = Math.max(0, openNanos - (clock.getAsLong() - openedAt));
        return "circuit open: the last " + consecutiveFailures + " attempts failed without an answer (last: "
                + lastFailure + "); calls fail at once for another " + left / 1_000_000 + " ms";
    }
}
