package dev.scoreflow.api;

/** The input is malformed or does not fit the model; the message names the problem. Retrying cannot help. */
public class BadInputException extends ScoreflowException {
    private static final long serialVersionUID = 1L;

    public BadInputException(String message) {
        super(message);
    }
}
