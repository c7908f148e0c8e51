package dev.scoreflow.client;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * How many requests may be in flight, adapted by AIMD: each answered request raises the limit by {@code 1/limit}
 * (about +1 per round trip of the whole window); an overload signal (429, 503, a timeout) cuts it to half, and a
 * request whose latency per row is more than {@code tolerance} times the recent fastest per-row latency of requests
 * of its size cuts it by a tenth (queueing at the server shows as latency before it shows as 503s). Requests are
 * compared only with requests of about their size (the same power of two of rows) because a request's fixed cost
 * dominates small ones: a partition's small last batch must not set a baseline that full batches then seem slow
 * against, nor look slow against full batches. Cuts happen at most once per recent round trip, so one burst of
 * refusals counts once. The limit stays within {@code [min, max]}.
 *
 * <p>Work over the limit waits in a FIFO queue of at most {@code maxWaiting} tasks: {@link #submit} refuses a new
 * task when it is full (the caller fails the batch at once). Retries go to the head and are always accepted: they
 * are batches already admitted, and each holds at most one place.
 *
 * <p>Thread-safe. Tasks run outside the lock, on the submitting or releasing thread, one after the other: a task
 * that releases its slot at once (a refused call) does not run the next waiting task inside itself, so draining
 * any number of waiting tasks takes constant stack depth.
 */
final class AdaptiveLimit {
    private static final Logger LOG = LoggerFactory.getLogger(AdaptiveLimit.class);

    /** How a request ended, as far as the limit cares. */
    enum Signal { OK, OVERLOAD, NEUTRAL }

    private static final int WINDOW = 256;
    private static final int SIZE_CLASSES = 32; // floor(log2(rows)) of a positive int

    /** Tasks this thread is running for any limit: a task's own releases append here instead of recursing. */
    private static final ThreadLocal<ArrayDeque<Runnable>> RUNNING = new ThreadLocal<>();

    private final int min;
    private final int max;
    private final int maxWaiting;
    private final double tolerance;
    private final LongSupplier clock;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    private double limit;
    private int inFlight;
    private long lastCutAt = Long.MIN_VALUE / 2;
    private final long[] fastestPerRow = new long[SIZE_CLASSES];
    private final long[] fastestPerRowInWindow = new long[SIZE_CLASSES];
    private int samplesInWindow;
    private long recentLatency;

    AdaptiveLimit(int min, int initial, int max, int maxWaiting, double tolerance, LongSupplier clock) {
        this.min = min;
        this.max = max;
        this.maxWaiting = maxWaiting;
        this.tolerance = tolerance;
        this.clock = clock;
        this.limit = initial;
        Arrays.fill(fastestPerRow, Long.MAX_VALUE);
        Arrays.fill(fastestPerRowInWindow, Long.MAX_VALUE);
    }

    /**
     * Runs {@code task} now if under the limit, else queues it ({@code first}: at the head, always accepted).
     * Returns false, without running or keeping the task, when the queue already holds {@code maxWaiting}.
     */
    boolean submit(Runnable task, boolean first) {
        synchronized (this) {
            if (inFlight >= (int) limit) {
                if (first) {
                    waiting.addFirst(task);
                } else if (waiting.size() >= maxWaiting) {
                    return false;
                } else {
                    waiting.addLast(task);
                }
                return true;
            }
            inFlight++;
        }
        run(task);
        return true;
    }

    /**
     * A request that held a slot ended; adapts the limit and starts waiting work that now fits.
     *
     * @param rows the request's rows (0 or less when it was not sent): latency is judged per row
     * @throws IllegalStateException if no slot is held: a slot given back twice would let more than the limit out
     */
    void release(Signal signal, long latencyNanos, int rows) {
        List<Runnable> start = null;
        synchronized (this) {
            if (inFlight <= 0) {
                throw new IllegalStateException("release() without a slot held (in flight: " + inFlight + ")");
            }
            inFlight--;
            adapt(signal, latencyNanos, rows);
            while (inFlight < (int) limit && !waiting.isEmpty()) {
                inFlight++;
                if (start == null) {
                    start = new ArrayList<>(2);
                }
                start.add(waiting.pollFirst());
            }
        }
        if (start != null) {
            for (Runnable r : start) {
                run(r);
            }
        }
    }

    /**
     * Runs {@code task}, or, when this thread is already running tasks, queues it for that outer loop: a task that
     * starts more tasks (by releasing its slot) returns before they run, so the stack never grows with them.
     */
    private static void run(Runnable task) {
        ArrayDeque<Runnable> loop = RUNNING.get();
        if (loop != null) {
            loop.add(task);
            return;
        }
        loop = new ArrayDeque<>();
        RUNNING.set(loop);
        try {
            Runnable next = task;
            while (next != null) {
                try {
                    next.run();
                } catch (RuntimeException e) {
                    // a task must end its own request; if one throws, the others still run
                    LOG.error("a scoring task failed unexpectedly", e);
                }
                next = loop.poll();
            }
        } finally {
            RUNNING.remove();
        }
    }

    private void adapt(Signal signal, long latency, int rows) {
        long now = clock.getAsLong();
        switch (signal) {
            case OVERLOAD -> cut(now, 0.5);
            case OK -> {
                recentLatency = recentLatency == 0 ? latency : (recentLatency * 7 + latency) / 8;
                int n = Math.max(1, rows);
                int size = 31 - Integer.numberOfLeadingZeros(n);
                long perRow = latency / n;
                fastestPerRowInWindow[size] = Math.min(fastestPerRowInWindow[size], perRow);
                long base = Math.min(fastestPerRow[size], fastestPerRowInWindow[size]);
                if (++samplesInWindow == WINDOW) { // forget old minima, so a slower normal can establish itself
                    System.arraycopy(fastestPerRowInWindow, 0, fastestPerRow, 0, SIZE_CLASSES);
                    Arrays.fill(fastestPerRowInWindow, Long.MAX_VALUE);
                    samplesInWindow = 0;
                }
                if (tolerance > 0 && base != Long.MAX_VALUE && perRow > tolerance * base) {
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

    int maxWaiting() {
        return maxWaiting;
    }

    /**
     * Removes and returns everything waiting (on close). Each task gets a slot, as if started: it gives it back
     * with {@link #release} when it runs and sees the client closed.
     */
    synchronized List<Runnable> drain() {
        List<Runnable> all = new ArrayList<>(waiting);
        waiting.clear();
        inFlight += all.size();
        return all;
    }
}
