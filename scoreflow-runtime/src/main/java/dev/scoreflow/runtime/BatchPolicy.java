package dev.scoreflow.runtime;

/**
 * How a {@link Batcher} forms batches and how much it lets wait.
 *
 * @param maxBatchRows   rows per model call; a request with more rows is split into parts of at most this many,
 *                       which run in parallel and are put back together in order
 * @param maxDelayNanos  how long a partial batch may wait for more rows; 0 = never wait (a batch is whatever queued
 *                       while the inference threads were busy, so a lone request starts at once)
 * @param queueRows      rows that may wait to be scored; a request that would pass this is refused at once. A
 *                       request larger than the whole queue is admitted only when the queue is empty.
 * @param maxQueueWaitNanos how much work, in time at the measured speed, may wait: a request that would wait
 *                       longer is refused at once (0 = no time bound, only {@code queueRows}). This keeps the
 *                       queue as deep as the model is fast: a fast model may queue many rows, a slow one few.
 */
public record BatchPolicy(int maxBatchRows, long maxDelayNanos, int queueRows, long maxQueueWaitNanos) {
    public BatchPolicy {
        if (maxBatchRows < 1) {
            throw new IllegalArgumentException("maxBatchRows must be >= 1, got " + maxBatchRows);
        }
        if (maxDelayNanos < 0) {
            throw new IllegalArgumentException("maxDelayNanos must be >= 0, got " + maxDelayNanos);
        }
        if (queueRows < 1) {
            throw new IllegalArgumentException("queueRows must be >= 1, got " + queueRows);
        }
        if (maxQueueWaitNanos < 0) {
            throw new IllegalArgumentException("maxQueueWaitNanos must be >= 0, got " + maxQueueWaitNanos);
        }
    }

    /** A policy bounded by rows only. */
    public BatchPolicy(int maxBatchRows, long maxDelayNanos, int queueRows) {
        this(maxBatchRows, maxDelayNanos, queueRows, 0);
    }

    /** The batching limits of a model's settings. */
    public static BatchPolicy of(ModelConfig config) {
        return new BatchPolicy(config.maxBatchRows(), config.maxBatchDelayMicros() * 1000, config.queueRows(),
                config.maxQueueMillis() * 1_000_000L);
    }
}
