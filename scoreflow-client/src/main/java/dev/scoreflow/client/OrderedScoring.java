package dev.scoreflow.client;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ScoreflowException;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * A blocking iterator of scores over an iterator of feature rows: the adapter a Spark {@code mapPartitions}
 * needs. Rows are grouped into batches of {@code batchRows}; at most {@code maxInFlight} batches are being scored
 * at once; scores come out in input order.
 *
 * <p>Back-pressure is the pull: input rows are read only to keep the window of in-flight batches full, so memory
 * holds at most {@code maxInFlight} batches of rows and their scores, whatever the speeds of the producer, the
 * service and the consumer. {@link #hasNext()} is false only after the last answer has arrived; if a batch fails,
 * the next call to {@link #hasNext()} or {@link #next()} rethrows the failure on the calling thread and no more
 * input is read.
 *
 * <p>Not thread-safe: one consumer thread, as a Spark task is.
 */
public final class OrderedScoring implements Iterator<Float> {
    private final Iterator<float[]> input;
    private final BatchScorer scorer;
    private final int batchRows;
    private final int maxInFlight;
    private final ArrayDeque<CompletableFuture<float[]>> inFlight = new ArrayDeque<>();
    private int features = -1;
    private float[] current;
    private int at;
    private RuntimeException failure;

    /**
     * @param batchRows   rows per request
     * @param maxInFlight requests being scored at once (the window)
     */
    public OrderedScoring(Iterator<float[]> input, BatchScorer scorer, int batchRows, int maxInFlight) {
        if (batchRows < 1) {
            throw new IllegalArgumentException("batchRows must be >= 1, got " + batchRows);
        }
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("maxInFlight must be >= 1, got " + maxInFlight);
        }
        this.input = input;
        this.scorer = scorer;
        this.batchRows = batchRows;
        this.maxInFlight = maxInFlight;
    }

    /** Batches being scored right now (never more than {@code maxInFlight}). */
    public int inFlight() {
        return inFlight.size();
    }

    @Override
    public boolean hasNext() {
        if (failure != null) {
            throw failure;
        }
        while (current == null || at == current.length) {
            fill();
            CompletableFuture<float[]> head = inFlight.poll();
            if (head == null) {
                return false;
            }
            current = await(head);
            at = 0;
        }
        return true;
    }

    @Override
    public Float next() {
        if (!hasNext()) {
            throw new NoSuchElementException("no more scores");
        }
        float s = current[at++];
        if (at == current.length) {
            fill(); // keep the window full while the consumer works on this batch's scores
        }
        return s;
    }

    /** Starts batches until the window is full or the input is exhausted. */
    private void fill() {
        while (inFlight.size() < maxInFlight && input.hasNext()) {
            inFlight.add(start(nextBatch()));
        }
    }

    private FloatMatrix nextBatch() {
        float[] first = input.next();
        if (features < 0) {
            features = first.length;
        }
        float[] data = new float[batchRows * features];
        int rows = 0;
        float[] row = first;
        while (true) {
            if (row.length != features) {
                throw fail(new ScoreflowException("row has " + row.length + " features, earlier rows have "
                        + features));
            }
            System.arraycopy(row, 0, data, rows * features, features);
            rows++;
            if (rows == batchRows || !input.hasNext()) {
                break;
            }
            row = input.next();
        }
        return FloatMatrix.of(rows == batchRows ? data : java.util.Arrays.copyOf(data, rows * features), rows,
                features);
    }

    private CompletableFuture<float[]> start(FloatMatrix batch) {
        int rows = batch.rows();
        return scorer.score(batch).thenApply(scores -> {
            if (scores.length != rows) {
                throw new ScoreflowException("the service answered " + scores.length + " scores for " + rows
                        + " rows");
            }
            return scores;
        });
    }

    private float[] await(CompletableFuture<float[]> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw fail(new ScoreflowException("interrupted while waiting for scores", e));
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw fail(cause instanceof ScoreflowException s ? s
                    : new ScoreflowException("scoring failed: " + cause, cause));
        }
    }

    private RuntimeException fail(RuntimeException e) {
        failure = e;
        for (CompletableFuture<float[]> f : inFlight) {
            f.cancel(false);
        }
        inFlight.clear();
        return e;
    }
}
