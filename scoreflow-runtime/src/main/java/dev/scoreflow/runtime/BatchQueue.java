package dev.scoreflow.runtime;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The batcher's queue and its batching decisions, without threads or clocks: callers pass the time in, so the
 * size-or-time rules are tested deterministically. Not thread-safe; {@link Batcher} guards it with its lock.
 */
final class BatchQueue {
    private final BatchPolicy policy;
    private final ArrayDeque<ScoringJob.Part> parts = new ArrayDeque<>();
    private long queuedRows;

    BatchQueue(BatchPolicy policy) {
        this.policy = policy;
    }

    /** Number of parts a job of {@code rows} rows is split into. */
    int partsFor(int rows) {
        return Math.max(1, (rows + policy.maxBatchRows() - 1) / policy.maxBatchRows());
    }

    /**
     * Enqueues {@code job} split into parts of at most {@code maxBatchRows}; false (and nothing queued) if its rows
     * do not fit the queue.
     */
    boolean offer(ScoringJob job, long now) {
        int rows = job.rows.rows();
        if (queuedRows > 0 && queuedRows + rows > policy.queueRows()) {
            return false;
        }
        for (int from = 0; from < rows; from += policy.maxBatchRows()) {
            parts.add(new ScoringJob.Part(job, from, Math.min(policy.maxBatchRows(), rows - from), now));
        }
        if (rows == 0) {
            parts.add(new ScoringJob.Part(job, 0, 0, now));
        }
        queuedRows += rows;
        return true;
    }

    /**
     * The next batch if one is due at {@code now}: a full batch as soon as {@code maxBatchRows} rows wait, else
     * whatever waits once the oldest part has waited {@code maxDelayNanos}. Null if nothing is due.
     */
    List<ScoringJob.Part> poll(long now) {
        if (parts.isEmpty()) {
            return null;
        }
        if (queuedRows < policy.maxBatchRows() && now - parts.peekFirst().enqueuedNanos() < policy.maxDelayNanos()) {
            return null;
        }
        List<ScoringJob.Part> batch = new ArrayList<>();
        int rows = 0;
        while (!parts.isEmpty() && rows + parts.peekFirst().rows() <= policy.maxBatchRows()) {
            ScoringJob.Part p = parts.pollFirst();
            rows += p.rows();
            queuedRows -= p.rows();
            batch.add(p);
        }
        return batch;
    }

    /** Nanoseconds from {@code now} until {@link #poll} would return a batch; {@code Long.MAX_VALUE} if empty. */
    long nanosUntilDue(long now) {
        if (parts.isEmpty()) {
            return Long.MAX_VALUE;
        }
        if (queuedRows >= policy.maxBatchRows()) {
            return 0;
        }
        return Math.max(0, parts.peekFirst().enqueuedNanos() + policy.maxDelayNanos() - now);
    }

    /** Removes and returns every queued part, due or not. */
    List<ScoringJob.Part> drainAll() {
        List<ScoringJob.Part> all = new ArrayList<>(parts);
        parts.clear();
        queuedRows = 0;
        return all;
    }

    boolean isEmpty() {
        return parts.isEmpty();
    }

    long queuedRows() {
        return queuedRows;
    }

    int queuedParts() {
        return parts.size();
    }
}
