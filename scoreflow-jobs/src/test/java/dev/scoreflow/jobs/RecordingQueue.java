package dev.scoreflow.jobs;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A queue that records, per job id, what passes through it on the way to the real one: each delivery handed to the
 * worker (what the worker scores) and the store's answer to each outcome, for exactly-once checks that do not trust a
 * worker's own counters. Give each worker one over its own queue instance; it does not close the queue it wraps.
 * Thread-safe.
 */
public final class RecordingQueue implements JobQueue {
    /** What became of an outcome: the store took it, refused it (the lease had passed on), or never answered. */
    public enum Answer { STORED, REFUSED, CUT }

    /** A delivery handed out, with the moment it was ({@link System#nanoTime()}). */
    public record HandedOut(String id, int receives, long atNanos) {
    }

    /** An outcome and the store's answer: a result ({@code error} null) or a failed attempt with its error. */
    public record Outcome(String id, int receives, String error, Answer answer) {
    }

    private final JobQueue queue;
    private final List<HandedOut> handedOut = new ArrayList<>(); // guarded by this
    private final List<Outcome> outcomes = new ArrayList<>(); // guarded by this

    public RecordingQueue(JobQueue queue) {
        this.queue = queue;
    }

    /** Every delivery handed out, in order. */
    public synchronized List<HandedOut> handedOut() {
        return List.copyOf(handedOut);
    }

    /** Every outcome the store answered (or did not), in the order of the answers. */
    public synchronized List<Outcome> outcomes() {
        return List.copyOf(outcomes);
    }

    /** Deliveries handed out per job id. */
    public synchronized Map<String, Integer> handedOutPerId() {
        Map<String, Integer> n = new HashMap<>();
        handedOut.forEach(h -> n.merge(h.id(), 1, Integer::sum));
        return n;
    }

    /** Results the store answered with {@code answer}, per job id. */
    public synchronized Map<String, Integer> resultsPerId(Answer answer) {
        Map<String, Integer> n = new HashMap<>();
        for (Outcome o : outcomes) {
            if (o.error() == null && o.answer() == answer) {
                n.merge(o.id(), 1, Integer::sum);
            }
        }
        return n;
    }

    /** Deliveries handed out per job id, over several workers' queues. */
    public static Map<String, Integer> handedOutPerId(List<RecordingQueue> queues) {
        Map<String, Integer> n = new HashMap<>();
        queues.forEach(q -> q.handedOutPerId().forEach((id, k) -> n.merge(id, k, Integer::sum)));
        return n;
    }

    /** Results the store answered with {@code answer} per job id, over several workers' queues. */
    public static Map<String, Integer> resultsPerId(List<RecordingQueue> queues, Answer answer) {
        Map<String, Integer> n = new HashMap<>();
        queues.forEach(q -> q.resultsPerId(answer).forEach((id, k) -> n.merge(id, k, Integer::sum)));
        return n;
    }

    @Override
    public List<Delivery> receive(int max, Duration wait) throws InterruptedException {
        List<Delivery> got = queue.receive(max, wait);
        long now = System.nanoTime();
        synchronized (this) {
            got.forEach(d -> handedOut.add(new HandedOut(d.id(), d.receives(), now)));
        }
        return got;
    }

    @Override
    public boolean complete(Delivery d, byte[] result, String resultType) {
        return answer(completeAsync(d, result, resultType));
    }

    @Override
    public boolean fail(Delivery d, String error, Duration retryAfter) {
        return answer(failAsync(d, error, retryAfter));
    }

    /** The answer as the synchronous calls give it: a store that does not answer within a minute is unavailable. */
    private static boolean answer(CompletableFuture<Boolean> f) {
        try {
            return f.get(1, java.util.concurrent.TimeUnit.MINUTES);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r
                    : new QueueUnavailableException("the outcome failed: " + e.getCause(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new QueueUnavailableException("the outcome was not answered within a minute", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QueueUnavailableException("interrupted while storing an outcome", e);
        }
    }

    @Override
    public CompletableFuture<Boolean> completeAsync(Delivery d, byte[] result, String resultType) {
        // the caller sees the answer only once it is recorded: a count it acts on is never ahead of this record
        return recorded(d, null, call(() -> queue.completeAsync(d, result, resultType)));
    }

    @Override
    public CompletableFuture<Boolean> failAsync(Delivery d, String error, Duration retryAfter) {
        return recorded(d, error, call(() -> queue.failAsync(d, error, retryAfter)));
    }

    private static CompletableFuture<Boolean> call(java.util.function.Supplier<CompletableFuture<Boolean>> c) {
        try {
            return c.get();
        } catch (QueueUnavailableException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private CompletableFuture<Boolean> recorded(Delivery d, String error, CompletableFuture<Boolean> answer) {
        return answer.whenComplete((stored, e) -> {
            Answer a = e != null ? Answer.CUT : stored ? Answer.STORED : Answer.REFUSED;
            synchronized (this) {
                outcomes.add(new Outcome(d.id(), d.receives(), error, a));
            }
        });
    }

    @Override
    public Submitted submit(JobRequest request) {
        return queue.submit(request);
    }

    @Override
    public Optional<Job> get(String id) {
        return queue.get(id);
    }

    @Override
    public boolean cancel(String id) {
        return queue.cancel(id);
    }

    @Override
    public void onFinished(Consumer<String> listener) {
        queue.onFinished(listener);
    }

    @Override
    public void publish(String event) {
        queue.publish(event);
    }

    @Override
    public void onEvent(Consumer<String> listener) {
        queue.onEvent(listener);
    }

    @Override
    public void noteCallbacks(String id, String status) {
        queue.noteCallbacks(id, status);
    }

    @Override
    public QueueSettings settings() {
        return queue.settings();
    }

    /** Leaves the wrapped queue open: whoever opened it closes it. */
    @Override
    public void close() {
    }
}
