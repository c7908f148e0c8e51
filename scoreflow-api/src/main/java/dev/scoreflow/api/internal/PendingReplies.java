package dev.scoreflow.api.internal;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.CapacityExceededException;
import dev.scoreflow.api.DeadlineExceededException;
import dev.scoreflow.api.SeedBinaryCodec;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.function.LongSupplier;

/**
 * The scoring requests a request-reply client awaits replies for (over Kafka, over RabbitMQ), by correlation id: at
 * most {@code maxInFlight} (more fail at once with {@link CapacityExceededException}), each with a deadline on an
 * injected ticker, completed by its reply (seed-binary scores, or an error reply), expired, or failed all at once.
 * Whoever completes a request's future (reply, timeout, send failure, close, the caller's cancel) frees its slot.
 * Thread-safe.
 */
public final class PendingReplies {
    private final int maxInFlight;
    private final Semaphore permits;
    private final LongSupplier ticker;
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong ignored = new AtomicLong();

    private record Pending(CompletableFuture<float[]> future, long deadlineNanos, int rows) {
    }

    /** A request: its new correlation id and the future its reply completes. */
    public record Request(String id, CompletableFuture<float[]> future) {
    }

    public PendingReplies(int maxInFlight, LongSupplier ticker) {
        this.maxInFlight = maxInFlight;
        this.permits = new Semaphore(maxInFlight);
        this.ticker = ticker;
    }

    /**
     * Registers a request of {@code rows} rows that waits {@code timeout} for its reply; its future has already
     * failed ({@link CapacityExceededException}) if {@code maxInFlight} requests are pending.
     */
    public Request open(int rows, Duration timeout) {
        String id = UUID.randomUUID().toString();
        if (!permits.tryAcquire()) {
            return new Request(id, CompletableFuture.failedFuture(new CapacityExceededException(maxInFlight
                    + " requests are already awaiting their reply (maxInFlight)", Duration.ofMillis(100))));
        }
        CompletableFuture<float[]> future = new CompletableFuture<>();
        future.whenComplete((r, e) -> { // the caller's cancel; the paths below have settled the request already
            if (pending.remove(id) != null) {
                permits.release();
            }
        });
        pending.put(id, new Pending(future, ticker.getAsLong() + timeout.toNanos(), rows));
        return new Request(id, future);
    }

    /**
     * Completes request {@code id} with its reply: with {@code error} non-null, fails it ({@link BadInputException}
     * if {@code badInput}, else {@code failure}); otherwise with the scores in {@code body}, one per row of the
     * request (else {@code failure}). A reply to no pending request (a duplicate, a late one, another client's) is
     * counted and ignored.
     *
     * @param failure makes the client's exception from a message and a cause (null if none)
     */
    public void reply(String id, String error, boolean badInput, byte[] body,
                      BiFunction<String, Throwable, RuntimeException> failure) {
        Pending p = id == null ? null : pending.get(id);
        if (p == null || !settle(id, p)) {
            ignored.incrementAndGet();
            return;
        }
        if (error != null) {
            p.future.completeExceptionally(badInput ? new BadInputException(error) : failure.apply(error, null));
            return;
        }
        float[] scores;
        try {
            scores = SeedBinaryCodec.decodeScores(ByteBuffer.wrap(body == null ? new byte[0] : body));
        } catch (RuntimeException e) {
            p.future.completeExceptionally(failure.apply("reply " + id + " cannot be read: " + e.getMessage(), e));
            return;
        }
        if (scores.length != p.rows) {
            p.future.completeExceptionally(failure.apply("reply " + id + " has " + scores.length + " scores for "
                    + p.rows + " rows", null));
            return;
        }
        p.future.complete(scores);
    }

    /** Fails with {@link DeadlineExceededException} every request past its deadline ("no reply ... on {@code where}"). */
    public void expire(String where) {
        long now = ticker.getAsLong();
        for (Map.Entry<String, Pending> e : pending.entrySet()) {
            if (now - e.getValue().deadlineNanos >= 0 && settle(e.getKey(), e.getValue())) {
                e.getValue().future.completeExceptionally(new DeadlineExceededException("no reply to request "
                        + e.getKey() + " on " + where + " within its timeout"));
            }
        }
    }

    /** Fails every pending request with {@code why}. */
    public void failAll(RuntimeException why) {
        for (Map.Entry<String, Pending> e : pending.entrySet()) {
            if (settle(e.getKey(), e.getValue())) {
                e.getValue().future.completeExceptionally(why);
            }
        }
    }

    /** Requests awaiting their reply. */
    public int size() {
        return pending.size();
    }

    /** Replies that matched no pending request, ignored. */
    public long ignored() {
        return ignored.get();
    }

    /** Whether request {@code id} still awaits its reply. */
    public boolean awaits(String id) {
        return id != null && pending.containsKey(id);
    }

    /** Fails request {@code id}, if it still awaits its reply. */
    public void fail(String id, RuntimeException why) {
        Pending p = id == null ? null : pending.get(id);
        if (p != null && settle(id, p)) {
            p.future.completeExceptionally(why);
        }
    }

    /**
     * Takes request {@code id} out of the pending ones and frees its slot, before its future completes: whoever the
     * completion wakes (a caller blocked in {@code get}) already sees the slot free. False if another path (a reply,
     * a timeout, close, the caller's cancel) settled it first.
     */
    private boolean settle(String id, Pending p) {
        if (!pending.remove(id, p)) {
            return false;
        }
        permits.release();
        return true;
    }
}
