package dev.scoreflow.client;

import dev.scoreflow.api.ScoreflowException;

/**
 * A batch could not be scored: the service refused it (a 4xx other than 429, or a 500), or every attempt the
 * retry policy allowed failed, or the batch's deadline passed. The message says which node answered what.
 */
public class ScoringFailedException extends ScoreflowException {
    private final int status;
    private final int attempts;

    public ScoringFailedException(String message, int status, int attempts, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.attempts = attempts;
    }

    /** The last HTTP status received, or -1 if the last attempt got no answer. */
    public int status() {
        return status;
    }

    /** Attempts made. */
    public int attempts() {
        return attempts;
    }
}
