package dev.scoreflow.runtime;

import dev.scoreflow.api.CapacityExceededException;
import dev.scoreflow.api.DeadlineExceededException;
import dev.scoreflow.api.FloatMatrix;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BatcherTest {
    private final ExecutorService pool = Executors.newFixedThreadPool(4);

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** Row r of job k is [k, r, 1]: its sum k + r + 1 identifies it. */
    private static FloatMatrix rows(int k, int n) {
        float[] d = new float[n * 3];
        for (int r = 0; r < n; r++) {
            d[r * 3] = k;
            d[r * 3 + 1] = r;
            d[r * 3 + 2] = 1;
        }
        return FloatMatrix.of(d, n, 3);
    }

    private static void assertScores(int k, float[] scores, int n) {
        assertThat(scores).hasSize(n);
        for (int r = 0; r < n; r++) {
            assertThat(scores[r]).as("job %d row %d", k, r).isEqualTo(k + r + 1f);
        }
    }

    @RepeatedTest(5)
    void concurrentSubmittersGetEveryRowScoredOnceAndInOrder() throws Exception {
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        Batcher b = new Batcher("test", model, new BatchPolicy(256, 0, Integer.MAX_VALUE), pool, 4, Ticker.system(),
                BatchObserver.NONE);
        int threads = 8;
        int perThread = 300;
        ExecutorService submitters = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<long[]>> results = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int seed = t;
            results.add(submitters.submit(() -> {
                Random rnd = new Random(seed);
                start.await();
                List<CompletableFuture<float[]>> futures = new ArrayList<>();
                int[] sizes = new int[perThread];
                for (int i = 0; i < perThread; i++) {
                    sizes[i] = rnd.nextInt(10) == 0 ? 1 + rnd.nextInt(2000) : 1 + rnd.nextInt(40);
                    futures.add(b.submit(rows(seed * 10_000 + i, sizes[i]), Long.MAX_VALUE));
                }
                long rowsTotal = 0;
                for (int i = 0; i < perThread; i++) {
                    assertScores(seed * 10_000 + i, futures.get(i).get(30, TimeUnit.SECONDS), sizes[i]);
                    rowsTotal += sizes[i];
                }
                return new long[]{rowsTotal};
            }));
        }
        start.countDown();
        long expectedRows = 0;
        for (Future<long[]> f : results) {
            expectedRows += f.get(60, TimeUnit.SECONDS)[0];
        }
        submitters.shutdownNow();
        assertThat(model.rowsScored.get()).isEqualTo(expectedRows);
        assertThat(model.maxBatch.get()).isLessThanOrEqualTo(256);
        // coalescing happened: fewer model calls than requests
        assertThat(model.calls.get()).isLessThan(threads * perThread);
        assertThat(b.queuedRows()).isZero();
    }

    @Test
    void loneRequestStartsWithoutAnyTimePassing() throws Exception {
        FakeModels.ManualTicker frozen = new FakeModels.ManualTicker();
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        Batcher b = new Batcher("test", model, new BatchPolicy(1024, 0, 1000), pool, 2, frozen, BatchObserver.NONE);
        // the clock never moves: a batcher that waited for time to pass would never answer
        assertScores(7, b.submit(rows(7, 5), Long.MAX_VALUE).get(10, TimeUnit.SECONDS), 5);
    }

    @Test
    void coalescesRequestsThatQueueWhileTheThreadIsBusy() throws Exception {
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.gate = new CountDownLatch(1);
        Batcher b = new Batcher("test", model, new BatchPolicy(1024, 0, 10_000), pool, 1, Ticker.system(),
                BatchObserver.NONE);
        CompletableFuture<float[]> first = b.submit(rows(0, 1), Long.MAX_VALUE);
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        List<CompletableFuture<float[]>> queued = new ArrayList<>();
        for (int k = 1; k <= 20; k++) {
            queued.add(b.submit(rows(k, 3), Long.MAX_VALUE));
        }
        assertThat(b.queuedRows()).isEqualTo(60);
        model.gate.countDown();
        assertScores(0, first.get(10, TimeUnit.SECONDS), 1);
        for (int k = 1; k <= 20; k++) {
            assertScores(k, queued.get(k - 1).get(10, TimeUnit.SECONDS), 3);
        }
        assertThat(model.calls.get()).isEqualTo(2); // the lone first request, then all twenty together
        assertThat(model.maxBatch.get()).isEqualTo(60);
    }

    @Test
    void refusesWhatDoesNotFitTheQueueAtOnceAndServesWhatItAccepted() throws Exception {
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.gate = new CountDownLatch(1);
        Batcher b = new Batcher("m", model, new BatchPolicy(1024, 0, 100), pool, 1, Ticker.system(),
                BatchObserver.NONE);
        CompletableFuture<float[]> running = b.submit(rows(1, 50), Long.MAX_VALUE);
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<float[]> queued = b.submit(rows(2, 60), Long.MAX_VALUE);
        assertThatThrownBy(() -> b.submit(rows(3, 60), Long.MAX_VALUE))
                .isInstanceOf(CapacityExceededException.class)
                .hasMessageContaining("queue full (60 rows")
                .satisfies(e -> assertThat(((CapacityExceededException) e).retryAfter()).isPositive());
        model.gate.countDown();
        assertScores(1, running.get(10, TimeUnit.SECONDS), 50);
        assertScores(2, queued.get(10, TimeUnit.SECONDS), 60);
        assertThat(model.rowsScored.get()).isEqualTo(110);
    }

    private static void awaitIdle(Batcher b) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (b.running() > 0) {
            assertThat(System.nanoTime()).as("the batcher's turns given back").isLessThan(deadline);
            Thread.onSpinWait();
        }
    }

    @Test
    void aQuickFullishBatchRunsOnACallerAllowedToRunItAndASmallOrSlowOneOrOneWithoutAFreeTurnOnThePool() throws Exception {
        FakeModels.ManualTicker t = new FakeModels.ManualTicker();
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.clock = t;
        model.nanosPerRow = 20; // 1000 rows in 20 us: quicker than two thread hand-offs
        Batcher b = new Batcher("m", model, new BatchPolicy(1024, 0, 100_000), pool, 1, t, BatchObserver.NONE);
        Thread me = Thread.currentThread();
        CompletableFuture<float[]> first = b.submit(rows(0, 1024), Long.MAX_VALUE, true); // a batch's worth
        assertScores(0, first.get(10, TimeUnit.SECONDS), 1024);
        assertThat(model.lastThread).as("speed not measured yet: the pool").isNotSameAs(me);
        awaitIdle(b); // the pool task gives its turn back just after the future completes


        CompletableFuture<float[]> here = b.submit(rows(1, 1000), Long.MAX_VALUE, true);
        assertThat(here.isDone()).as("ran before submit returned").isTrue();
        assertScores(1, here.join(), 1000);
        assertThat(model.lastThread).isSameAs(me);

        assertScores(2, b.submit(rows(2, 1000), Long.MAX_VALUE, false).get(10, TimeUnit.SECONDS), 1000);
        assertThat(model.lastThread).as("not allowed: the pool").isNotSameAs(me);
        awaitIdle(b);
        assertScores(7, b.submit(rows(7, 100), Long.MAX_VALUE, true).get(10, TimeUnit.SECONDS), 100);
        assertThat(model.lastThread).as("under half a batch: left to be coalesced on the pool").isNotSameAs(me);

        // the only turn is taken: the caller queues and returns at once, it never waits for a turn
        model.gate = new CountDownLatch(1);
        model.entered = new CountDownLatch(1);
        CompletableFuture<float[]> busy = b.submit(rows(3, 10), Long.MAX_VALUE, false);
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<float[]> queued = b.submit(rows(4, 1000), Long.MAX_VALUE, true);
        assertThat(queued.isDone()).isFalse();
        model.gate.countDown();
        assertScores(3, busy.get(10, TimeUnit.SECONDS), 10);
        assertScores(4, queued.get(10, TimeUnit.SECONDS), 1000);
        assertThat(model.lastThread).isNotSameAs(me);
        awaitIdle(b);

        model.nanosPerRow = 1000; // now 1 ms per 1000 rows: a hand-off is cheaper than holding the caller
        assertScores(5, b.submit(rows(5, 1000), Long.MAX_VALUE).get(10, TimeUnit.SECONDS), 1000);
        awaitIdle(b);
        assertScores(6, b.submit(rows(6, 1000), Long.MAX_VALUE, true).get(10, TimeUnit.SECONDS), 1000);
        assertThat(model.lastThread).as("slow model: the pool").isNotSameAs(me);
    }

    @Test
    void refusesWorkThatWouldWaitLongerThanTheQueueTimeBound() throws Exception {
        FakeModels.ManualTicker t = new FakeModels.ManualTicker();
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.clock = t;
        model.nanosPerRow = 1000; // 1 microsecond per row
        Batcher b = new Batcher("m", model, new BatchPolicy(64, 0, 1_000_000, 500_000), pool, 1, t,
                BatchObserver.NONE);
        b.submit(rows(0, 100), Long.MAX_VALUE).get(10, TimeUnit.SECONDS); // measures the speed
        model.gate = new CountDownLatch(1);
        model.entered = new CountDownLatch(1);
        CompletableFuture<float[]> running = b.submit(rows(1, 10), Long.MAX_VALUE);
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<float[]> queued = b.submit(rows(2, 400), Long.MAX_VALUE); // about 0.4 ms of work
        // 400 + 200 rows would be about 0.6 ms of work, over the 0.5 ms bound; the row bound is far away
        assertThatThrownBy(() -> b.submit(rows(3, 200), Long.MAX_VALUE))
                .isInstanceOf(CapacityExceededException.class).hasMessageContaining("limits 1000000 rows and 0.5 ms");
        CompletableFuture<float[]> fits = b.submit(rows(4, 50), Long.MAX_VALUE);
        model.gate.countDown();
        assertScores(1, running.get(10, TimeUnit.SECONDS), 10);
        assertScores(2, queued.get(10, TimeUnit.SECONDS), 400);
        assertScores(4, fits.get(10, TimeUnit.SECONDS), 50);
    }

    @Test
    void refusesAtOnceARequestWhoseDeadlineHasPassed() {
        FakeModels.ManualTicker t = new FakeModels.ManualTicker();
        Batcher b = new Batcher("m", new FakeModels.RowSum(3), new BatchPolicy(1024, 0, 100), pool, 1, t,
                BatchObserver.NONE);
        assertThatThrownBy(() -> b.submit(rows(1, 1), t.read() - 1))
                .isInstanceOf(DeadlineExceededException.class).hasMessageContaining("cannot start before the deadline");
        assertThat(b.queuedRows()).isZero();
    }

    @Test
    void dropsAQueuedRequestWhoseDeadlinePassesBeforeItsBatchStarts() throws Exception {
        FakeModels.ManualTicker t = new FakeModels.ManualTicker();
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.gate = new CountDownLatch(1);
        Batcher b = new Batcher("m", model, new BatchPolicy(1024, 0, 1000), pool, 1, t, BatchObserver.NONE);
        CompletableFuture<float[]> running = b.submit(rows(1, 4), Long.MAX_VALUE);
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<float[]> late = b.submit(rows(2, 7), t.read() + 1000);
        t.advance(5000);
        model.gate.countDown();
        assertScores(1, running.get(10, TimeUnit.SECONDS), 4);
        assertThatThrownBy(() -> late.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(DeadlineExceededException.class);
        assertThat(model.rowsScored.get()).isEqualTo(4); // the late rows were never scored
    }

    @Test
    void skipsTheRowsOfACancelledRequest() throws Exception {
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.gate = new CountDownLatch(1);
        Batcher b = new Batcher("m", model, new BatchPolicy(1024, 0, 1000), pool, 1, Ticker.system(),
                BatchObserver.NONE);
        CompletableFuture<float[]> running = b.submit(rows(1, 4), Long.MAX_VALUE);
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        b.submit(rows(2, 9), Long.MAX_VALUE).cancel(false);
        CompletableFuture<float[]> kept = b.submit(rows(3, 2), Long.MAX_VALUE);
        model.gate.countDown();
        assertScores(1, running.get(10, TimeUnit.SECONDS), 4);
        assertScores(3, kept.get(10, TimeUnit.SECONDS), 2);
        assertThat(model.rowsScored.get()).isEqualTo(6);
    }

    @Test
    void splitsALargeRequestOverSeveralThreadsAndReassemblesItInOrder() throws Exception {
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        Batcher b = new Batcher("m", model, new BatchPolicy(100, 0, 1000), pool, 4, Ticker.system(),
                BatchObserver.NONE);
        assertScores(5, b.submit(rows(5, 1234), Long.MAX_VALUE).get(10, TimeUnit.SECONDS), 1234);
        assertThat(model.calls.get()).isEqualTo(13);
        assertThat(model.maxBatch.get()).isEqualTo(100);
    }

    @Test
    void drainFinishesAcceptedWorkAndThenRefusesNewWork() throws Exception {
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.gate = new CountDownLatch(1);
        Batcher b = new Batcher("m", model, new BatchPolicy(1024, 0, 1000), pool, 1, Ticker.system(),
                BatchObserver.NONE);
        CompletableFuture<float[]> a = b.submit(rows(1, 3), Long.MAX_VALUE);
        CompletableFuture<float[]> c = b.submit(rows(2, 3), Long.MAX_VALUE);
        CompletableFuture<Boolean> drained = CompletableFuture.supplyAsync(() -> b.drainAndStop(Duration.ofSeconds(10)));
        model.gate.countDown();
        assertThat(drained.get(10, TimeUnit.SECONDS)).isTrue();
        assertScores(1, a.get(), 3);
        assertScores(2, c.get(), 3);
        assertThatThrownBy(() -> b.submit(rows(3, 1), Long.MAX_VALUE)).isInstanceOf(CapacityExceededException.class)
                .hasMessageContaining("shutting down");
    }

    /** A matrix whose first row blocks in {@link #copyRowsTo} until released, and which notes reads after its job. */
    private static final class BlockingMatrix implements FloatMatrix {
        final FloatMatrix rows;
        final CountDownLatch copying = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        volatile CompletableFuture<float[]> future;
        volatile boolean readAfterDone;

        BlockingMatrix(FloatMatrix rows) {
            this.rows = rows;
        }

        @Override
        public int rows() {
            return rows.rows();
        }

        @Override
        public int cols() {
            return rows.cols();
        }

        @Override
        public float get(int row, int col) {
            check();
            return rows.get(row, col);
        }

        @Override
        public void copyRowsTo(int fromRow, int rowCount, java.nio.ByteBuffer dst) {
            check();
            if (fromRow == 0) {
                copying.countDown();
                try {
                    assertThat(release.await(30, TimeUnit.SECONDS)).isTrue();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }
            rows.copyRowsTo(fromRow, rowCount, dst);
            check();
        }

        private void check() {
            CompletableFuture<float[]> f = future;
            if (f != null && f.isDone()) {
                readAfterDone = true;
            }
        }
    }

    @Test
    void item6_failedSplitRequestCompletesOnlyAfterItsPartStillCopyingIsDone() throws Exception {
        FakeModels.ManualTicker t = new FakeModels.ManualTicker();
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.gate = new CountDownLatch(1);
        FakeModels.CountingExecutor exec = new FakeModels.CountingExecutor(2);
        try {
            Batcher b = new Batcher("m", model, new BatchPolicy(1, 0, 1000), exec, 2, t, BatchObserver.NONE);
            BlockingMatrix m = new BlockingMatrix(rows(1, 3));
            CompletableFuture<float[]> result = b.submit(m, t.read() + 1000);
            m.future = result;
            // part 0 is being copied on one thread, part 1 is in the model on the other
            assertThat(m.copying.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
            // part 2 misses its deadline once part 1's batch ends: the request fails
            t.advance(5000);
            model.gate.countDown();
            FakeModels.await("only the copying thread is busy", () -> exec.pending() == 1 && b.queuedRows() == 0);
            assertThat(result).as("completed while part 0 was still being copied").isNotDone();

            m.release.countDown();
            assertThatThrownBy(() -> result.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(DeadlineExceededException.class);
            assertThat(m.readAfterDone).isFalse();
            assertThat(model.rowsScored.get()).isEqualTo(2); // part 2 was never read
        } finally {
            exec.pool.shutdownNow();
        }
    }

    @Test
    void item6_cancelledZeroCopyRequestCompletesOnlyAfterTheModelCallReturns() throws Exception {
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.gate = new CountDownLatch(1);
        Batcher b = new Batcher("m", model, new BatchPolicy(1024, 0, 1000), pool, 1, Ticker.system(),
                BatchObserver.NONE);
        java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(4 * 3 * 2)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        rows(4, 2).copyRowsTo(0, 2, direct);
        CompletableFuture<float[]> result = b.submit(FloatMatrix.wrap(direct.flip(), 2, 3), Long.MAX_VALUE);
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(result.cancel(false)).isTrue();
        assertThat(result).as("completed while the model still read the request's memory").isNotDone();
        model.gate.countDown();
        FakeModels.await("the cancellation completes", result::isDone);
        assertThat(result).isCancelled();
    }

    @Test
    void item6_partsOfAFailedRequestNotYetClaimedAreNeverRead() throws Exception {
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.gate = new CountDownLatch(1);
        Batcher b = new Batcher("m", model, new BatchPolicy(2, 0, 1000), pool, 1, Ticker.system(),
                BatchObserver.NONE);
        CompletableFuture<float[]> result = b.submit(rows(1, 10), Long.MAX_VALUE);
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        result.cancel(false);
        model.gate.countDown();
        FakeModels.await("the cancellation completes", result::isDone);
        FakeModels.await("the queue is empty", () -> b.queuedRows() == 0);
        assertThat(b.drainAndStop(Duration.ofSeconds(10))).isTrue();
        assertThat(model.rowsScored.get()).isEqualTo(2); // only the part already in the model
    }

    @Test
    void item10_floodedModelDoesNotDelayAnotherBeyondOneOfItsBatches() throws Exception {
        FakeModels.CountingExecutor exec = new FakeModels.CountingExecutor(1);
        try {
            FakeModels.RowSum flooded = new FakeModels.RowSum(3);
            flooded.permits = new java.util.concurrent.Semaphore(0);
            FakeModels.RowSum other = new FakeModels.RowSum(3);
            Batcher a = new Batcher("a", flooded, new BatchPolicy(1, 0, 1000), exec, 1, Ticker.system(),
                    BatchObserver.NONE);
            Batcher b = new Batcher("b", other, new BatchPolicy(1024, 0, 1000), exec, 1, Ticker.system(),
                    BatchObserver.NONE);
            List<CompletableFuture<float[]>> flood = new ArrayList<>();
            for (int k = 0; k < 20; k++) {
                flood.add(a.submit(rows(k, 1), Long.MAX_VALUE));
            }
            FakeModels.await("the flooded model's first batch runs", () -> flooded.entries.get() == 1);
            CompletableFuture<float[]> victim = b.submit(rows(99, 2), Long.MAX_VALUE);
            // let the flooded model's batches end one at a time; count how many ran before the other model's
            int floodedBatchesBefore = 0;
            for (int k = 1; k <= 20 && !victim.isDone(); k++) {
                flooded.permits.release();
                floodedBatchesBefore = k;
                int next = k + 1;
                FakeModels.await("the other model answers or the flooded one starts its next batch",
                        () -> victim.isDone() || flooded.entries.get() >= next);
            }
            assertScores(99, victim.get(10, TimeUnit.SECONDS), 2);
            assertThat(floodedBatchesBefore).as("batches of the flooded model that ran before the other's request")
                    .isLessThanOrEqualTo(1);
            flooded.permits.release(100);
            for (int k = 0; k < 20; k++) {
                assertScores(k, flood.get(k).get(10, TimeUnit.SECONDS), 1);
            }
        } finally {
            exec.pool.shutdownNow();
        }
    }

    @Test
    void item15_closeNeverClosesTheModelUnderARunningBatch() throws Exception {
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        model.gate = new CountDownLatch(1);
        Batcher b = new Batcher("m", model, new BatchPolicy(1024, 0, 1000), pool, 1, Ticker.system(),
                BatchObserver.NONE);
        CompletableFuture<float[]> running = b.submit(rows(1, 2), Long.MAX_VALUE);
        assertThat(model.entered.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<float[]> queued = b.submit(rows(2, 2), Long.MAX_VALUE);
        CompletableFuture<Void> closing = CompletableFuture.runAsync(b::close);
        closing.get(5, TimeUnit.SECONDS); // close does not wait for the stuck call
        assertThat(model.closed).as("closed while a batch was in the model").isFalse();
        assertThatThrownBy(() -> queued.get(10, TimeUnit.SECONDS)).hasMessageContaining("was closed");
        model.gate.countDown();
        assertScores(1, running.get(10, TimeUnit.SECONDS), 2);
        FakeModels.await("the last batch closes the model", b::modelClosed);
        assertThat(model.closed).isTrue();
        assertThat(model.closedDuringCall).isFalse();
    }

    @Test
    void item15_closeOfAnIdleBatcherClosesTheModelAtOnce() {
        FakeModels.RowSum model = new FakeModels.RowSum(3);
        Batcher b = new Batcher("m", model, new BatchPolicy(1024, 0, 1000), pool, 1, Ticker.system(),
                BatchObserver.NONE);
        b.close();
        assertThat(model.closed).isTrue();
        assertThat(b.modelClosed()).isTrue();
    }
}
