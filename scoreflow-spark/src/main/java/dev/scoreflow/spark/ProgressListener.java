package dev.scoreflow.spark;

import org.apache.spark.TaskEndReason;
import org.apache.spark.Success$;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.util.LongAccumulator;
import scala.Tuple4;
import scala.jdk.javaapi.CollectionConverters;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Live progress of a scoring job on the driver: rows scored by finished tasks plus what running tasks reported in
 * their executors' heartbeats (a plain accumulator only counts finished tasks, which for a few big partitions means
 * no progress at all until the end). Prints rows done, rows/s and the time left.
 */
final class ProgressListener extends SparkListener {
    private final long accumulatorId;
    private final AtomicLong finished = new AtomicLong();
    private final Map<Long, Long> running = new ConcurrentHashMap<>();

    ProgressListener(LongAccumulator rows) {
        this.accumulatorId = rows.id();
    }

    /** Rows scored so far. */
    long rows() {
        long r = finished.get();
        for (long v : running.values()) {
            r += v;
        }
        return r;
    }

    @Override
    public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate update) {
        for (Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> t
                : CollectionConverters.asJava(update.accumUpdates())) {
            long v = value(t._4());
            if (v >= 0) {
                running.put((Long) t._1(), v);
            }
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        running.remove(end.taskInfo().taskId());
        TaskEndReason reason = end.reason();
        if (reason == Success$.MODULE$) { // a failed task's rows are counted when its retry succeeds
            long v = value(end.taskInfo().accumulables());
            if (v > 0) {
                finished.addAndGet(v);
            }
        }
    }

    private long value(scala.collection.Seq<AccumulableInfo> infos) {
        for (AccumulableInfo info : CollectionConverters.asJava(infos)) {
            if (info.id() == accumulatorId && info.update().isDefined()) {
                Object u = info.update().get();
                return u instanceof Number n ? n.longValue() : Long.parseLong(u.toString());
            }
        }
        return -1;
    }

    /** Prints a progress line every {@code periodMillis} until interrupted. */
    static Thread reporter(ProgressListener listener, long total, long periodMillis, LongSupplier clock,
                           Consumer<String> log) {
        Thread t = new Thread(() -> {
            long start = clock.getAsLong();
            long lastRows = 0; // nothing to say before the first rows are scored
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    Thread.sleep(periodMillis);
                } catch (InterruptedException e) {
                    return;
                }
                long rows = listener.rows();
                if (rows == lastRows) {
                    continue;
                }
                lastRows = rows;
                log.accept(line(rows, total, (clock.getAsLong() - start) / 1e9));
            }
        }, "scoreflow-progress");
        t.setDaemon(true);
        return t;
    }

    static String line(long rows, long total, double seconds) {
        double rate = seconds > 0 ? rows / seconds : 0;
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "scored %,d", rows));
        if (total > 0) {
            s.append(String.format(Locale.ROOT, " of %,d rows (%.1f%%)", total, 100.0 * rows / total));
        } else {
            s.append(" rows");
        }
        s.append(String.format(Locale.ROOT, ", %,.0f rows/s", rate));
        if (total > 0 && rate > 0 && rows < total) {
            long left = (long) Math.ceil((total - rows) / rate);
            s.append(String.format(Locale.ROOT, ", ETA %d:%02d", left / 60, left % 60));
        }
        return s.toString();
    }
}
