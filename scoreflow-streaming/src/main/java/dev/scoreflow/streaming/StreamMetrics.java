package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Metrics;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The stream app's counters, histograms and gauges, served at {@code /metrics} with the JVM's families beside them.
 * Thread-safe.
 */
final class StreamMetrics {
    final Metrics registry = Metrics.withJvm();
    final Metrics.Counter eventsIn = registry.counter("scoreflow_stream_events_in_total",
            "input records read (scored + dead-lettered, exactly)");
    final Metrics.Counter scored = registry.counter("scoreflow_stream_events_scored_total",
            "events scored and written to the output topic");
    final Metrics.Counter deadLettered = registry.counter("scoreflow_stream_dead_letters_total",
            "input records written to the dead-letter topic, by reason", "reason");
    final Metrics.Counter late = registry.counter("scoreflow_stream_late_events_total",
            "events later than the grace period (scored, left out of the window statistics, copied to the late topic)");
    final Metrics.Counter historyReset = registry.counter("scoreflow_stream_history_resets_total",
            "entity histories written for other features (the features file changed) and started afresh");
    final Metrics.Counter historyTruncated = registry.counter("scoreflow_stream_history_truncated_total",
            "events dropped from an entity's history because it held more than --max-history events");
    final Metrics.Counter alerts = registry.counter("scoreflow_stream_alerts_total",
            "rule transitions written to the alerts topic", "rule", "state");
    final Metrics.Counter alertActionsDone = registry.counter("scoreflow_stream_alert_actions_total",
            "alert actions (webhook POSTs, commands) that succeeded, by kind", "kind");
    final Metrics.Counter alertActionRetries = registry.counter("scoreflow_stream_alert_action_retries_total",
            "failed attempts of alert actions that were tried again after a backoff, by kind", "kind");
    final Metrics.Counter alertActionsFailed = registry.counter("scoreflow_stream_alert_actions_failed_total",
            "alert actions given up after their last attempt (logged as errors), by kind", "kind");
    final Metrics.Counter alertRecordsMalformed = registry.counter("scoreflow_stream_alert_records_malformed_total",
            "records of the alerts topic that were not alerts (logged and skipped by the alert actions)");
    final Metrics.Counter statsLate = registry.counter("scoreflow_stream_stats_late_events_total",
            "events whose statistics reached the aggregator after their window closed (not in its statistics)");
    /** Entries of each state store, per task that holds a part of it: "store task" -> entries. */
    private final Map<String, Long> storeEntries = new ConcurrentHashMap<>();
    private volatile WindowStats lastWindow;
    private volatile long lastWindowMs;
    final Metrics.Histogram latency = registry.histogram("scoreflow_stream_event_to_score_seconds",
            "from the input record's timestamp (when it was produced) to its score",
            new double[]{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});

    StreamMetrics() {
        registry.gauge("scoreflow_stream_window_events_per_second", "event rate in the last closed window",
                () -> window(w -> w.count / (lastWindowMs / 1000.0)));
        registry.gauge("scoreflow_stream_window_mean_score", "mean score in the last closed window",
                () -> window(WindowStats::meanScore));
        registry.gauge("scoreflow_stream_window_positive_rate", "share of predictions = 1 in the last closed window",
                () -> window(WindowStats::positiveRate));
        registry.gauge("scoreflow_stream_store_entries", "entries in this instance's state stores (approximate for "
                + "RocksDB), by store", new String[]{"store"}, sample -> {
                    Map<String, Long> byStore = new TreeMap<>();
                    storeEntries.forEach((k, v) -> byStore.merge(k.substring(0, k.indexOf(' ')), v, Long::sum));
                    byStore.forEach((store, n) -> sample.call(n, store));
                });
    }

    /** What one task's part of a store holds now ({@code entries} < 0: the task left this instance). */
    void storeEntries(String store, Object task, long entries) {
        if (entries < 0) {
            storeEntries.remove(store + " " + task);
        } else {
            storeEntries.put(store + " " + task, entries);
        }
    }

    void lastWindow(WindowStats w, long windowMs) {
        lastWindowMs = windowMs;
        lastWindow = w;
    }

    WindowStats lastWindow() {
        return lastWindow;
    }

    long lastWindowMs() {
        return lastWindowMs;
    }

    /** Rules that started firing, all rules together. */
    long alertsFired() {
        return alerts.sum(labels -> labels.get(1).equals("firing"));
    }

    /** {@code f} of the last closed window; NaN (no sample) before the first or when not finite. */
    private double window(java.util.function.ToDoubleFunction<WindowStats> f) {
        WindowStats w = lastWindow;
        double v = w == null ? Double.NaN : f.applyAsDouble(w);
        return Double.isFinite(v) ? v : Double.NaN;
    }
}
