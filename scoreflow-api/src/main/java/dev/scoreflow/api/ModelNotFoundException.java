package dev.scoreflow.api;

/** No model (or no version of it) is loaded under the requested name. */
public class ModelNotFoundException extends ScoreflowException {
    private static final long serialVersionUID = 1L;

    public ModelNotFoundException(String message) {
        super(message);
    }
}
