package dev.scoreflow.streaming;

import dev.scoreflow.api.ScoreflowException;

/** A streaming job cannot go on: the broker, a topic, a definitions file or the model is not what it needs. */
public class StreamingException extends ScoreflowException {
    private static final long serialVersionUID = 1L;

    public StreamingException(String message) {
        super(message);
    }

    public StreamingException(String message, Throwable cause) {
        super(message, cause);
    }
}
