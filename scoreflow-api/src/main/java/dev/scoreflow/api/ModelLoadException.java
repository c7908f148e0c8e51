package dev.scoreflow.api;

/** A model file could not be loaded or does not have a shape Scoreflow can score; the message says why. */
public class ModelLoadException extends ScoreflowException {
    private static final long serialVersionUID = 1L;

    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
