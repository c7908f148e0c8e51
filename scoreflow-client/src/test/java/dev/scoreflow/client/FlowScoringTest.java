package dev.scoreflow.client;

import dev.scoreflow.api.ScoreflowException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** Scoring as a Flow stage: order, demand end to end, bounded input, errors and cancellation. */
class FlowScoringTest {
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** Emits rows 0..n-1 on the requesting thread, never beyond demand; records the most demand outstanding. */
    static final class RangePublisher implements Flow.Publisher<float[]> {
        final long n;
        final AtomicLong maxOutstanding = new AtomicLong();
        final AtomicBoolean cancelled = new AtomicBoolean();

        RangePublisher(long n) {
            this.n = n;
        }

        @Override
        public void subscribe(Flow.Subscriber<? super float[]> s) {
            s.onSubscribe(new Flow.Subscription() {
                long next;
                long requested;
                boolean emitting;

                @Override
                public synchronized void request(long k) {
                    requested += k;
                    maxOutstanding.accumulateAndGet(requested, Math::max);
                    if (emitting) {
                        return; // the loop below is already running (re-entrant request)
                    }
                    emitting = true;
                    while (requested > 0 && next < n && !cancelled.get()) {
                        requested--;
                        s.onNext(new float[]{next++, 1f});
                    }
                    emitting = false;
                    if (next == n && !cancelled.get()) {
                        s.onComplete();
                    }
                }

                @Override
                public void cancel() {
                    cancelled.set(true);
                }
            });
        }
    }

    /** Requests one item at a time; collects them. */
    static final class OneByOne implements Flow.Subscriber<Scored<float[]>> {
        final List<Scored<float[]>> items = new ArrayList<>();
        final CompletableFuture<Void> done = new CompletableFuture<>();
        final int cancelAfter;
        Flow.Subscription s;

        OneByOne(int cancelAfter) {
            this.cancelAfter = cancelAfter;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            this.s = s;
            s.request(1);
        }

        @Override
        public void onNext(Scored<float[]> item) {
            items.add(item);
            if (items.size() == cancelAfter) {
                s.cancel();
                done.complete(null);
            } else {
                s.request(1);
            }
        }

        @Override
        public void onError(Throwable t) {
            done.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            done.complete(null);
        }
    }

    private static BatchScorer firstColumn(AtomicInteger calls, int failAt) {
        return b -> {
            if (calls.incrementAndGet() == failAt) {
                return CompletableFuture.failedFuture(new ScoreflowException("HTTP 500 from node: crashed"));
            }
            float[] s = new float[b.rows()];
            for (int r = 0; r < s.length; r++) {
                s[r] = b.get(r, 0);
            }
            return CompletableFuture.supplyAsync(() -> s);
        };
    }

    @Test
    void scoresAPublisherInOrderAndAsksTheInputForABoundedAmount() throws Exception {
        RangePublisher input = new RangePublisher(50_000);
        OneByOne out = new OneByOne(-1);
        FlowScoring.publisher(input, r -> r, firstColumn(new AtomicInteger(), -1), 100, 4, ErrorMode.FAIL, pool)
                .subscribe(out);
        out.done.get(30, TimeUnit.SECONDS);
        assertThat(out.items).hasSize(50_000);
        for (int i = 0; i < out.items.size(); i++) {
            assertThat(out.items.get(i).score()).isEqualTo((float) i);
        }
        assertThat(input.maxOutstanding.get()).isLessThanOrEqualTo(100 * (4 + 1));
    }

    @Test
    void aFailedBatchEndsTheOutputWithOnErrorAndCancelsTheInput() {
        RangePublisher input = new RangePublisher(50_000);
        OneByOne out = new OneByOne(-1);
        FlowScoring.publisher(input, r -> r, firstColumn(new AtomicInteger(), 5), 100, 2, ErrorMode.FAIL, pool)
                .subscribe(out);
        assertThat(out.done).failsWithin(30, TimeUnit.SECONDS).withThrowableThat()
                .withMessageContaining("HTTP 500 from node: crashed");
        assertThat(out.items).hasSize(400);
        assertThat(input.cancelled.get()).isTrue();
    }

    @Test
    void cancellingTheOutputCancelsTheInput() throws Exception {
        RangePublisher input = new RangePublisher(1_000_000);
        OneByOne out = new OneByOne(250);
        FlowScoring.publisher(input, r -> r, firstColumn(new AtomicInteger(), -1), 100, 2, ErrorMode.FAIL, pool)
                .subscribe(out);
        out.done.get(30, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!input.cancelled.get()) {
            assertThat(System.nanoTime()).as("input cancelled within 10 s").isLessThan(deadline);
            Thread.sleep(1);
        }
        assertThat(out.items).hasSize(250);
    }

    /** Runs each task on a new thread it records, so a test can see whether the loop's thread ended. */
    static final class RecordingExecutor implements java.util.concurrent.Executor {
        final List<Thread> threads = new java.util.concurrent.CopyOnWriteArrayList<>();

        @Override
        public void execute(Runnable task) {
            Thread t = new Thread(task, "flow-loop");
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    /** A subscription that emits nothing unless told to, and records whether it was cancelled. */
    static final class IdlePublisher implements Flow.Publisher<float[]> {
        final AtomicBoolean cancelled = new AtomicBoolean();
        final AtomicLong requested = new AtomicLong();
        volatile Flow.Subscriber<? super float[]> subscriber;

        @Override
        public void subscribe(Flow.Subscriber<? super float[]> s) {
            subscriber = s;
            s.onSubscribe(new Flow.Subscription() {
                @Override
                public void request(long n) {
                    requested.addAndGet(n);
                }

                @Override
                public void cancel() {
                    cancelled.set(true);
                }
            });
        }
    }

    private static void awaitWaiting(Thread t) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
            assertThat(System.nanoTime()).as("%s blocks within 10 s", t.getName()).isLessThan(deadline);
            Thread.sleep(1);
        }
    }

    @Test
    void item19_cancellingWhileTheInputIsIdleStopsTheLoopThreadAndCancelsTheInput() throws Exception {
        IdlePublisher input = new IdlePublisher();
        RecordingExecutor executor = new RecordingExecutor();
        OneByOne out = new OneByOne(-1);
        FlowScoring.publisher(input, r -> r, firstColumn(new AtomicInteger(), -1), 100, 2, ErrorMode.FAIL, executor)
                .subscribe(out);
        Thread loop = executor.threads.get(0);
        awaitWaiting(loop); // waiting for an input item that does not come
        out.s.cancel();
        loop.join(TimeUnit.SECONDS.toMillis(10));
        assertThat(loop.isAlive()).as("the loop's thread ended").isFalse();
        assertThat(input.cancelled.get()).isTrue();
        assertThat(out.done).isNotDone(); // cancelled: no onComplete, no onError
    }

    @Test
    void item19_cancellingWhileABatchIsOutStopsTheLoopThreadAndCancelsTheBatchAndTheInput() throws Exception {
        IdlePublisher input = new IdlePublisher();
        RecordingExecutor executor = new RecordingExecutor();
        List<CompletableFuture<float[]>> batches = new java.util.concurrent.CopyOnWriteArrayList<>();
        BatchScorer never = b -> {
            CompletableFuture<float[]> f = new CompletableFuture<>();
            batches.add(f);
            return f;
        };
        OneByOne out = new OneByOne(-1);
        FlowScoring.publisher(input, r -> r, never, 2, 1, ErrorMode.FAIL, executor).subscribe(out);
        Thread loop = executor.threads.get(0);
        awaitWaiting(loop);
        input.subscriber.onNext(new float[]{1, 1});
        input.subscriber.onNext(new float[]{2, 1}); // a full batch: it goes out, and its answer never comes
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (batches.isEmpty()) {
            assertThat(System.nanoTime()).as("a batch is sent within 10 s").isLessThan(deadline);
            Thread.sleep(1);
        }
        awaitWaiting(loop);
        out.s.cancel();
        loop.join(TimeUnit.SECONDS.toMillis(10));
        assertThat(loop.isAlive()).as("the loop's thread ended").isFalse();
        assertThat(batches.get(0)).isCancelled();
        assertThat(input.cancelled.get()).isTrue();
    }

    @Test
    void item19_aCancelBeforeTheLoopStartsStillCancelsTheInputAndEndsTheLoop() throws Exception {
        IdlePublisher input = new IdlePublisher();
        List<Runnable> later = new ArrayList<>();
        OneByOne out = new OneByOne(-1);
        FlowScoring.publisher(input, r -> r, firstColumn(new AtomicInteger(), -1), 100, 2, ErrorMode.FAIL,
                later::add).subscribe(out);
        out.s.cancel();
        RecordingExecutor executor = new RecordingExecutor();
        executor.execute(later.get(0));
        executor.threads.get(0).join(TimeUnit.SECONDS.toMillis(10));
        assertThat(executor.threads.get(0).isAlive()).isFalse();
        assertThat(input.cancelled.get()).isTrue();
    }
}
