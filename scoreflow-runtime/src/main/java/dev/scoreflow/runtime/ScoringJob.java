package dev.scoreflow.runtime;

import dev.scoreflow.api.FloatMatrix;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/** One submitted request: its rows, where its scores go, and how many of its parts are still to run. */
final class ScoringJob {
    final FloatMatrix rows;
    final float[] scores;
    final long deadlineNanos;
    final CompletableFuture<float[]> result = new CompletableFuture<>();
    private final AtomicInteger partsLeft;

    ScoringJob(FloatMatrix rows, int parts, long deadlineNanos) {
        this.rows = rows;
        this.scores = new float[rows.rows()];
        this.deadlineNanos = deadlineNanos;
        this.partsLeft = new AtomicInteger(parts);
    }

    /** Records that one part's scores are in place; completes the job when it was the last. */
    void partDone() {
        if (partsLeft.decrementAndGet() == 0) {
            result.complete(scores);
        }
    }

    /** Whether the job already failed or was cancelled, so its remaining parts need not run. */
    boolean abandoned() {
        return result.isDone();
    }

    /** One slice of a job's rows that goes into one batch. */
    record Part(ScoringJob job, int fromRow, int rows, long enqueuedNanos) {
    }
}
