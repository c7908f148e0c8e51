package dev.scoreflow.api;

/**
 * Root of every unchecked exception Scoreflow throws. Subtypes exist only where a caller acts differently:
 * {@link BadInputException} (the request is wrong, do not retry), {@link CapacityExceededException} (try again
 * later), {@link DeadlineExceededException} (the caller's time ran out), {@link ModelNotFoundException}.
 */
public class ScoreflowException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ScoreflowException(String message) {
        super(message);
    }

    public ScoreflowException(String message, Throwable cause) {
        super(message, cause);
    }
}
