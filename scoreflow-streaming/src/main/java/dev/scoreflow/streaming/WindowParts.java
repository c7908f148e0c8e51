package dev.scoreflow.streaming;

import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * One stream task's part of the windowed statistics: every on-time event is added to each window it falls in, in
 * memory; {@link #persist} writes the windows changed since into a cached state store (so the parts are as
 * exactly-once as the task's outputs: the owner persists before it returns to Kafka Streams, which may then commit).
 * A window's part goes to the aggregator ({@link StatsProcessor}) once the task's stream time passes the window's
 * end, or whenever the owner flushes (every second). Parts add up, so sending a window in several pieces is fine.
 * Not thread-safe: the task's thread.
 */
final class WindowParts {
    private final ScoringTopology.Settings settings;
    private final ProcessorContext<Object, Object> ctx;
    private final KeyValueStore<Long, byte[]> store;
    private final TreeMap<Long, WindowStats> open = new TreeMap<>();
    private final java.util.Set<Long> dirty = new java.util.HashSet<>();

    /** Reads back what the store holds (a task revived after an abort starts from the store, not from memory). */
    WindowParts(ScoringTopology.Settings settings, ProcessorContext<Object, Object> ctx) {
        this.settings = settings;
        this.ctx = ctx;
        this.store = ctx.getStateStore(ScoringTopology.STATS_DELTAS_STORE);
        try (KeyValueIterator<Long, byte[]> it = store.all()) {
            it.forEachRemaining(kv -> open.put(kv.key, WindowStats.fromBytes(kv.value)));
        }
    }

    /**
     * Adds an on-time event (in memory until {@link #persist}), then sends the parts its task has finished
     * ({@code streamTime}: the task's).
     */
    void add(long ts, float score, boolean positive, float[] x, long streamTime) {
        ScoringTopology.StatsSettings st = settings.stats();
        long last = Math.floorDiv(ts, st.hopMs()) * st.hopMs();
        for (long start = last; start > ts - st.windowMs(); start -= st.hopMs()) {
            WindowStats w = open.computeIfAbsent(start, s -> new WindowStats(s, x.length));
            w.add(ts, score, positive, x);
            dirty.add(start);
        }
        if (!open.isEmpty() && open.firstKey() + st.windowMs() <= streamTime) {
            flush(streamTime, streamTime);
        }
    }

    /** Writes the windows changed since the last call to the store: once per batch of events, not per event. */
    void persist() {
        for (Long start : dirty) {
            WindowStats w = open.get(start);
            if (w != null) {
                store.put(start, w.toBytes());
            }
        }
        dirty.clear();
    }

    /** Sends the parts of the windows that end at or before {@code until} ({@code Long.MAX_VALUE}: all). */
    void flush(long until, long streamTime) {
        long windowMs = settings.stats().windowMs();
        Iterator<Map.Entry<Long, WindowStats>> it = open.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Long, WindowStats> e = it.next();
            if (until != Long.MAX_VALUE && e.getKey() + windowMs > until) {
                break; // sorted by start: the later ones end later
            }
            // the part's time tells the aggregator how far this task has got: never past the part's own window end
            // plus grace, so that the parts of later windows sent in the same flush are not closed out
            long end = e.getKey() + windowMs + settings.graceMs();
            ctx.forward(new Record<>("all", e.getValue().toBytes(), Math.min(Math.max(streamTime,
                    e.getValue().maxEventTs), end)), ScoringTopology.TO_STATS);
            store.delete(e.getKey());
            dirty.remove(e.getKey());
            it.remove();
        }
    }
}
