package dev.scoreflow.jobs;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A queue of scoring jobs with SQS semantics, and the store of their states and results. Thread-safe; one instance
 * per process is enough (it pools its connections).
 */
public interface JobQueue extends AutoCloseable {

    /**
     * Queues a job durably: when this returns, the job survives a crash of this process and of the broker.
     *
     * @throws QueueUnavailableException if the broker does not answer or refuses: the job is not queued
     */
    Submitted submit(JobRequest request);

    /**
     * Takes up to {@code max} jobs that are visible (queued and due, or leased and past their lease), each leased
     * for the visibility timeout. Waits up to {@code wait} for one if there is none, without polling in a tight
     * loop. A job that reaches the maximum of receives without success is dead-lettered instead of delivered.
     */
    List<Delivery> receive(int max, Duration wait) throws InterruptedException;

    /**
     * Stores the result and ends the job. Exactly once: refused (false) if the delivery's lease has passed to
     * another delivery or the job is no longer running, so a result is stored once whatever the redeliveries.
     */
    boolean complete(Delivery delivery, byte[] result, String resultType);

    /**
     * A failed attempt: the job is delivered again after {@code retryAfter}, or dead-lettered with {@code error} if
     * it has been received the maximum number of times; with {@code retryAfter} null, it fails for good.
     *
     * @return false if the delivery's lease had already passed on (nothing changed)
     */
    boolean fail(Delivery delivery, String error, Duration retryAfter);

    /**
     * {@link #complete}, answered later: a queue that commits outcomes in batches (Kafka's, one transaction for many)
     * completes the future once the result is durable and visible, with what {@code complete} would return, or
     * exceptionally with {@link QueueUnavailableException} if it was not stored (the lease runs out and the job comes
     * again). The default stores it at once with {@code complete}. A caller bounds the futures it waits on.
     */
    default java.util.concurrent.CompletableFuture<Boolean> completeAsync(Delivery delivery, byte[] result,
                                                                          String resultType) {
        try {
            return java.util.concurrent.CompletableFuture.completedFuture(complete(delivery, result, resultType));
        } catch (QueueUnavailableException e) {
            return java.util.concurrent.CompletableFuture.failedFuture(e);
        }
    }

    /** {@link #fail}, answered later, as {@link #completeAsync} is for {@link #complete}. */
    default java.util.concurrent.CompletableFuture<Boolean> failAsync(Delivery delivery, String error,
                                                                      Duration retryAfter) {
        try {
            return java.util.concurrent.CompletableFuture.completedFuture(fail(delivery, error, retryAfter));
        } catch (QueueUnavailableException e) {
            return java.util.concurrent.CompletableFuture.failedFuture(e);
        }
    }

    /** The job's state and result, if it is known (finished jobs are kept for a while, then cleaned up). */
    Optional<Job> get(String id);

    /** Cancels a queued job. @return false if it is unknown or no longer queued */
    boolean cancel(String id);

    /**
     * Calls {@code listener} with the id of every job of this queue that reaches a final state (done, failed,
     * dead-lettered, cancelled), whichever process finished it; with null when some may have been missed (the
     * connection to the broker was lost for a while): then anything may have finished. Called on a thread of the
     * queue's: the listener must not block.
     */
    void onFinished(java.util.function.Consumer<String> listener);

    /**
     * Publishes a short event (a JSON document of at most {@link #MAX_EVENT_BYTES} UTF-8 bytes, such as the
     * {@code watch} trigger's "file scored") to every process subscribed with {@link #onEvent} to this queue, now or
     * soon: publish-subscribe beside the queue's point-to-point jobs. Best effort: a subscriber that is not connected
     * when it is published does not see it.
     *
     * @throws QueueUnavailableException if the broker does not take it
     */
    void publish(String event);

    /** Calls {@code listener} with every event published to this queue from now on, on a thread of the queue's. */
    void onEvent(java.util.function.Consumer<String> listener);

    /** The largest event {@link #publish} takes (PostgreSQL's NOTIFY payloads end below 8,000 bytes). */
    int MAX_EVENT_BYTES = 7000;

    /**
     * Records what became of a finished job's callbacks ({@link Job#callbacks()}), as the worker that sends them
     * learns it. Does nothing for an unknown job.
     */
    void noteCallbacks(String id, String status);

    QueueSettings settings();

    @Override
    void close();
}
