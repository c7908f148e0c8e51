package dev.scoreflow.runtime;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.ModelSignature;
import dev.scoreflow.api.TensorSpec;

import java.util.List;
import java.util.concurrent.CountDownLatch;
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
        /** When set, each call moves this clock by {@code nanosPerRow} per row: a model of known speed. */
        volatile ManualTicker clock;
        volatile long nanosPerRow;

        RowSum(int features) {
            this.features = features;
        }

        @Override
        public ModelSignature signature() {
            return FakeModels.signature(features);
        }

        @Override
        public float[] score(FloatMatrix rows) {
            entered.countDown();
            try {
                if (!gate.await(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("gate never opened");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            if (clock != null) {
                clock.advance(nanosPerRow * rows.rows());
            }
            calls.incrementAndGet();
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
