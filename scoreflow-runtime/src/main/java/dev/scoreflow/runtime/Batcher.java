package dev.scoreflow.runtime;

import dev.scoreflow.api.CapacityExceededException;
import dev.scoreflow.api.DeadlineExceededException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.ScoreflowException;
import dev.scoreflow.api.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The dynamic batcher of one model: coalesces concurrent requests into model calls of up to
 * {@link BatchPolicy#maxBatchRows()} rows and splits larger requests into parts that run in parallel.
 *
 * <p>No fixed sleep: when an inference thread is free, a request starts at once; requests that arrive while all
 * {@code maxConcurrentBatches} threads are busy wait in a bounded queue and go together into the next batch.
 * {@link BatchPolicy#maxDelayNanos()} optionally holds a partial batch for more rows.
 *
 * <p>Back-pressure: the queue holds at most {@link BatchPolicy#queueRows()} rows. {@link #submit} refuses a request
 * that does not fit with {@link CapacityExceededException} before anything is queued, and refuses one whose
 * deadline cannot be met (by the current queue and the measured speed) with {@link DeadlineExceededException}. A
 * queued request whose deadline passes before its batch starts fails with {@link DeadlineExceededException} and
 * is not scored. A cancelled result future means its remaining parts are skipped.
 *
 * <p>Fairness: the inference pool is shared by every model, so each pool task runs one batch and, if more work
 * waits, submits itself again at the back of the pool's queue. A model with a deep queue therefore takes turns
 * with the others instead of keeping the threads it holds until its queue is empty.
 *
 * <p>Thread-safe. Batches run on the shared {@code pool}; the batcher never blocks a caller.
 */
public final class Batcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Batcher.class);
    private static final ThreadLocal<ByteBuffer> BATCH_BUFFER = new ThreadLocal<>();

    private final String name;
    private final Model model;
    private final Executor pool;
    private final int maxConcurrentBatches;
    private final Ticker ticker;
    private final BatchObserver observer;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final BatchQueue queue;
    private final BatchPolicy policy;
    /** Pool tasks of this batcher queued or running. */
    private int running;
    /** Batches taken from the queue whose model call has not ended: while above 0, the model must stay open. */
    private int inModel;
    private boolean closed;
    private boolean closeRequested;
    private boolean modelClosed;
    /**
     * The longest batch, by the measured speed, that a caller allowed to may run on its own thread
     * ({@link #submit(FloatMatrix, long, boolean)}): about what handing a batch to an inference thread and its
     * answer back costs on a busy machine (two thread wake-ups), so a batch that fits is cheaper to run where it is.
     */
    static final long CALLER_RUNS_NANOS = 100_000;

    /** Measured drain rate, nanoseconds per row; feeds the deadline and queue-time admission. 0 = not known yet. */
    private volatile double nanosPerRow;
    /** Measured model-call time per row (one call's own time, unlike the drain rate). 0 = not known yet. */
    private volatile double callNanosPerRow;
    private double decayedCallNanos;
    private final Object speedLock = new Object();
    private double decayedNanos;
    private double decayedRows;
    private long rowsMeasured;
    private long lastFinish;

    /**
     * @param name                 for messages, e.g. "model example version 1"
     * @param pool                 the inference threads (shared by all models)
     * @param maxConcurrentBatches batches of this model that may run at once (normally the pool's size)
     */
    public Batcher(String name, Model model, BatchPolicy policy, Executor pool, int maxConcurrentBatches,
                   Ticker ticker, BatchObserver observer) {
        if (maxConcurrentBatches < 1) {
            throw new IllegalArgumentException("maxConcurrentBatches must be >= 1, got " + maxConcurrentBatches);
        }
        this.name = name;
        this.model = model;
        this.pool = pool;
        this.maxConcurrentBatches = maxConcurrentBatches;
        this.ticker = ticker;
        this.observer = observer;
        this.queue = new BatchQueue(policy);
        this.policy = policy;
    }

    /**
     * Queues {@code rows} for scoring.
     *
     * <p>The rows are read by the inference threads until the returned future completes, and never after: the
     * future (success, failure or cancellation alike) completes only once no part of the request is being copied
     * or scored, so the caller may free the rows' memory as soon as it completes. Parts still queued when the
     * request fails are dropped without being read. Cancelling the future drops the request the same way; it may
     * therefore complete a little after {@code cancel} returned.
     *
     * @param deadlineNanos {@link Ticker} time by which the request must start, or {@code Long.MAX_VALUE}
     * @return the scores, one per row in order; fails with {@link DeadlineExceededException} if the deadline
     *         passes while queued, or with a {@link ScoreflowException} if the model fails
     * @throws CapacityExceededException if the queue has no room (nothing was queued)
     * @throws DeadlineExceededException if the deadline cannot be met (nothing was queued)
     */
    public CompletableFuture<float[]> submit(FloatMatrix rows, long deadlineNanos) {
        return submit(rows, deadlineNanos, false);
    }

    /**
     * {@link #submit(FloatMatrix, long)}, where the caller may also run the next batch itself: when an inference
     * thread's turn is free, batches never wait for more rows, and that batch is at least half of
     * {@link BatchPolicy#maxBatchRows()} and quick by the measured speed (a fast model; see
     * {@link #CALLER_RUNS_NANOS}), it runs on the calling thread before this returns, and counts
     * as one of the model's concurrent batches meanwhile. For a server's event loops, which would otherwise pay
     * two thread hand-offs for a call shorter than they are. The future is then usually complete on return.
     */
    @SuppressWarnings("unchecked")
    public CompletableFuture<float[]> submit(FloatMatrix rows, long deadlineNanos, boolean callerMayRun) {
        // a score job's future completes with its float[] scores
        return (CompletableFuture<float[]>) (CompletableFuture<?>) enqueue(rows, deadlineNanos, null, callerMayRun)
                .result;
    }

    /**
     * Queues {@code rows} for the model's {@code outputs}: like {@link #submit(FloatMatrix, long)} (the same queue,
     * back-pressure, deadlines and contract on the rows), but the future completes with each output over all the
     * rows, as {@link Model#infer} gives it. Such requests are batched with each other whatever outputs they ask
     * for: the batch computes the union once and each request gets its own outputs of its own rows. A batch that
     * also holds score requests makes two model calls, one for the scores and one for the outputs.
     *
     * @param outputs names the model {@link dev.scoreflow.api.ModelSignature#serves serves}; not empty
     */
    @SuppressWarnings("unchecked")
    public CompletableFuture<Map<String, Tensor>> submit(FloatMatrix rows, Set<String> outputs,
                                                         long deadlineNanos) {
        if (outputs.isEmpty()) {
            throw new IllegalArgumentException("no outputs asked for");
        }
        ScoringJob job = enqueue(rows, deadlineNanos, Collections.unmodifiableSet(new LinkedHashSet<>(outputs)),
                false);
        return (CompletableFuture<Map<String, Tensor>>) (CompletableFuture<?>) job.result;
    }

    private ScoringJob enqueue(FloatMatrix rows, long deadlineNanos, Set<String> outputs, boolean callerMayRun) {
        int spawn = 0;
        boolean callerRuns = false;
        ScoringJob job;
        lock.lock();
        try {
            if (closed) {
                throw new CapacityExceededException(name + " is shutting down", Duration.ofSeconds(1));
            }
            long now = ticker.read();
            if (deadlineNanos != Long.MAX_VALUE) {
                long wait = (long) (queue.queuedRows() * nanosPerRow);
                if (deadlineNanos - now <= 0 || deadlineNanos - now < wait) {
                    throw new DeadlineExceededException(name + ": cannot start before the deadline (about "
                            + TimeUnit.NANOSECONDS.toMillis(wait) + " ms of work queued, "
                            + Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - now)) + " ms left)");
                }
            }
            int parts = queue.partsFor(rows.rows());
            job = new ScoringJob(rows, parts, deadlineNanos, outputs);
            long queued = queue.queuedRows();
            long waitAfter = (long) ((queued + rows.rows()) * nanosPerRow);
            boolean tooLong = policy.maxQueueWaitNanos() > 0 && queued > 0 && waitAfter > policy.maxQueueWaitNanos();
            if (tooLong || !queue.offer(job, now)) {
                long wait = (long) (queued * nanosPerRow);
                throw new CapacityExceededException(String.format("%s: queue full (%d rows, about %.1f ms of work,"
                        + " waiting; limits %d rows and %.1f ms)", name, queued, wait / 1e6, policy.queueRows(),
                        policy.maxQueueWaitNanos() / 1e6),
                        Duration.ofMillis(Math.max(1, TimeUnit.NANOSECONDS.toMillis(wait))));
            }
            // a split request runs its parts in parallel on as many threads as this model may use
            spawn = Math.min(parts, maxConcurrentBatches - running);
            if (spawn > 0) {
                running += spawn;
                // only a batch at least half full: smaller ones gain more from waiting to be coalesced than
                // from saving the hand-off (100-row requests ran 30 % slower on the event loops)
                double perRow = callNanosPerRow;
                long batchRows = Math.min(queue.queuedRows(), policy.maxBatchRows());
                callerRuns = callerMayRun && policy.maxDelayNanos() == 0 && perRow > 0
                        && batchRows * 2 >= policy.maxBatchRows() && batchRows * perRow <= CALLER_RUNS_NANOS;
            } else {
                changed.signal();
            }
        } finally {
            lock.unlock();
        }
        for (int i = callerRuns ? 1 : 0; i < spawn; i++) {
            startTask();
        }
        if (callerRuns) {
            runOneBatch(); // holds one of the turns counted in running, as a pool task would
        }
        return job;
    }

    private void startTask() {
        try {
            pool.execute(this::runOneBatch);
        } catch (RejectedExecutionException e) {
            List<ScoringJob.Part> dropped;
            lock.lock();
            try {
                running--;
                dropped = queue.drainAll();
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            fail(dropped, new ScoreflowException(name + ": the inference pool is shut down"));
        }
    }

    /**
     * One pool task: takes one batch, runs it, and submits itself again if more work waits (so that the tasks of
     * other models queued meanwhile get their turn on the shared pool first).
     */
    private void runOneBatch() {
        List<ScoringJob.Part> batch;
        List<ScoringJob.Part> late = null;
        long start;
        lock.lock();
        try {
            while (true) {
                if (queue.isEmpty()) {
                    running--;
                    changed.signalAll();
                    return;
                }
                long now = ticker.read();
                batch = queue.poll(now);
                if (batch != null) {
                    break;
                }
                changed.awaitNanos(queue.nanosUntilDue(now));
            }
            start = ticker.read();
            // claimed under the lock, so a part of a job that failed or was cancelled is never read
            for (int i = 0; i < batch.size(); i++) {
                ScoringJob.Part p = batch.get(i);
                if (p.job().abandoned()) {
                    batch.set(i, null);
                } else if (start - p.job().deadlineNanos > 0) {
                    if (late == null) {
                        late = new ArrayList<>();
                    }
                    late.add(p);
                    batch.set(i, null);
                } else if (!p.job().claim()) {
                    batch.set(i, null);
                }
            }
            inModel++;
        } catch (InterruptedException e) {
            running--;
            changed.signalAll();
            Thread.currentThread().interrupt();
            return;
        } finally {
            lock.unlock();
        }
        if (late != null) {
            for (ScoringJob.Part p : late) {
                p.job().fail(new DeadlineExceededException(name + ": the deadline passed after "
                        + TimeUnit.NANOSECONDS.toMillis(start - p.enqueuedNanos()) + " ms in the queue"));
            }
        }
        try {
            run(batch, start);
        } finally {
            boolean again;
            boolean closeModel = false;
            lock.lock();
            try {
                inModel--;
                if (closeRequested && inModel == 0 && !modelClosed) {
                    modelClosed = true;
                    closeModel = true;
                }
                again = !queue.isEmpty();
                if (!again) {
                    running--;
                }
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            if (closeModel) {
                closeModel("after its last batch ended");
            }
            if (again) {
                startTask();
            }
        }
    }

    /** Runs one batch of claimed parts (null entries were skipped); releases every part it claimed. */
    private void run(List<ScoringJob.Part> batch, long start) {
        int rows = 0;
        int cols = -1;
        int live = 0;
        for (ScoringJob.Part p : batch) {
            if (p != null) {
                rows += p.rows();
                cols = p.job().rows.cols();
                live++;
                observer.queued(start - p.enqueuedNanos());
            }
        }
        if (live == 0) {
            return;
        }
        boolean[] held = new boolean[batch.size()];
        for (int i = 0; i < held.length; i++) {
            held[i] = batch.get(i) != null;
        }
        float[] scores = null;
        Map<String, Tensor> values = null;
        Throwable error = null;
        try {
            ScoringJob.Part only = live == 1 ? firstLive(batch) : null;
            if (wantsOutputs(batch)) {
                // the slower path, only for requests that asked for model outputs: scores and outputs each in one
                // call over their own parts' rows (copied, and released, before the call)
                int scoreRows = 0;
                int outputRows = 0;
                Set<String> union = new LinkedHashSet<>();
                for (ScoringJob.Part p : batch) {
                    if (p != null && p.job().outputs == null) {
                        scoreRows += p.rows();
                    } else if (p != null) {
                        outputRows += p.rows();
                        union.addAll(p.job().outputs);
                    }
                }
                scores = scoreRows > 0 ? model.score(copy(batch, held, false, scoreRows, cols)) : new float[0];
                values = model.infer(copy(batch, held, true, outputRows, cols), union);
                for (String name : union) {
                    Tensor t = values.get(name);
                    if (t == null || t.rows() != outputRows) {
                        throw new ScoreflowException(name + ": the model returned " + (t == null ? "no output '"
                                + name + "'" : t.rows() + " rows of output '" + name + "' for " + outputRows));
                    }
                }
            } else if (rows == 0) {
                scores = new float[0];
            } else if (only != null && only.rows() == only.job().rows.rows()
                    && only.job().rows.littleEndianBytes().filter(ByteBuffer::isDirect).isPresent()) {
                // a whole request already in native memory goes to the engine as it is, without a copy; it stays
                // in use (its future waits) until the call returns
                scores = model.score(only.job().rows);
            } else {
                ByteBuffer buf = buffer(Math.multiplyExact(4 * rows, cols));
                for (int i = 0; i < held.length; i++) {
                    ScoringJob.Part p = batch.get(i);
                    if (p != null) {
                        try {
                            p.job().rows.copyRowsTo(p.fromRow(), p.rows(), buf);
                        } finally {
                            held[i] = false;
                            p.job().release();
                        }
                    }
                }
                buf.flip();
                scores = model.score(FloatMatrix.wrap(buf, rows, cols));
            }
        } catch (RuntimeException | Error e) {
            error = e;
        } finally {
            for (int i = 0; i < held.length; i++) {
                if (held[i]) {
                    batch.get(i).job().release();
                }
            }
        }
        if (error != null) {
            ScoreflowException failure = error instanceof ScoreflowException s ? s
                    : new ScoreflowException(name + ": scoring failed: " + error, error);
            for (ScoringJob.Part p : batch) {
                if (p != null) {
                    p.job().fail(failure);
                }
            }
            return;
        }
        long finished = ticker.read();
        long took = finished - start;
        if (rows > 0) {
            measured(rows, took, finished);
        }
        observer.batch(rows, live, took);
        int at = 0;
        int outputAt = 0;
        for (ScoringJob.Part p : batch) {
            if (p != null && p.job().outputs == null) {
                System.arraycopy(scores, at, p.job().scores, p.fromRow(), p.rows());
                at += p.rows();
                p.job().partDone();
            } else if (p != null) {
                Map<String, Tensor> own = new LinkedHashMap<>();
                for (String name : p.job().outputs) {
                    Tensor t = values.get(name);
                    own.put(name, outputAt == 0 && p.rows() == t.rows() ? t : t.rows(outputAt, p.rows()));
                }
                outputAt += p.rows();
                p.job().partDone(p.fromRow(), own);
            }
        }
    }

    private static boolean wantsOutputs(List<ScoringJob.Part> batch) {
        for (ScoringJob.Part p : batch) {
            if (p != null && p.job().outputs != null) {
                return true;
            }
        }
        return false;
    }

    /**
     * Copies the rows of the batch's output parts ({@code outputs}) or score parts (not {@code outputs}) into this
     * thread's batch buffer, releasing each part once copied.
     */
    private static FloatMatrix copy(List<ScoringJob.Part> batch, boolean[] held, boolean outputs, int rows,
                                    int cols) {
        ByteBuffer buf = buffer(Math.multiplyExact(4 * rows, cols));
        for (int i = 0; i < held.length; i++) {
            ScoringJob.Part p = batch.get(i);
            if (p != null && (p.job().outputs != null) == outputs) {
                try {
                    p.job().rows.copyRowsTo(p.fromRow(), p.rows(), buf);
                } finally {
                    held[i] = false;
                    p.job().release();
                }
            }
        }
        buf.flip();
        return FloatMatrix.wrap(buf, rows, cols);
    }

    /**
     * Folds one finished batch into the drain-rate estimate: the time since the previous batch finished (or the
     * batch's own duration, after an idle gap) per row, as decaying sums so large batches dominate and a slow first
     * call is soon forgotten. Measuring the gaps between completions gives the rate the queue really drains at,
     * whatever the number of threads and however much they compete for cores. The estimate is used only once a
     * full batch's worth of rows has been measured, so a cold start refuses nothing.
     */
    private void measured(int rows, long took, long finishedAt) {
        synchronized (speedLock) {
            long gap = lastFinish == 0 ? took : Math.min(finishedAt - lastFinish, took);
            lastFinish = finishedAt;
            decayedNanos = 0.9 * decayedNanos + Math.max(0, gap);
            decayedRows = 0.9 * decayedRows + rows;
            decayedCallNanos = 0.9 * decayedCallNanos + took;
            rowsMeasured += rows;
            if (rowsMeasured >= policy.maxBatchRows()) {
                nanosPerRow = decayedNanos / decayedRows;
                callNanosPerRow = decayedCallNanos / decayedRows;
            }
        }
    }

    private static ScoringJob.Part firstLive(List<ScoringJob.Part> batch) {
        for (ScoringJob.Part p : batch) {
            if (p != null) {
                return p;
            }
        }
        return null;
    }

    private static ByteBuffer buffer(int bytes) {
        ByteBuffer b = BATCH_BUFFER.get();
        if (b == null || b.capacity() < bytes) {
            int size = Integer.highestOneBit(Math.max(bytes - 1, 1024)) << 1;
            b = ByteBuffer.allocateDirect(size < 0 ? bytes : size).order(ByteOrder.LITTLE_ENDIAN);
            BATCH_BUFFER.set(b);
        }
        b.clear();
        return b;
    }

    private static void fail(List<ScoringJob.Part> parts, ScoreflowException e) {
        for (ScoringJob.Part p : parts) {
            p.job().fail(e);
        }
    }

    /** Batches of this model queued on or running in the pool (or on a caller), for tests. */
    int running() {
        lock.lock();
        try {
            return running;
        } finally {
            lock.unlock();
        }
    }

    /** Rows waiting to be scored. */
    public long queuedRows() {
        lock.lock();
        try {
            return queue.queuedRows();
        } finally {
            lock.unlock();
        }
    }

    /** The model this batcher feeds. */
    public Model model() {
        return model;
    }

    /**
     * Stops accepting work and waits up to {@code timeout} for everything accepted to finish.
     *
     * @return true if all accepted work finished
     */
    public boolean drainAndStop(Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            closed = true;
            while (inModel > 0 || !queue.isEmpty()) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                changed.awaitNanos(left);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops accepting work, fails what is still queued, and closes the model: at once if no batch is using it,
     * else when the last running batch ends (a model is never closed under a running call: closing an ONNX
     * Runtime session while a thread is inside it can crash the JVM). Does not wait; call
     * {@link #drainAndStop} first to let accepted work finish.
     */
    @Override
    public void close() {
        List<ScoringJob.Part> dropped;
        boolean closeNow = false;
        int busy;
        lock.lock();
        try {
            closed = true;
            dropped = queue.drainAll();
            changed.signalAll();
            busy = inModel;
            if (!closeRequested) {
                closeRequested = true;
                if (inModel == 0) {
                    modelClosed = true;
                    closeNow = true;
                }
            }
        } finally {
            lock.unlock();
        }
        fail(dropped, new ScoreflowException(name + " was closed before this request was scored"));
        if (closeNow) {
            closeModel("");
        } else if (busy > 0) {
            LOG.warn("{}: {} batch(es) still running at close; the model is closed when the last one ends", name,
                    busy);
        }
    }

    /** Whether the model was closed (for tests). */
    boolean modelClosed() {
        lock.lock();
        try {
            return modelClosed;
        } finally {
            lock.unlock();
        }
    }

    private void closeModel(String when) {
        try {
            model.close();
        } catch (RuntimeException e) {
            LOG.warn("{}: closing the model failed: {}", name, e.toString());
            return;
        }
        if (!when.isEmpty()) {
            LOG.info("{}: model closed {}", name, when);
        }
    }
}
