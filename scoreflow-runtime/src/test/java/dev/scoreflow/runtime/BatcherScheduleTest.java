package dev.scoreflow.runtime;

import dev.scoreflow.api.CapacityExceededException;
import dev.scoreflow.api.DeadlineExceededException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.ModelSignature;
import dev.scoreflow.api.ScoreflowException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Race tests of {@link Batcher} and {@link BatchQueue}: seeded random schedules, the seed in every failure message.
 *
 * <p>The deterministic test runs the pool's tasks on the test thread in an order the seed picks, interleaved with
 * submissions, cancellations, model failures and clock moves; the threaded test runs the same invariants on real
 * threads with reads that yield in the middle. Invariants: every row of a request that succeeded was scored
 * exactly once and its score is in its place; a refused submission leaves the queue as it was; every accepted
 * future completes, exactly once (no lost wakeup); no row is read after its future completed.
 */
class BatcherScheduleTest {
    private static final int FEATURES = 3;

    /** Row r of job j is [j, r, poison]: the model scores it j * 1000 + r, and fails a batch with a poison row. */
    private static float[] data(int job, int n, boolean poison) {
        float[] d = new float[n * FEATURES];
        for (int r = 0; r < n; r++) {
            d[r * FEATURES] = job;
            d[r * FEATURES + 1] = r;
            d[r * FEATURES + 2] = poison ? 1 : 0;
        }
        return d;
    }

    /** The rows of one job; every read checks that the job's future is not complete yet. */
    private static final class CheckedRows implements FloatMatrix {
        final FloatMatrix rows;
        final Optional<ByteBuffer> direct;
        final Runnable duringCopy;
        volatile CompletableFuture<float[]> future;
        final List<String> violations;
        final int job;

        CheckedRows(int job, float[] data, int n, boolean direct, Runnable duringCopy, List<String> violations) {
            this.job = job;
            if (direct) {
                ByteBuffer b = ByteBuffer.allocateDirect(Math.max(4, data.length * 4)).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(data);
                b.limit(data.length * 4);
                this.rows = FloatMatrix.wrap(b, n, FEATURES);
                this.direct = Optional.of(b);
            } else {
                this.rows = FloatMatrix.of(data, n, FEATURES);
                this.direct = Optional.empty();
            }
            this.duringCopy = duringCopy;
            this.violations = violations;
        }

        @Override
        public int rows() {
            return rows.rows();
        }

        @Override
        public int cols() {
            return FEATURES;
        }

        @Override
        public float get(int row, int col) {
            check("get");
            return rows.get(row, col);
        }

        @Override
        public void copyRowsTo(int fromRow, int rowCount, ByteBuffer dst) {
            check("copy start");
            duringCopy.run();
            rows.copyRowsTo(fromRow, rowCount, dst);
            check("copy end");
        }

        @Override
        public Optional<ByteBuffer> littleEndianBytes() {
            return direct.map(ByteBuffer::duplicate);
        }

        private void check(String what) {
            CompletableFuture<float[]> f = future;
            if (f != null && f.isDone()) {
                violations.add("job " + job + ": " + what + " after its future completed");
            }
        }
    }

    /** Scores [j, r, p] as j * 1000 + r, counts each (j, r) it saw, fails a batch holding a poison row. */
    private static final class CountingModel implements Model {
        final Map<Long, AtomicInteger> seen = new ConcurrentHashMap<>();
        final AtomicInteger inCall = new AtomicInteger();
        volatile boolean closed;
        volatile boolean closedDuringCall;
        final Runnable duringCall;

        CountingModel(Runnable duringCall) {
            this.duringCall = duringCall;
        }

        @Override
        public ModelSignature signature() {
            return FakeModels.signature(FEATURES);
        }

        @Override
        public float[] score(FloatMatrix rows) {
            inCall.incrementAndGet();
            try {
                if (closed) {
                    throw new IllegalStateException("called after close");
                }
                duringCall.run();
                float[] out = new float[rows.rows()];
                boolean poison = false;
                for (int r = 0; r < rows.rows(); r++) {
                    int job = (int) rows.get(r, 0);
                    int row = (int) rows.get(r, 1);
                    poison |= rows.get(r, 2) != 0;
                    seen.computeIfAbsent(((long) job << 32) | row, k -> new AtomicInteger()).incrementAndGet();
                    out[r] = job * 1000f + row;
                }
                if (poison) {
                    throw new ScoreflowException("poisoned batch");
                }
                return out;
            } finally {
                inCall.decrementAndGet();
            }
        }

        int timesSeen(int job, int row) {
            AtomicInteger n = seen.get(((long) job << 32) | row);
            return n == null ? 0 : n.get();
        }

        @Override
        public void close() {
            if (inCall.get() > 0) {
                closedDuringCall = true;
            }
            closed = true;
        }
    }

    /** An executor whose tasks run when the test says, in the order the test picks. */
    private static final class ManualExecutor implements Executor {
        final List<Runnable> tasks = new ArrayList<>();

        @Override
        public void execute(Runnable task) {
            tasks.add(task);
        }

        boolean runOne(Random rnd) {
            if (tasks.isEmpty()) {
                return false;
            }
            tasks.remove(rnd.nextInt(tasks.size())).run();
            return true;
        }
    }

    private record Accepted(int id, int rows, boolean poison, CompletableFuture<float[]> future,
                            AtomicInteger completions, boolean[] cancelled) {
    }

    @Test
    void deterministicSchedulesKeepEveryInvariant() {
        long base = 0x5C0F1_0A7L;
        for (int i = 0; i < 1500; i++) {
            long seed = base + i;
            try {
                deterministicRun(seed);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("deterministic schedule failed with seed " + seed + ": " + e, e);
            }
        }
    }

    private static void deterministicRun(long seed) {
        Random rnd = new Random(seed);
        FakeModels.ManualTicker ticker = new FakeModels.ManualTicker();
        ManualExecutor exec = new ManualExecutor();
        CountingModel model = new CountingModel(() -> { });
        List<String> violations = new ArrayList<>();
        int maxBatchRows = 1 + rnd.nextInt(6);
        BatchPolicy policy = new BatchPolicy(maxBatchRows, 0, 1 + rnd.nextInt(40));
        Batcher b = new Batcher("m", model, policy, exec, 1 + rnd.nextInt(3), ticker, BatchObserver.NONE);
        List<Accepted> accepted = new ArrayList<>();
        int steps = 20 + rnd.nextInt(60);
        boolean closedEarly = false;
        for (int step = 0; step < steps; step++) {
            int op = rnd.nextInt(10);
            if (op < 4) {
                submit(b, ticker, rnd, accepted.size() + 1, violations, accepted, () -> { }, true);
            } else if (op < 8) {
                exec.runOne(rnd);
            } else if (op == 8) {
                ticker.advance(rnd.nextInt(3000));
            } else if (!accepted.isEmpty()) {
                Accepted a = accepted.get(rnd.nextInt(accepted.size()));
                a.cancelled()[0] = true;
                a.future().cancel(false);
            }
        }
        if (rnd.nextInt(8) == 0) {
            b.close();
            closedEarly = true;
        }
        while (exec.runOne(rnd)) {
            // run every task left, in a random order
        }
        assertThat(b.queuedRows()).isZero();
        checkOutcomes(accepted, model, violations, closedEarly);
        if (!closedEarly) {
            b.close();
        }
        assertThat(model.closed).isTrue();
        assertThat(model.closedDuringCall).isFalse();
    }

    private static void submit(Batcher b, Ticker ticker, Random rnd, int id, List<String> violations,
                               List<Accepted> accepted, Runnable duringCopy, boolean checkRefusal) {
        int n = rnd.nextInt(12);
        boolean poison = n > 0 && rnd.nextInt(15) == 0;
        CheckedRows rows = new CheckedRows(id, data(id, n, poison), n, rnd.nextBoolean(), duringCopy, violations);
        long deadline = rnd.nextInt(4) == 0 ? ticker.read() + rnd.nextInt(4000) : Long.MAX_VALUE;
        long before = b.queuedRows();
        try {
            CompletableFuture<float[]> f = b.submit(rows, deadline);
            rows.future = f;
            AtomicInteger completions = new AtomicInteger();
            f.whenComplete((v, e) -> completions.incrementAndGet());
            synchronized (accepted) {
                accepted.add(new Accepted(id, n, poison, f, completions, new boolean[1]));
            }
        } catch (CapacityExceededException | DeadlineExceededException e) {
            // nothing of a refused request may stay queued (checked where no other thread changes the queue)
            if (checkRefusal && b.queuedRows() != before) {
                violations.add("refused job " + id + " changed the queue from " + before + " to " + b.queuedRows());
            }
        }
    }

    private static void checkOutcomes(List<Accepted> accepted, CountingModel model, List<String> violations,
                                      boolean closed) {
        assertThat(violations).isEmpty();
        for (Accepted a : accepted) {
            assertThat(a.future()).as("job %d completed (a lost wakeup leaves it pending)", a.id()).isDone();
            assertThat(a.completions().get()).as("completions of job %d", a.id()).isEqualTo(1);
            try {
                float[] scores = a.future().get();
                assertThat(a.poison()).as("job %d succeeded with a poison row", a.id()).isFalse();
                assertThat(scores).hasSize(a.rows());
                for (int r = 0; r < a.rows(); r++) {
                    assertThat(scores[r]).as("job %d row %d", a.id(), r).isEqualTo(a.id() * 1000f + r);
                    assertThat(model.timesSeen(a.id(), r)).as("times job %d row %d was scored", a.id(), r)
                            .isEqualTo(1);
                }
            } catch (CancellationException e) {
                assertThat(a.cancelled()[0]).as("job %d cancelled without being asked", a.id()).isTrue();
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                boolean explained = c instanceof DeadlineExceededException || a.poison()
                        || c.getMessage().contains("poisoned") || closed && c.getMessage().contains("was closed");
                assertThat(explained).as("job %d failed with %s", a.id(), c).isTrue();
                for (int r = 0; r < a.rows(); r++) {
                    assertThat(model.timesSeen(a.id(), r)).as("times job %d row %d was scored", a.id(), r)
                            .isLessThanOrEqualTo(1);
                }
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void threadedSchedulesKeepEveryInvariant() throws Exception {
        long base = 0x7E57_0001L;
        for (int i = 0; i < 40; i++) {
            long seed = base + i;
            try {
                threadedRun(seed);
            } catch (AssertionError | Exception e) {
                throw new AssertionError("threaded schedule failed with seed " + seed + ": " + e, e);
            }
        }
    }

    private static void threadedRun(long seed) throws Exception {
        Random setup = new Random(seed);
        ExecutorService pool = Executors.newFixedThreadPool(1 + setup.nextInt(4));
        ExecutorService submitters = Executors.newFixedThreadPool(3, r -> new Thread(r, "submitter"));
        try {
            List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
            // give the other threads a chance in the middle of every copy and model call
            Runnable yieldSome = Thread::yield;
            CountingModel model = new CountingModel(yieldSome);
            BatchPolicy policy = new BatchPolicy(1 + setup.nextInt(8), 0, 20 + setup.nextInt(200));
            Batcher b = new Batcher("m", model, policy, pool, 1 + setup.nextInt(4), Ticker.system(),
                    BatchObserver.NONE);
            List<Accepted> accepted = new ArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            List<java.util.concurrent.Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                long threadSeed = setup.nextLong();
                int first = t * 100_000;
                done.add(submitters.submit(() -> {
                    Random rnd = new Random(threadSeed);
                    go.await();
                    for (int k = 1; k <= 150; k++) {
                        submit(b, Ticker.system(), rnd, first + k, violations, accepted, yieldSome, false);
                        if (rnd.nextInt(6) == 0) {
                            synchronized (accepted) {
                                if (!accepted.isEmpty()) {
                                    Accepted a = accepted.get(rnd.nextInt(accepted.size()));
                                    a.cancelled()[0] = true;
                                    a.future().cancel(false);
                                }
                            }
                        }
                    }
                    return null;
                }));
            }
            go.countDown();
            for (java.util.concurrent.Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
            List<Accepted> all;
            synchronized (accepted) {
                all = new ArrayList<>(accepted);
            }
            for (Accepted a : all) {
                try {
                    a.future().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException | CancellationException e) {
                    // checked below
                }
            }
            FakeModels.await("every completion callback ran", () -> all.stream()
                    .allMatch(a -> a.completions().get() == 1));
            assertThat(b.drainAndStop(java.time.Duration.ofSeconds(10))).isTrue();
            assertThat(b.queuedRows()).isZero();
            checkOutcomes(all, model, violations, false);
            b.close();
            assertThat(model.closedDuringCall).isFalse();
        } finally {
            submitters.shutdownNow();
            pool.shutdownNow();
        }
    }
}
