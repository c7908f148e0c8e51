package dev.scoreflow.jobs;

/**
 * The queue's broker did not answer or refused: a submission was not accepted (an HTTP API answers 503, never 202).
 */
public final class QueueUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public QueueUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
