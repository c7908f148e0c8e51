package dev.scoreflow.spark;

import dev.scoreflow.client.BatchScorer;
import dev.scoreflow.client.ErrorMode;
import dev.scoreflow.client.OrderedScoring;
import dev.scoreflow.client.Scored;
import dev.scoreflow.client.ScoringClients;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.LongAccumulator;

import java.util.Iterator;

/**
 * Scores one partition: its rows stream through {@link OrderedScoring} (bounded read-ahead, ordered answers,
 * failures rethrown on the task thread) and come out with {@code score}, and {@code prediction} and {@code error}
 * when asked for, appended. Remote scoring goes through the executor's shared client; in-process scoring through
 * the executor's shared model session, on the task thread.
 */
final class PartitionScorer implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    /** Partitions this JVM has scored (a test hook: shows clients and models outlive partitions). */
    static final java.util.concurrent.atomic.AtomicLong PARTITIONS = new java.util.concurrent.atomic.AtomicLong();

    private final ScoringSettings settings;
    private final LongAccumulator rowsScored;

    PartitionScorer(ScoringSettings settings, LongAccumulator rowsScored) {
        this.settings = settings;
        this.rowsScored = rowsScored;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
        PARTITIONS.incrementAndGet();
        BatchScorer scorer = settings.remote() ? ScoringClients.shared(settings.clientConfig())
                : ExecutorModels.scorer(settings.modelPath());
        int window = settings.remote() ? settings.maxInFlight() : 1;
        int index = settings.featuresIndex();
        OrderedScoring<Row> scored = OrderedScoring.of(input, row -> features(row, index), scorer,
                settings.batchRows(), window, settings.errorValues() ? ErrorMode.VALUE : ErrorMode.FAIL);
        Double threshold = settings.threshold();
        boolean errors = settings.errorValues();
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
            public Row next() {
                Scored<Row> s = scored.next();
                pending++;
                Row in = s.item();
                int n = in.length();
                Object[] out = new Object[n + 1 + (threshold != null ? 1 : 0) + (errors ? 1 : 0)];
                for (int i = 0; i < n; i++) {
                    out[i] = in.get(i);
                }
                int k = n;
                out[k++] = s.ok() ? s.score() : null;
                if (threshold != null) {
                    out[k++] = s.ok() ? (s.score() >= threshold ? 1 : 0) : null;
                }
                if (errors) {
                    out[k] = s.error();
                }
                return RowFactory.create(out);
            }

            private void flush() {
                if (rowsScored != null && pending > 0) {
                    rowsScored.add(pending);
                }
                pending = 0;
            }
        };
    }

    /** The row's features as floats, from array&lt;float&gt;, array&lt;double&gt; or an ML Vector. */
    static float[] features(Row row, int index) {
        if (row.isNullAt(index)) {
            return null;
        }
        Object v = row.get(index);
        if (v instanceof Vector vec) {
            double[] d = vec.toArray();
            float[] f = new float[d.length];
            for (int i = 0; i < d.length; i++) {
                f[i] = (float) d[i];
            }
            return f;
        }
        if (v instanceof scala.collection.immutable.ArraySeq.ofFloat a) {
            return a.unsafeArray();
        }
        scala.collection.Seq<?> seq = (scala.collection.Seq<?>) v;
        int n = seq.length();
        float[] f = new float[n];
        Iterator<?> it = scala.jdk.javaapi.CollectionConverters.asJava(seq.iterator());
        for (int i = 0; i < n; i++) {
            Object x = it.next();
            f[i] = x == null ? Float.NaN : ((Number) x).floatValue();
        }
        return f;
    }
}
