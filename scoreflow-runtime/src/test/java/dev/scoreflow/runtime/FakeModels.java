package dev.scoreflow.runtime;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.ModelSignature;
import dev.scoreflow.api.TensorSpec;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicInteger;

/** Models for batcher tests: the score of a row is the sum of its values, so every answer can be checked. */
final class FakeModels {
    private FakeModels() {
    }

    static ModelSignature signature(int features) {
        return new ModelSignature("x", features, List.of(new TensorSpec("x", "FP32", List.of(-1L, (long) features))),
                List.of(new TensorSpec("y", "FP32", List.of(-1L, 1L))), "y", 0, "row sum");
    }

    /** Scores a row as the sum of its values; counts calls and rows; can block until released. */
    static final class RowSum implements Model {
        final int features;
        final AtomicInteger calls = new AtomicInteger();
        final AtomicLong rowsScored = new AtomicLong();
        final AtomicInteger maxBatch = new AtomicInteger();
        volatile CountDownLatch entered = new CountDownLatch(1);
        volatile CountDownLatch gate = new CountDownLatch(0);
        /** When set, each call takes one permit first: the test lets calls through one at a time. */
        volatile Semaphore permits;
        /** Calls that entered {@link #score}, including those still blocked. */
        final AtomicInteger entries = new AtomicInteger();
        final AtomicInteger inCall = new AtomicInteger();
        volatile boolean closed;
        volatile boolean closedDuringCall;
        /** When set, each call moves this clock by {@code nanosPerRow} per row: a model of known speed. */
        volatile ManualTicker clock;
        volatile long nanosPerRow;
        /** The thread of the last call. */
        volatile Thread lastThread;
        /** When set, every call fails with this error instead of scoring: an engine that lost its accelerator. */
        volatile String failure;

        RowSum(int features) {
            this.features = features;
        }

        @Override
        public ModelSignature signature() {
            return FakeModels.signature(features);
        }

        @Override
        public float[] score(FloatMatrix rows) {
            inCall.incrementAndGet();
            try {
                return scoreBlocking(rows);
            } finally {
                inCall.decrementAndGet();
            }
        }

        private float[] scoreBlocking(FloatMatrix rows) {
            if (closed) {
                throw new IllegalStateException("scoring with a closed model");
            }
            entries.incrementAndGet();
            entered.countDown();
            try {
                if (!gate.await(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("gate never opened");
                }
                Semaphore p = permits;
                if (p != null && !p.tryAcquire(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("no permit in 30 s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            if (failure != null) {
                throw new dev.scoreflow.api.ScoreflowException(failure);
            }
            if (clock != null) {
                clock.advance(nanosPerRow * rows.rows());
            }
            calls.incrementAndGet();
            lastThread = Thread.currentThread();
            rowsScored.addAndGet(rows.rows());
            maxBatch.accumulateAndGet(rows.rows(), Math::max);
            float[] out = new float[rows.rows()];
            for (int r = 0; r < rows.rows(); r++) {
                for (int c = 0; c < rows.cols(); c++) {
                    out[r] += rows.get(r, c);
                }
            }
            return out;
        }

        @Override
        public void close() {
            if (inCall.get() > 0) {
                closedDuringCall = true;
            }
            closed = true;
        }
    }

    /** Waits for {@code condition} up to 10 s; fails the test with {@code what} if it never holds. */
    static void await(String what, java.util.function.BooleanSupplier condition) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    /** An executor over a thread pool that knows how many of its tasks are running or waiting. */
    static final class CountingExecutor implements java.util.concurrent.Executor {
        final java.util.concurrent.ThreadPoolExecutor pool;
        private final AtomicInteger pending = new AtomicInteger();

        CountingExecutor(int threads) {
            pool = (java.util.concurrent.ThreadPoolExecutor) java.util.concurrent.Executors.newFixedThreadPool(threads);
        }

        @Override
        public void execute(Runnable task) {
            pending.incrementAndGet();
            pool.execute(() -> {
                try {
                    task.run();
                } finally {
                    pending.decrementAndGet();
                }
            });
        }

        /** Tasks submitted and not yet finished. */
        int pending() {
            return pending.get();
        }
    }

    /** A ticker moved by hand. */
    static final class ManualTicker implements Ticker {
        private final AtomicLong now = new AtomicLong(1_000_000_000L);

        @Override
        public long read() {
            return now.get();
        }

        void advance(long nanos) {
            now.addAndGet(nanos);
        }
    }
}
