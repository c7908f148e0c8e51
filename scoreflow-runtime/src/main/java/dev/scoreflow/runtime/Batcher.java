package dev.scoreflow.runtime;

import dev.scoreflow.api.CapacityExceededException;
import dev.scoreflow.api.DeadlineExceededException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.ScoreflowException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
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
 * <p>Thread-safe. Batches run on the shared {@code pool}; the batcher never blocks a caller.
 */
public final class Batcher implements AutoCloseable {
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
    private int running;
    private boolean closed;
    /** Measured drain rate, nanoseconds per row; feeds the deadline and queue-time admission. 0 = not known yet. */
    private volatile double nanosPerRow;
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
     * @param deadlineNanos {@link Ticker} time by which the request must start, or {@code Long.MAX_VALUE}
     * @return the scores, one per row in order; fails with {@link DeadlineExceededException} if the deadline
     *         passes while queued, or with a {@link ScoreflowException} if the model fails
     * @throws CapacityExceededException if the queue has no room (nothing was queued)
     * @throws DeadlineExceededException if the deadline cannot be met (nothing was queued)
     */
    public CompletableFuture<float[]> submit(FloatMatrix rows, long deadlineNanos) {
        boolean spawn = false;
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
            job = new ScoringJob(rows, queue.partsFor(rows.rows()), deadlineNanos);
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
            if (running < maxConcurrentBatches) {
                running++;
                spawn = true;
            } else {
                changed.signal();
            }
        } finally {
            lock.unlock();
        }
        if (spawn) {
            startDrain();
        }
        return job.result;
    }

    private void startDrain() {
        try {
            pool.execute(this::drain);
        } catch (RejectedExecutionException e) {
            lock.lock();
            try {
                running--;
                failAll(new ScoreflowException(name + ": the inference pool is shut down"));
            } finally {
                lock.unlock();
            }
        }
    }

    /** Runs batches while there is work; the thread goes back to the pool when the queue is empty. */
    private void drain() {
        while (true) {
            List<ScoringJob.Part> batch;
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
            } catch (InterruptedException e) {
                running--;
                Thread.currentThread().interrupt();
                return;
            } finally {
                lock.unlock();
            }
            run(batch);
        }
    }

    private void run(List<ScoringJob.Part> batch) {
        long start = ticker.read();
        int rows = 0;
        int cols = -1;
        int live = 0;
        for (int i = 0; i < batch.size(); i++) {
            ScoringJob.Part p = batch.get(i);
            ScoringJob job = p.job();
            if (job.abandoned()) {
                batch.set(i, null);
            } else if (start - job.deadlineNanos > 0) {
                job.result.completeExceptionally(new DeadlineExceededException(name + ": the deadline passed after "
                        + TimeUnit.NANOSECONDS.toMillis(start - p.enqueuedNanos()) + " ms in the queue"));
                batch.set(i, null);
            } else {
                rows += p.rows();
                cols = job.rows.cols();
                live++;
                observer.queued(start - p.enqueuedNanos());
            }
        }
        if (live == 0) {
            return;
        }
        try {
            float[] scores;
            ScoringJob.Part only = live == 1 ? firstLive(batch) : null;
            if (rows == 0) {
                scores = new float[0];
            } else if (only != null && only.rows() == only.job().rows.rows()
                    && only.job().rows.littleEndianBytes().filter(ByteBuffer::isDirect).isPresent()) {
                // a whole request already in native memory goes to the engine as it is, without a copy
                scores = model.score(only.job().rows);
            } else {
                ByteBuffer buf = buffer(Math.multiplyExact(4 * rows, cols));
                for (ScoringJob.Part p : batch) {
                    if (p != null) {
                        p.job().rows.copyRowsTo(p.fromRow(), p.rows(), buf);
                    }
                }
                buf.flip();
                scores = model.score(FloatMatrix.wrap(buf, rows, cols));
            }
            long finished = ticker.read();
            long took = finished - start;
            if (rows > 0) {
                measured(rows, took, finished);
            }
            observer.batch(rows, live, took);
            int at = 0;
            for (ScoringJob.Part p : batch) {
                if (p != null) {
                    System.arraycopy(scores, at, p.job().scores, p.fromRow(), p.rows());
                    at += p.rows();
                    p.job().partDone();
                }
            }
        } catch (RuntimeException | Error e) {
            ScoreflowException failure = e instanceof ScoreflowException s ? s
                    : new ScoreflowException(name + ": scoring failed: " + e, e);
            for (ScoringJob.Part p : batch) {
                if (p != null) {
                    p.job().result.completeExceptionally(failure);
                }
            }
        }
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
            rowsMeasured += rows;
            if (rowsMeasured >= policy.maxBatchRows()) {
                nanosPerRow = decayedNanos / decayedRows;
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

    private void failAll(ScoreflowException e) {
        for (ScoringJob.Part p : queue.drainAll()) {
            p.job().result.completeExceptionally(e);
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
            while (running > 0 || !queue.isEmpty()) {
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

    /** Stops accepting work, fails what is still queued, and closes the model once running batches end. */
    @Override
    public void close() {
        drainAndStop(Duration.ZERO);
        lock.lock();
        try {
            failAll(new ScoreflowException(name + " was closed before this request was scored"));
        } finally {
            lock.unlock();
        }
        drainAndStop(Duration.ofSeconds(30));
        model.close();
    }
}
