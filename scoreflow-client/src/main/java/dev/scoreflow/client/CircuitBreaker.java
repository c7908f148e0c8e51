package dev.scoreflow.client;

import java.util.function.LongSupplier;

/**
 * Stops a retry storm against a dead cluster: after {@code threshold} consecutive failed attempts (connection
 * errors and timeouts; any HTTP answer proves the cluster alive) the circuit opens and every attempt is refused
 * for {@code openNanos}; then one trial attempt goes through, and its outcome closes or re-opens the circuit.
 *
 * <p>Thread-safe; time comes from the injected clock.
 */
final class CircuitBreaker {
    enum State { CLOSED, OPEN, HALF_OPEN }

    private final int threshold;
    private final long openNanos;
    private final LongSupplier clock;
    private State state = State.CLOSED;
    private int consecutiveFailures;
    private long openedAt;
    private boolean trialOut;
    private String lastFailure = "";

    CircuitBreaker(int threshold, long openNanos, LongSupplier clock) {
        this.threshold = threshold;
        this.openNanos = openNanos;
        this.clock = clock;
    }

    /** Whether an attempt may go out now; in the half-open state only one may. */
    synchronized boolean allow() {
        switch (state) {
            case CLOSED:
                return true;
            case OPEN:
                if (clock.getAsLong() - openedAt < openNanos) {
                    return false;
                }
                state = State.HALF_OPEN;
                trialOut = true;
                return true;
            default:
                if (trialOut) {
                    return false;
                }
                trialOut = true;
                return true;
        }
    }

    /** An attempt got an HTTP answer (whatever its status): the cluster is reachable. */
    synchronized void reachable() {
        consecutiveFailures = 0;
        state = State.CLOSED;
        trialOut = false;
    }

    /** An attempt failed without an answer. */
    synchronized void failed(String why) {
        consecutiveFailures++;
        lastFailure = why;
        if (state == State.HALF_OPEN || consecutiveFailures >= threshold) {
            if (state != State.OPEN) {
                openedAt = clock.getAsLong();
            }
            state = State.OPEN;
            trialOut = false;
        }
    }

    synchronized State state() {
        return state;
    }

    /** Why the circuit is open, for the error a refused caller sees. */
    synchronized String describe() {
        long left = Math.max(0, openNanos - (clock.getAsLong() - openedAt));
        return "circuit open: the last " + consecutiveFailures + " attempts failed without an answer (last: "
                + lastFailure + "); calls fail at once for another " + left / 1_000_000 + " ms";
    }
}
