package dev.scoreflow.client;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * What a {@link ScoringClient} has done: rows and requests scored, retries, failures, refusals (open circuit, full
 * waiting queue), requests in
 * flight and waiting, the current concurrency limit, and a latency histogram of successful requests. Thread-safe;
 * counters only grow.
 */
public final class ClientMetrics {
    /** Upper bounds of the latency buckets, in microseconds (the last bucket is everything above). */
    private static final long[] BOUNDS_MICROS = {250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000,
            250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000};

    final LongAdder rows = new LongAdder();
    final LongAdder requests = new LongAdder();
    final LongAdder attempts = new LongAdder();
    final LongAdder retries = new LongAdder();
    final LongAdder failures = new LongAdder();
    final LongAdder refused = new LongAdder();
    final LongAdder ejections = new LongAdder();
    final LongAdder queueFull = new LongAdder();
    private final AtomicLongArray buckets = new AtomicLongArray(BOUNDS_MICROS.length + 1);
    private final LongAdder latencyMicrosSum = new LongAdder();
    private final IntSupplier inFlight;
    private final IntSupplier waiting;
    private final IntSupplier limit;
    private final java.util.function.LongSupplier reconnects;

    ClientMetrics(IntSupplier inFlight, IntSupplier waiting, IntSupplier limit,
                  java.util.function.LongSupplier reconnects) {
        this.inFlight = inFlight;
        this.waiting = waiting;
        this.limit = limit;
        this.reconnects = reconnects;
    }

    void latency(long nanos) {
        long micros = nanos / 1000;
        int b = 0;
        while (b < BOUNDS_MICROS.length && micros > BOUNDS_MICROS[b]) {
            b++;
        }
        buckets.incrementAndGet(b);
        latencyMicrosSum.add(micros);
    }

    /** Rows scored successfully. */
    public long rows() {
        return rows.sum();
    }

    /** Batches scored successfully. */
    public long requests() {
        return requests.sum();
    }

    /** HTTP attempts sent, retries included. */
    public long attempts() {
        return attempts.sum();
    }

    /** Attempts that were retries. */
    public long retries() {
        return retries.sum();
    }

    /** Batches that failed for good. */
    public long failures() {
        return failures.sum();
    }

    /** Batches refused at once by the open circuit. */
    public long refusedByCircuit() {
        return refused.sum();
    }

    /** Batches refused at once because {@code maxWaiting} batches were already waiting for a slot. */
    public long refusedQueueFull() {
        return queueFull.sum();
    }

    /** Times a node was taken out of rotation. */
    public long ejections() {
        return ejections.sum();
    }

    /**
     * Requests sent again on a new connection because the server had closed their kept-alive one (not retries:
     * the node is not at fault).
     */
    public long reconnects() {
        return reconnects.getAsLong();
    }

    /** Requests in flight now. */
    public int inFlight() {
        return inFlight.getAsInt();
    }

    /** Batches waiting for a slot under the concurrency limit now. */
    public int waiting() {
        return waiting.getAsInt();
    }

    /** The adaptive concurrency limit now. */
    public int concurrencyLimit() {
        return limit.getAsInt();
    }

    /** The latency (ms) below which {@code q} (0..1) of successful requests finished, to the bucket's bound. */
    public double latencyQuantileMillis(double q) {
        long total = 0;
        for (int i = 0; i < buckets.length(); i++) {
            total += buckets.get(i);
        }
        if (total == 0) {
            return 0;
        }
        long rank = (long) Math.ceil(q * total);
        long seen = 0;
        for (int i = 0; i < buckets.length(); i++) {
            seen += buckets.get(i);
            if (seen >= rank) {
                return i < BOUNDS_MICROS.length ? BOUNDS_MICROS[i] / 1000.0 : Double.POSITIVE_INFINITY;
            }
        }
        return Double.POSITIVE_INFINITY;
    }

    /** Mean latency of successful requests, in ms. */
    public double meanLatencyMillis() {
        long n = requests();
        return n == 0 ? 0 : latencyMicrosSum.sum() / 1000.0 / n;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "rows=%d requests=%d attempts=%d retries=%d failures=%d "
                        + "refusedByCircuit=%d refusedQueueFull=%d ejections=%d reconnects=%d inFlight=%d waiting=%d limit=%d latencyMeanMs=%.2f "
                        + "latencyP99Ms<=%.1f", rows(), requests(), attempts(), retries(), failures(),
                refusedByCircuit(), refusedQueueFull(), ejections(), reconnects(), inFlight(), waiting(), concurrencyLimit(), meanLatencyMillis(),
                latencyQuantileMillis(0.99));
    }
}
