package dev.scoreflow.runtime;

/**
 * Receives what a {@link Batcher} does, for metrics. Called on the inference threads; implementations must be
 * fast and thread-safe.
 */
public interface BatchObserver {
    /** Does nothing. */
    BatchObserver NONE = new BatchObserver() {
    };

    /** A batch of {@code rows} rows from {@code parts} request parts ran for {@code nanos}. */
    default void batch(int rows, int parts, long nanos) {
    }

    /** A request part waited {@code nanos} in the queue before its batch started. */
    default void queued(long nanos) {
    }
}
