package dev.scoreflow.api;

import java.time.Duration;

/**
 * The work was refused because a bounded queue is full. Nothing was started; the caller may retry after
 * {@link #retryAfter()}.
 */
public class CapacityExceededException extends ScoreflowException {
    private static final long serialVersionUID = 1L;
    private final Duration retryAfter;

    public CapacityExceededException(String message, Duration retryAfter) {
        super(message);
        this.retryAfter = retryAfter;
    }

    /** How long the caller should wait before trying again. */
    public Duration retryAfter() {
        return retryAfter;
    }
}
