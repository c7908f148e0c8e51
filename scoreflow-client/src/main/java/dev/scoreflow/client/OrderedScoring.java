package dev.scoreflow.client;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ScoreflowException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * A blocking iterator of scored items over an iterator of input items: the adapter a Spark {@code mapPartitions}
 * needs. Items are grouped into batches of at most {@code batchRows} rows and {@code maxBatchBytes} bytes; at most
 * {@code maxInFlight} batches are being scored at once; results come out in input order, each with its item.
 *
 * <p>Back-pressure is the pull: input is read only to keep the window of in-flight batches full, so memory holds at
 * most {@code maxInFlight} batches of items and scores plus the batch being consumed, whatever the speeds of the
 * producer, the service and the consumer. {@link #hasNext()} is false only after the last answer has arrived.
 * With {@link ErrorMode#FAIL}, a failed batch makes the next {@link #hasNext()} or {@link #next()} rethrow the
 * failure on the calling thread, batches still out are cancelled (dropped by the client if not yet sent, their
 * answers ignored otherwise) and no more input is read; with
 * {@link ErrorMode#VALUE}, failures become {@link Scored#error()} values on the rows concerned.
 *
 * <p>Not thread-safe: one consumer thread, as a Spark task is.
 */
public final class OrderedScoring<T> implements Iterator<Scored<T>> {
    /** Extracts an item's feature vector (null when it has none). */
    @FunctionalInterface
    public interface Features<T> {
        float[] of(T item);
    }

    /**
     * Writes an item's features straight into the request buffer, for callers whose rows already hold floats in
     * binary form (Spark's internal rows): no array per row.
     */
    @FunctionalInterface
    public interface FeatureWriter<T> {
        /**
         * Writes {@code item}'s features as little-endian float32 at {@code offset} of {@code dst} if it has exactly
         * {@code width} of them, and returns how many it has, or -1 when it has none (a null column). With
         * {@code width} -1 it writes nothing ({@code dst} is null): the caller only learns the count.
         */
        int write(T item, ByteBuffer dst, int offset, int width);
    }

    /** Default cap on a request's body: 8 MiB. */
    public static final long DEFAULT_MAX_BATCH_BYTES = 8L << 20;

    private final Iterator<T> input;
    private final FeatureWriter<T> writer;
    private final ArrayDeque<ByteBuffer> freeBuffers = new ArrayDeque<>(); // request bodies, reused
    private final BatchScorer scorer;
    private final int batchRows;
    private final long maxBatchBytes;
    private final int maxInFlight;
    private final ErrorMode mode;
    private final ArrayDeque<Batch<T>> inFlight = new ArrayDeque<>();
    private int width = -1;
    private int rowsPerBatch;
    private Batch<T> current;
    private float[] scores;
    private String[] errors;
    private int at;
    private RuntimeException failure;
    private volatile boolean aborted;
    private volatile CompletableFuture<Void> awaiting; // the answer the consumer waits for now, for abort()

    private OrderedScoring(Iterator<T> input, FeatureWriter<T> writer, BatchScorer scorer, int batchRows,
                           long maxBatchBytes, int maxInFlight, ErrorMode mode) {
        if (batchRows < 1) {
            throw new IllegalArgumentException("batchRows must be >= 1, got " + batchRows);
        }
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("maxInFlight must be >= 1, got " + maxInFlight);
        }
        if (maxBatchBytes < 4) {
            throw new IllegalArgumentException("maxBatchBytes must be >= 4, got " + maxBatchBytes);
        }
        this.input = input;
        this.writer = writer;
        this.scorer = scorer;
        this.batchRows = batchRows;
        this.maxBatchBytes = maxBatchBytes;
        this.maxInFlight = maxInFlight;
        this.mode = mode;
    }

    /**
     * Scores {@code input} through {@code scorer}.
     *
     * @param batchRows   rows per request at most
     * @param maxInFlight requests out at once (the window)
     */
    public static <T> OrderedScoring<T> of(Iterator<T> input, Features<T> features, BatchScorer scorer,
                                           int batchRows, int maxInFlight, ErrorMode mode) {
        return new OrderedScoring<>(input, new ArrayWriter<>(features), scorer, batchRows, DEFAULT_MAX_BATCH_BYTES,
                maxInFlight, mode);
    }

    /** As {@link #of}, with a cap on request bytes as well as rows. */
    public static <T> OrderedScoring<T> of(Iterator<T> input, Features<T> features, BatchScorer scorer,
                                           int batchRows, long maxBatchBytes, int maxInFlight, ErrorMode mode) {
        return new OrderedScoring<>(input, new ArrayWriter<>(features), scorer, batchRows, maxBatchBytes,
                maxInFlight, mode);
    }

    /** As {@link #of}, with features written straight into the request buffers. */
    public static <T> OrderedScoring<T> writing(Iterator<T> input, FeatureWriter<T> writer, BatchScorer scorer,
                                                int batchRows, int maxInFlight, ErrorMode mode) {
        return new OrderedScoring<>(input, writer, scorer, batchRows, DEFAULT_MAX_BATCH_BYTES, maxInFlight, mode);
    }

    /** {@link Features} as a {@link FeatureWriter}. */
    private static final class ArrayWriter<T> implements FeatureWriter<T> {
        private final Features<T> features;

        ArrayWriter(Features<T> features) {
            this.features = features;
        }

        @Override
        public int write(T item, ByteBuffer dst, int offset, int width) {
            float[] row = features.of(item);
            if (row == null) {
                return -1;
            }
            if (row.length == width) {
                dst.asFloatBuffer().put(offset / 4, row);
            }
            return row.length;
        }
    }

    /** Scores rows of features, failing the stream on the first error. */
    public static OrderedScoring<float[]> ofRows(Iterator<float[]> rows, BatchScorer scorer, int batchRows,
                                                 int maxInFlight) {
        return of(rows, r -> r, scorer, batchRows, maxInFlight, ErrorMode.FAIL);
    }

    /** Batches being scored right now (never more than {@code maxInFlight}). */
    public int inFlight() {
        return inFlight.size();
    }

    /**
     * Stops this stream from any thread: the consumer's current or next {@link #hasNext()} / {@link #next()}
     * throws, batches still out are cancelled and no more input is read. For a consumer that must not stay blocked
     * on an answer it no longer wants (a cancelled subscription).
     */
    void abort() {
        aborted = true;
        CompletableFuture<Void> waitingFor = awaiting;
        if (waitingFor != null) {
            // not a CancellationException: get() would throw that as it is, past the clean-up in await()
            waitingFor.completeExceptionally(new ScoreflowException("scoring was cancelled"));
        }
    }

    @Override
    public boolean hasNext() {
        if (failure != null) {
            throw failure;
        }
        if (aborted) {
            throw fail(new ScoreflowException("scoring was cancelled"));
        }
        while (current == null || at == current.size) {
            fill();
            Batch<T> head = inFlight.poll();
            if (head == null) {
                return false;
            }
            await(head);
            current = head;
            at = 0;
        }
        return true;
    }

    @Override
    public Scored<T> next() {
        if (!hasNext()) {
            throw new NoSuchElementException("no more scores");
        }
        int i = at++;
        @SuppressWarnings("unchecked")
        T item = (T) current.items[i];
        Scored<T> s = new Scored<>(item, scores[i], errors == null ? null : errors[i]);
        if (at == current.size) {
            current.items = null; // let the consumed batch go before the next one is read
            freeBuffers.push(current.bytes); // answered: the client is done with its body
            fill(); // keep the window full while the consumer works on this batch's scores
        }
        return s;
    }

    /** Starts batches until the window is full or the input is exhausted. */
    private void fill() {
        while (!aborted && inFlight.size() < maxInFlight && input.hasNext()) {
            Batch<T> b = nextBatch();
            b.start(scorer, mode);
            inFlight.add(b);
        }
    }

    private Batch<T> nextBatch() {
        T item = input.next();
        if (width < 0) {
            int w = writer.write(item, null, 0, -1);
            if (w <= 0) {
                throw fail(new ScoreflowException("the first row has no features"));
            }
            width = w;
            rowsPerBatch = (int) Math.max(1, Math.min(batchRows, maxBatchBytes / (4L * width)));
        }
        ByteBuffer buffer = freeBuffers.poll();
        if (buffer == null) {
            // direct: the socket (or ONNX Runtime, in-process) reads it without another copy
            buffer = ByteBuffer.allocateDirect(rowsPerBatch * width * 4).order(ByteOrder.LITTLE_ENDIAN);
        }
        Batch<T> b = new Batch<>(rowsPerBatch, width, buffer);
        while (true) {
            int w = writer.write(item, b.bytes, b.sent * width * 4, width);
            if (w == width) {
                b.add(item);
            } else {
                String why = "row has " + (w < 0 ? "no" : w) + " features, earlier rows have " + width;
                if (mode == ErrorMode.FAIL) {
                    throw fail(new ScoreflowException(why));
                }
                b.addRejected(item, why);
            }
            if (b.size == rowsPerBatch || !input.hasNext()) {
                break;
            }
            item = input.next();
        }
        return b;
    }

    private void await(Batch<T> b) {
        try {
            awaiting = b.done;
            if (aborted) { // abort() may have run before 'awaiting' was set: it could not wake this wait
                b.cancel();
                throw fail(new ScoreflowException("scoring was cancelled"));
            }
            b.done.get();
            scores = b.scores;
            errors = b.errors;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw fail(new ScoreflowException("interrupted while waiting for scores", e));
        } catch (ExecutionException e) {
            b.cancel(); // taken off the window already, so fail() would not cancel it: aborted while it was out
            throw fail(asScoreflow(e.getCause()));
        } finally {
            awaiting = null;
        }
    }

    private static ScoreflowException asScoreflow(Throwable t) {
        if (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t instanceof ScoreflowException s ? s : new ScoreflowException("scoring failed: " + t, t);
    }

    private RuntimeException fail(RuntimeException e) {
        failure = e;
        for (Batch<T> b : inFlight) {
            b.cancel();
        }
        inFlight.clear();
        return e;
    }

    /** One request's rows: the items, their features as little-endian floats, and, once done, the outcome. */
    private static final class Batch<T> {
        Object[] items;
        final ByteBuffer bytes;
        final int width;
        int size;
        int sent;
        int[] rejected; // positions of rows not sent (VALUE mode only), ascending
        String[] rejectedWhy;
        int rejectedCount;
        float[] scores;
        String[] errors;
        final CompletableFuture<Void> done = new CompletableFuture<>();
        CompletableFuture<?> request;

        Batch(int capacity, int width, ByteBuffer bytes) {
            this.items = new Object[capacity];
            this.width = width;
            this.bytes = bytes;
        }

        /** Records a row whose features were just written at the next slot. */
        void add(Object item) {
            items[size++] = item;
            sent++;
        }

        void addRejected(Object item, String why) {
            if (rejected == null) {
                rejected = new int[items.length];
                rejectedWhy = new String[items.length];
            }
            rejected[rejectedCount] = size;
            rejectedWhy[rejectedCount++] = why;
            items[size++] = item;
        }

        void start(BatchScorer scorer, ErrorMode mode) {
            FloatMatrix matrix = FloatMatrix.wrap(bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN)
                    .limit(sent * width * 4), sent, width);
            CompletableFuture<Outcome> f;
            if (sent == 0) {
                f = CompletableFuture.completedFuture(new Outcome(new float[0], null));
            } else if (mode == ErrorMode.FAIL) {
                CompletableFuture<float[]> raw = scorer.score(matrix);
                request = raw; // cancelling it lets the client drop the batch if it has not been sent
                f = checked(raw, sent).thenApply(s -> new Outcome(s, null));
            } else {
                f = Isolating.score(scorer, matrix);
            }
            f.whenComplete((o, err) -> {
                if (err != null) {
                    done.completeExceptionally(err);
                } else {
                    spread(o);
                    done.complete(null);
                }
            });
        }

        /** Puts the sent rows' outcomes and the rejected rows' errors at their positions. */
        private void spread(Outcome o) {
            if (rejectedCount == 0) {
                scores = o.scores;
                errors = o.errors;
                return;
            }
            scores = new float[size];
            errors = new String[size];
            int r = 0;
            int s = 0;
            for (int i = 0; i < size; i++) {
                if (r < rejectedCount && rejected[r] == i) {
                    scores[i] = Float.NaN;
                    errors[i] = rejectedWhy[r++];
                } else {
                    scores[i] = o.scores[s];
                    errors[i] = o.errors == null ? null : o.errors[s];
                    s++;
                }
            }
        }

        void cancel() {
            if (request != null) {
                request.cancel(false);
            }
        }
    }

    /** Scores of the rows sent, and per-row errors (null when every row was scored). */
    record Outcome(float[] scores, String[] errors) {
    }

    static CompletableFuture<float[]> scoreChecked(BatchScorer scorer, FloatMatrix rows) {
        return checked(scorer.score(rows), rows.rows());
    }

    private static CompletableFuture<float[]> checked(CompletableFuture<float[]> scored, int n) {
        return scored.thenApply(s -> {
            if (s.length != n) {
                throw new ScoreflowException("the service answered " + s.length + " scores for " + n + " rows");
            }
            return s;
        });
    }

    /**
     * Scoring that turns failures into per-row errors: a batch refused as bad input (400, 413, or
     * {@link BadInputException} in-process) is split in halves
     * until the offending rows stand alone; any other failure marks every row of its batch.
     */
    static final class Isolating {
        private Isolating() {
        }

        static CompletableFuture<Outcome> score(BatchScorer scorer, FloatMatrix rows) {
            return scoreChecked(scorer, rows).handle((s, err) -> {
                if (err == null) {
                    return CompletableFuture.completedFuture(new Outcome(s, null));
                }
                ScoreflowException e = asScoreflow(err);
                boolean badInput = e instanceof BadInputException // in-process scoring refused the rows
                        || e instanceof ScoringFailedException f && (f.status() == 400 || f.status() == 413);
                if (rows.rows() > 1 && badInput) {
                    int half = rows.rows() / 2;
                    CompletableFuture<Outcome> a = score(scorer, slice(rows, 0, half));
                    CompletableFuture<Outcome> b = score(scorer, slice(rows, half, rows.rows() - half));
                    return a.thenCombine(b, Isolating::join);
                }
                float[] nan = new float[rows.rows()];
                Arrays.fill(nan, Float.NaN);
                String[] why = new String[rows.rows()];
                Arrays.fill(why, e.getMessage());
                return CompletableFuture.completedFuture(new Outcome(nan, why));
            }).thenCompose(f -> f);
        }

        private static FloatMatrix slice(FloatMatrix m, int from, int count) {
            ByteBuffer b = ByteBuffer.allocate(count * m.cols() * 4).order(ByteOrder.LITTLE_ENDIAN);
            m.copyRowsTo(from, count, b);
            return FloatMatrix.wrap(b.flip(), count, m.cols());
        }

        private static Outcome join(Outcome a, Outcome b) {
            float[] s = Arrays.copyOf(a.scores, a.scores.length + b.scores.length);
            System.arraycopy(b.scores, 0, s, a.scores.length, b.scores.length);
            String[] e = null;
            if (a.errors != null || b.errors != null) {
                e = new String[s.length];
                if (a.errors != null) {
                    System.arraycopy(a.errors, 0, e, 0, a.errors.length);
                }
                if (b.errors != null) {
                    System.arraycopy(b.errors, 0, e, a.scores.length, b.errors.length);
                }
            }
            return new Outcome(s, e);
        }
    }
}
