package dev.scoreflow.client;

/**
 * The client refused a batch at once: {@code maxWaiting} batches already wait for a slot under the concurrency
 * limit. Nothing was sent; the caller should slow down (or wait for answers) before submitting more.
 */
public final class ClientQueueFullException extends ScoringFailedException {
    public ClientQueueFullException(String message) {
        super(message, -1, 0, null);
    }
}
