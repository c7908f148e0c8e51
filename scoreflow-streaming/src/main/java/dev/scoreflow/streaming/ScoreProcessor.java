package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Json;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Scores one event: reads its entity's history (the materialized view), computes the feature vector, scores it,
 * then stores the history with the event added, and writes the score. An event that cannot be scored changes no
 * state and goes to the dead letters with its reason.
 *
 * <p>Lateness: an event whose time is more than the grace period behind this task's stream time (the latest event
 * time it has seen) is still scored (it is a real transaction), but counted, copied to the late topic if there is
 * one, and marked {@code "late": true}, so that window statistics leave it out rather than lose it silently.
 */
final class ScoreProcessor implements Processor<String, Event, Object, Object> {
    static final String STREAM_TIME_KEY = "stream-time";

    private final ScoringTopology.Settings settings;
    private final List<String> names;
    private ProcessorContext<Object, Object> ctx;
    private KeyValueStore<String, byte[]> histories;
    private KeyValueStore<String, Long> streamTimes;
    private long streamTime = Long.MIN_VALUE;
    private KeyValueStore<Long, byte[]> deltas;
    private final TreeMap<Long, WindowStats> open = new TreeMap<>();

    ScoreProcessor(ScoringTopology.Settings settings) {
        this.settings = settings;
        this.names = settings.spec().names();
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        this.ctx = context;
        this.histories = context.getStateStore(ScoringTopology.HISTORY_STORE);
        this.streamTimes = context.getStateStore(ScoringTopology.STREAM_TIME_STORE);
        Long t = streamTimes.get(STREAM_TIME_KEY);
        streamTime = t == null ? Long.MIN_VALUE : t;
        if (settings.stats() != null) {
            deltas = context.getStateStore(ScoringTopology.STATS_DELTAS_STORE);
            open.clear(); // a task revived after an abort inits again: the store is the truth, not this memory
            try (KeyValueIterator<Long, byte[]> it = deltas.all()) {
                it.forEachRemaining(kv -> open.put(kv.key, WindowStats.fromBytes(kv.value)));
            }
            context.schedule(Duration.ofSeconds(1), PunctuationType.WALL_CLOCK_TIME, now -> flush(Long.MAX_VALUE));
        }
    }

    private void addToWindows(long ts, float score, boolean positive, float[] x) {
        ScoringTopology.StatsSettings st = settings.stats();
        long last = Math.floorDiv(ts, st.hopMs()) * st.hopMs();
        for (long start = last; start > ts - st.windowMs(); start -= st.hopMs()) {
            WindowStats w = open.computeIfAbsent(start, s -> new WindowStats(s, x.length));
            w.add(ts, score, positive, x);
            deltas.put(start, w.toBytes());
        }
    }

    /** Sends the parts of the windows that end at or before {@code until} to the aggregator. */
    private void flush(long until) {
        long windowMs = settings.stats().windowMs();
        Iterator<Map.Entry<Long, WindowStats>> it = open.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Long, WindowStats> e = it.next();
            if (until != Long.MAX_VALUE && e.getKey() + windowMs > until) {
                break; // sorted by start: the later ones end later
            }
            // the part's time tells the aggregator how far this task has got: never past the part's own window
            // end plus grace, so that the parts of later windows sent in the same flush are not closed out
            long end = e.getKey() + windowMs + settings.graceMs();
            ctx.forward(new Record<>("all", e.getValue().toBytes(), Math.min(Math.max(streamTime,
                    e.getValue().maxEventTs), end)), ScoringTopology.TO_STATS);
            deltas.delete(e.getKey());
            it.remove();
        }
    }

    @Override
    public void process(Record<String, Event> r) {
        Event e = r.value();
        FeatureSpec spec = settings.spec();
        StreamMetrics metrics = settings.metrics();
        try {
            EntityHistory.Values values = EntityHistory.Values.of(e, spec);
            EntityHistory history = load(e.entity());
            float[] x = history.features(spec, values);
            float score;
            try {
                score = settings.scorer().score(x);
            } catch (RuntimeException failure) {
                throw new Rejection(Rejection.SCORING_FAILED, "the model failed: " + failure.getMessage());
            }
            if (!Float.isFinite(score)) {
                throw new Rejection(Rejection.SCORING_FAILED, "the model gave a score that is not finite: " + score);
            }
            EntityHistory next = history.append(values, settings.keepHistoryMs(), settings.maxHistory());
            if (next.truncated() > 0) {
                metrics.historyTruncated.inc(next.truncated());
            }
            histories.put(e.entity(), next.toBytes(spec));
            boolean late = streamTime != Long.MIN_VALUE && e.ts() < streamTime - settings.graceMs();
            if (e.ts() > streamTime) {
                streamTime = e.ts();
                streamTimes.put(STREAM_TIME_KEY, streamTime);
            }
            long now = settings.clock().getAsLong();
            boolean positive = score >= settings.threshold();
            ctx.forward(new Record<>(e.entity(), output(e, x, score, late, now), r.timestamp()), ScoringTopology.SCORES);
            if (settings.stats() != null && !late) {
                addToWindows(e.ts(), score, positive, x);
                if (!open.isEmpty() && open.firstKey() + settings.stats().windowMs() <= streamTime) {
                    flush(streamTime);
                }
            }
            metrics.scored.inc(1);
            metrics.latency.observe(Math.max(0, now - r.timestamp()) / 1000.0);
            if (late) {
                metrics.late.inc(1);
                if (settings.lateTopic() != null) {
                    ctx.forward(new Record<>(e.entity(), e.raw(), r.timestamp()), ScoringTopology.LATE);
                }
            }
        } catch (Rejection rejection) {
            metrics.deadLettered.inc(1, rejection.reason());
            ctx.forward(DeadLetters.of(rejection, e.origin(), e.raw(), r.timestamp(), settings.clock().getAsLong()),
                    ScoringTopology.DEAD_LETTERS);
        }
    }

    private EntityHistory load(String entity) {
        byte[] b = histories.get(entity);
        if (b == null) {
            return EntityHistory.empty(settings.spec());
        }
        EntityHistory h = EntityHistory.fromBytes(b, settings.spec());
        if (h == null) {
            settings.metrics().historyReset.inc(1);
            return EntityHistory.empty(settings.spec());
        }
        return h;
    }

    private String output(Event e, float[] x, float score, boolean late, long now) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("event_id", e.eventId());
        out.put("entity", e.entity());
        out.put("ts", e.ts());
        out.put("score", exact(score));
        out.put("prediction", score >= settings.threshold() ? 1 : 0);
        out.put("model", settings.scorer().modelName());
        out.put("model_version", settings.scorer().modelVersion());
        Map<String, Object> features = new LinkedHashMap<>();
        for (int i = 0; i < x.length; i++) {
            features.put(names.get(i), exact(x[i]));
        }
        out.put("features", features);
        if (late) {
            out.put("late", true);
        }
        out.put("scored_at", now);
        return Json.write(out);
    }

    /** A float32 as the shortest decimal that reads back as the same float (not its long double expansion). */
    static Double exact(float f) {
        return Double.valueOf(Float.toString(f));
    }
}
