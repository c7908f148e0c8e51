package dev.scoreflow.benchmarks;

import dev.scoreflow.api.Model;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.ModelLoaders;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * In-process ONNX Runtime ceiling, the baseline the server is measured against: {@code threads} threads each score
 * {@code [rows, features]} batches (from a direct buffer, as the server does) on one session with
 * {@code intraOp} threads, for {@code seconds} after a warm-up. Prints one line: {@code rows_per_s=...}.
 *
 * <p>{@code java dev.scoreflow.benchmarks.InProcessBench MODEL.onnx ROWS THREADS INTRA_OP SECONDS}
 */
public final class InProcessBench {
    private InProcessBench() {
    }

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        int rows = Integer.parseInt(args[1]);
        int threads = Integer.parseInt(args[2]);
        int intraOp = Integer.parseInt(args[3]);
        double seconds = Double.parseDouble(args[4]);
        try (Model model = ModelLoaders.load(file, ModelConfig.defaults(), intraOp)) {
            int features = model.signature().featureCount();
            ByteBuffer buf = ByteBuffer.allocateDirect(rows * features * 4).order(ByteOrder.LITTLE_ENDIAN);
            Random r = new Random(1);
            while (buf.hasRemaining()) {
                buf.putFloat((float) r.nextGaussian());
            }
            buf.flip();
            FloatMatrix batch = FloatMatrix.wrap(buf, rows, features);
            run(model, batch, threads, 2.0); // warm-up
            double rowsPerSecond = run(model, batch, threads, seconds);
            System.out.printf("model=%s rows=%d threads=%d intra_op=%d rows_per_s=%.0f%n", file.getFileName(), rows,
                    threads, intraOp, rowsPerSecond);
        }
    }

    private static double run(Model model, FloatMatrix batch, int threads, double seconds) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong scored = new AtomicLong();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                while (!stop.get()) {
                    model.score(batch);
                    scored.addAndGet(batch.rows());
                }
            });
            ts.add(th);
        }
        long t0 = System.nanoTime();
        ts.forEach(Thread::start);
        Thread.sleep((long) (seconds * 1000)); // a fixed measuring window, not a synchronisation
        stop.set(true);
        for (Thread th : ts) {
            th.join();
        }
        return scored.get() / ((System.nanoTime() - t0) / 1e9);
    }
}
