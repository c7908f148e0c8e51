package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Metrics;

/** The stream app's counters and histograms, served at {@code /metrics}. Thread-safe. */
final class StreamMetrics {
    final Metrics registry = new Metrics();
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
    final Metrics.Histogram latency = registry.histogram("scoreflow_stream_event_to_score_seconds",
            "from the input record's timestamp (when it was produced) to its score",
            new double[]{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
}
