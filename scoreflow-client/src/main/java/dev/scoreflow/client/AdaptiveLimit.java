package dev.scoreflow.client;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * How many requests may be in flight, adapted by AIMD: each answered request raises the limit by {@code 1/limit}
 * (about +1 per round trip of the whole window); an overload signal (429, 503, a timeout) cuts it to half, and a
 * request slower than {@code tolerance} times the recent fastest one cuts it by a tenth (queueing at the server
 * shows as latency before it shows as 503s). Cuts happen at most once per recent round trip, so one burst of
 * refusals counts once. The limit stays within {@code [min, max]}.
 *
 * <p>Work over the limit waits in a FIFO queue (retries go to its head: they are older). The queue holds only what
 * callers submitted and is bounded by their own windows ({@link OrderedScoring}'s {@code maxInFlight} per
 * consumer); {@link #waiting()} exposes it. Thread-safe; tasks run outside the lock on the releasing thread.
 */
final class AdaptiveLimit {
    /** How a request ended, as far as the limit cares. */
    enum Signal { OK, OVERLOAD, NEUTRAL }

    private static final int WINDOW = 256;

    private final int min;
    private final int max;
    private final double tolerance;
    private final LongSupplier clock;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    private double limit;
    private int inFlight;
    private long lastCutAt = Long.MIN_VALUE / 2;
    private long fastest = Long.MAX_VALUE;
    private long fastestInWindow = Long.MAX_VALUE;
    private int samplesInWindow;
    private long recentLatency;

    AdaptiveLimit(int min, int initial, int max, double tolerance, LongSupplier clock) {
        this.min = min;
        this.max = max;
        this.tolerance = tolerance;
        this.clock = clock;
        this.limit = initial;
    }

    /** Runs {@code task} now if under the limit, else queues it ({@code first}: at the head). */
    void submit(Runnable task, boolean first) {
        synchronized (this) {
            if (inFlight >= (int) limit) {
                if (first) {
                    waiting.addFirst(task);
                } else {
                    waiting.addLast(task);
                }
                return;
            }
            inFlight++;
        }
        task.run();
    }

    /** A request that held a slot ended; adapts the limit and starts waiting work that now fits. */
    void release(Signal signal, long latencyNanos) {
        List<Runnable> start = new ArrayList<>(2);
        synchronized (this) {
            inFlight--;
            adapt(signal, latencyNanos);
            while (inFlight < (int) limit && !waiting.isEmpty()) {
                inFlight++;
                start.add(waiting.pollFirst());
            }
        }
        for (Runnable r : start) {
            r.run();
        }
    }

    private void adapt(Signal signal, long latency) {
        long now = clock.getAsLong();
        switch (signal) {
            case OVERLOAD -> cut(now, 0.5);
            case OK -> {
                recentLatency = recentLatency == 0 ? latency : (recentLatency * 7 + latency) / 8;
                fastestInWindow = Math.min(fastestInWindow, latency);
                if (++samplesInWindow == WINDOW) { // forget old minima, so a slower normal can establish itself
                    fastest = fastestInWindow;
                    fastestInWindow = Long.MAX_VALUE;
                    samplesInWindow = 0;
                }
                long base = Math.min(fastest, fastestInWindow);
                if (tolerance > 0 && base != Long.MAX_VALUE && latency > tolerance * base) {
                    cut(now, 0.9);
                } else {
                    limit = Math.min(max, limit + 1.0 / limit);
                }
            }
            default -> { }
        }
    }

    private void cut(long now, double factor) {
        if (now - lastCutAt < Math.max(recentLatency, 1_000_000L)) {
            return;
        }
        lastCutAt = now;
        limit = Math.max(min, limit * factor);
    }

    synchronized int limit() {
        return (int) limit;
    }

    synchronized int inFlight() {
        return inFlight;
    }

    synchronized int waiting() {
        return waiting.size();
    }

    /** Removes and returns everything waiting (on close). */
    synchronized List<Runnable> drain() {
        List<Runnable> all = new ArrayList<>(waiting);
        waiting.clear();
        return all;
    }
}
