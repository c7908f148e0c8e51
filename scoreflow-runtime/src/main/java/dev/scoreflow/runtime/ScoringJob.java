package dev.scoreflow.runtime;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;

/**
 * One submitted request: its rows, where its scores go, how many of its parts are still to run, and how many are
 * being read right now. A request for the score only ({@link #outputs} null) completes with a float[] of scores;
 * a request for model outputs completes with a {@code Map<String, Tensor>} of the outputs over all its rows,
 * assembled from its parts' tensors in row order.
 *
 * <p>The caller owns the rows and frees them (a Netty request body) once {@link #result} completes, so the result
 * completes only when no part is in use: a part claimed by a running batch is in use until the batch has copied
 * its rows (or, on the zero-copy path, until the model call returned). A failure while a part is in use (another
 * part missed its deadline, the model failed, the caller cancelled) is held back until the last part in use is
 * released. Parts not yet claimed when the job failed are never claimed: {@link #claim} refuses them.
 *
 * <p>Thread-safe; the counters are guarded by this object's monitor, and the future is completed outside it so
 * the caller's callbacks never run under it.
 */
final class ScoringJob {
    final FloatMatrix rows;
    /** The scores (score-only requests), else null. */
    final float[] scores;
    /** The outputs asked for, in order, or null for the score only. */
    final Set<String> outputs;
    final long deadlineNanos;
    final Result result = new Result();
    /** Each finished part's outputs by its first row (output requests). */
    private final TreeMap<Integer, Map<String, Tensor>> partOutputs;
    private int partsLeft;
    private int inUse;
    private Throwable failure;
    private boolean finished;

    /** A request for the score of each row. */
    ScoringJob(FloatMatrix rows, int parts, long deadlineNanos) {
        this(rows, parts, deadlineNanos, null);
    }

    /** A request for the model's {@code outputs} (null: the score of each row). */
    ScoringJob(FloatMatrix rows, int parts, long deadlineNanos, Set<String> outputs) {
        this.rows = rows;
        this.outputs = outputs;
        this.scores = outputs == null ? new float[rows.rows()] : null;
        this.partOutputs = outputs == null ? null : new TreeMap<>();
        this.deadlineNanos = deadlineNanos;
        this.partsLeft = parts;
    }

    /** Marks one part as in use by a batch; false if the job already failed, so the part must be skipped. */
    synchronized boolean claim() {
        if (failure != null || finished) {
            return false;
        }
        inUse++;
        return true;
    }

    /** The batch no longer reads the rows of a part it claimed; completes a failure that waited for that. */
    void release() {
        Throwable f;
        synchronized (this) {
            if (inUse <= 0) {
                throw new IllegalStateException("release without claim");
            }
            inUse--;
            if (failure == null || inUse > 0 || finished) {
                return;
            }
            finished = true;
            f = failure;
        }
        result.finishExceptionally(f);
    }

    /** Records that one part's scores are in place (its part released); completes the job when it was the last. */
    void partDone() {
        synchronized (this) {
            if (failure != null || finished || --partsLeft > 0) {
                return;
            }
            finished = true;
        }
        result.finish(scores);
    }

    /**
     * Records the outputs of the part that starts at {@code fromRow} (its part released); completes the job with
     * every output over all its rows when it was the last.
     */
    void partDone(int fromRow, Map<String, Tensor> values) {
        synchronized (this) {
            if (failure != null || finished) {
                return;
            }
            partOutputs.put(fromRow, values);
            if (--partsLeft > 0) {
                return;
            }
            finished = true;
        }
        Map<String, Tensor> all = new LinkedHashMap<>();
        try {
            for (String name : outputs) {
                List<Tensor> pieces = new ArrayList<>(partOutputs.size());
                for (Map<String, Tensor> part : partOutputs.values()) {
                    pieces.add(part.get(name));
                }
                all.put(name, Tensor.concat(pieces));
            }
        } catch (RuntimeException e) {
            result.finishExceptionally(e);
            return;
        }
        result.finish(all);
    }

    /**
     * Fails the job: at once if no part is in use, else when the last one is released. Later failures and parts
     * are ignored.
     */
    void fail(Throwable t) {
        synchronized (this) {
            if (failure != null || finished) {
                return;
            }
            failure = t;
            if (inUse > 0) {
                return;
            }
            finished = true;
        }
        result.finishExceptionally(t);
    }

    /** Whether the job failed or was cancelled (its future may still wait for a part in use). */
    synchronized boolean abandoned() {
        return failure != null;
    }

    /**
     * The job's future. {@link #cancel} asks for the job to be dropped; like every other completion it takes effect
     * once no part is in use, so {@code isDone()} may stay false for the length of a copy (or a zero-copy model
     * call) after {@code cancel} returned.
     */
    final class Result extends CompletableFuture<Object> {
        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (isDone()) {
                return false;
            }
            fail(new CancellationException("cancelled by the caller"));
            return true;
        }

        private void finish(Object value) {
            super.complete(value);
        }

        private void finishExceptionally(Throwable t) {
            if (t instanceof CancellationException) {
                super.cancel(false);
            } else {
                super.completeExceptionally(t);
            }
        }
    }

    /** One slice of a job's rows that goes into one batch. */
    record Part(ScoringJob job, int fromRow, int rows, long enqueuedNanos) {
    }
}
