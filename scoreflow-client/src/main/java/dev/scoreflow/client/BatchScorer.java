package dev.scoreflow.client;

import dev.scoreflow.api.FloatMatrix;

import java.util.concurrent.CompletableFuture;

/**
 * Scores one batch of rows asynchronously: the seam between {@link OrderedScoring} and a transport (the HTTP
 * client, or a fake in tests). Implementations must be thread-safe and must not block the caller.
 */
@FunctionalInterface
public interface BatchScorer {
    /** One score per row of {@code rows}, in row order; completes exceptionally on failure. */
    CompletableFuture<float[]> score(FloatMatrix rows);
}
