package dev.scoreflow.api;

/** The work could not start (or finish) before the caller's deadline; it was not scored. */
public class DeadlineExceededException extends ScoreflowException {
    private static final long serialVersionUID = 1L;

    public DeadlineExceededException(String message) {
        super(message);
    }
}
