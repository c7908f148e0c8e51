package dev.scoreflow.spark;

import dev.scoreflow.client.BatchScorer;
import dev.scoreflow.client.ErrorMode;
import dev.scoreflow.client.OrderedScoring;
import dev.scoreflow.client.Scored;
import dev.scoreflow.client.ScoringClients;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.JoinedRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.unsafe.Platform;
import io.netty.util.internal.PlatformDependent;
import org.apache.spark.unsafe.types.UTF8String;
import org.apache.spark.util.LongAccumulator;

import java.util.Iterator;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Scores one partition: its rows stream through {@link OrderedScoring} (bounded read-ahead, ordered answers,
 * failures rethrown on the task thread) and come out with {@code score}, and {@code prediction} and {@code error}
 * when asked for, appended. Remote scoring goes through the executor's shared client; in-process scoring through
 * the executor's shared model session, on the task thread.
 *
 * <p>It works on Spark's internal rows: features are copied straight out of Spark's binary arrays, and input rows
 * are passed through untouched, instead of being converted to Java objects (100 boxed floats per row) and back,
 * which cost more than the scoring itself.
 */
final class PartitionScorer implements FlatMapFunction<Iterator<InternalRow>, InternalRow> {
    private static final long serialVersionUID = 1L;
    /** Partitions this JVM has scored (a test hook: shows clients and models outlive partitions). */
    static final AtomicLong PARTITIONS = new AtomicLong();

    /** How the features column is stored (a float array whose schema allows null elements is checked for them). */
    enum Kind { FLOAT_ARRAY, NULLABLE_FLOAT_ARRAY, DOUBLE_ARRAY, VECTOR }

    private static final VectorUDT VECTORS = new VectorUDT();

    private final ScoringSettings settings;
    private final Kind kind;
    private final LongAccumulator rowsScored;

    PartitionScorer(ScoringSettings settings, Kind kind, LongAccumulator rowsScored) {
        this.settings = settings;
        this.kind = kind;
        this.rowsScored = rowsScored;
    }

    @Override
    public Iterator<InternalRow> call(Iterator<InternalRow> input) {
        PARTITIONS.incrementAndGet();
        BatchScorer scorer = settings.remote() ? ScoringClients.shared(settings.clientConfig())
                : ExecutorModels.scorer(settings.modelPath());
        int window = settings.remote() ? settings.maxInFlight() : 1;
        int index = settings.featuresIndex();
        Iterator<InternalRow> copies = new Iterator<>() { // Spark reuses the row object: keep a copy per row
            @Override
            public boolean hasNext() {
                return input.hasNext();
            }

            @Override
            public InternalRow next() {
                return input.next().copy();
            }
        };
        ErrorMode mode = settings.errorValues() ? ErrorMode.VALUE : ErrorMode.FAIL;
        OrderedScoring<InternalRow> scored = kind == Kind.FLOAT_ARRAY
                ? OrderedScoring.writing(copies, new FloatArrayWriter(index), scorer, settings.batchRows(), window, mode)
                : OrderedScoring.of(copies, row -> features(row, index, kind), scorer, settings.batchRows(), window,
                        mode);
        Double threshold = settings.threshold();
        boolean errors = settings.errorValues();
        int extra = 1 + (threshold != null ? 1 : 0) + (errors ? 1 : 0);
        return new Iterator<>() {
            long pending;

            @Override
            public boolean hasNext() {
                boolean more = scored.hasNext();
                if (!more || pending >= settings.batchRows()) {
                    flush();
                }
                return more;
            }

            @Override
            public InternalRow next() {
                Scored<InternalRow> s = scored.next();
                pending++;
                Object[] out = new Object[extra];
                int k = 0;
                out[k++] = s.ok() ? s.score() : null;
                if (threshold != null) {
                    out[k++] = s.ok() ? (s.score() >= threshold ? 1 : 0) : null;
                }
                if (errors) {
                    out[k] = s.error() == null ? null : UTF8String.fromString(s.error());
                }
                return new JoinedRow(s.item(), new GenericInternalRow(out));
            }

            private void flush() {
                if (rowsScored != null && pending > 0) {
                    rowsScored.add(pending);
                }
                pending = 0;
            }
        };
    }

    /**
     * Copies an {@code array<float>} column (no null elements) from Spark's binary row straight into the request
     * buffer: Spark keeps the floats in native byte order, which is the little-endian the wire wants on the x86 and
     * ARM machines Spark runs on (other orders take the array route).
     */
    static final class FloatArrayWriter implements OrderedScoring.FeatureWriter<InternalRow> {
        private static final boolean LITTLE = java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN;
        private final int index;

        FloatArrayWriter(int index) {
            this.index = index;
        }

        @Override
        public int write(InternalRow row, java.nio.ByteBuffer dst, int offset, int width) {
            if (row.isNullAt(index)) {
                return -1;
            }
            ArrayData a = row.getArray(index);
            int n = a.numElements();
            if (n != width) {
                return n;
            }
            if (LITTLE && dst.isDirect() && a instanceof UnsafeArrayData u) {
                Platform.copyMemory(u.getBaseObject(), u.getBaseOffset()
                        + UnsafeArrayData.calculateHeaderPortionInBytes(n), null,
                        PlatformDependent.directBufferAddress(dst) + offset, 4L * n);
            } else {
                dst.asFloatBuffer().put(offset / 4, a.toFloatArray());
            }
            return n;
        }
    }

    /** The row's features as floats, or null when the column is null. */
    static float[] features(InternalRow row, int index, Kind kind) {
        if (row.isNullAt(index)) {
            return null;
        }
        switch (kind) {
            case FLOAT_ARRAY:
                return row.getArray(index).toFloatArray(); // one copy out of Spark's memory
            case NULLABLE_FLOAT_ARRAY: {
                ArrayData a = row.getArray(index);
                float[] f = a.toFloatArray();
                for (int i = 0; i < f.length; i++) {
                    if (a.isNullAt(i)) {
                        f[i] = Float.NaN; // refused by the service with a clear error (or the row's error value)
                    }
                }
                return f;
            }
            case DOUBLE_ARRAY: {
                ArrayData a = row.getArray(index);
                float[] f = new float[a.numElements()];
                for (int i = 0; i < f.length; i++) {
                    f[i] = a.isNullAt(i) ? Float.NaN : (float) a.getDouble(i);
                }
                return f;
            }
            default: {
                Vector v = VECTORS.deserialize(row.getStruct(index, 4));
                double[] d = v.toArray();
                float[] f = new float[d.length];
                for (int i = 0; i < d.length; i++) {
                    f[i] = (float) d[i];
                }
                return f;
            }
        }
    }
}
