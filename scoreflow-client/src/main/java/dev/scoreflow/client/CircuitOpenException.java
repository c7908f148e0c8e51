package dev.scoreflow.client;

/** The circuit is open: the cluster has failed many attempts in a row, so calls fail at once instead of retrying. */
public final class CircuitOpenException extends ScoringFailedException {
    public CircuitOpenException(String message) {
        super(message, -1, 0, null);
    }
}
