package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Json;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
    private WindowParts parts;

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
        if (settings.stats() != null && settings.scorer() != null) { // remote: counted from the outputs
            parts = new WindowParts(settings, context);
        }
        context.schedule(Duration.ofSeconds(1), PunctuationType.WALL_CLOCK_TIME, now -> {
            if (parts != null) {
                parts.flush(Long.MAX_VALUE, streamTime);
            }
            settings.metrics().storeEntries(ScoringTopology.HISTORY_STORE, ctx.taskId(),
                    histories.approximateNumEntries());
        });
    }

    @Override
    public void close() {
        settings.metrics().storeEntries(ScoringTopology.HISTORY_STORE, ctx.taskId(), -1);
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
            if (settings.scorer() == null) {
                // scored remotely, by the next stage: keep the state and pass the vector on
                boolean late = update(e, values, history);
                ctx.forward(new Record<>(e.entity(), new EnrichedEvent(e.eventId(), e.entity(), e.ts(), late, x,
                        e.raw(), e.origin()).toBytes(), r.timestamp()), ScoringTopology.TO_REMOTE);
                return;
            }
            float score;
            try {
                score = settings.scorer().score(x);
            } catch (RuntimeException failure) {
                throw new Rejection(Rejection.SCORING_FAILED, "the model failed: " + failure.getMessage());
            }
            if (!Float.isFinite(score)) {
                throw new Rejection(Rejection.SCORING_FAILED, "the model gave a score that is not finite: " + score);
            }
            boolean late = update(e, values, history);
            long now = settings.clock().getAsLong();
            boolean positive = score >= settings.threshold();
            ctx.forward(new Record<>(e.entity(), output(e.eventId(), e.entity(), e.ts(), names, x, score,
                    settings.threshold(), settings.scorer().modelName(), settings.scorer().modelVersion(), late, now),
                    r.timestamp()), ScoringTopology.SCORES);
            if (parts != null && !late) {
                parts.add(e.ts(), score, positive, x, streamTime);
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

    /** Stores the history with the event added and moves the stream time; returns whether the event is late. */
    private boolean update(Event e, EntityHistory.Values values, EntityHistory history) {
        EntityHistory next = history.append(values, settings.keepHistoryMs(), settings.maxHistory());
        if (next.truncated() > 0) {
            settings.metrics().historyTruncated.inc(next.truncated());
        }
        histories.put(e.entity(), next.toBytes(settings.spec()));
        boolean late = streamTime != Long.MIN_VALUE && e.ts() < streamTime - settings.graceMs();
        if (e.ts() > streamTime) {
            streamTime = e.ts();
            streamTimes.put(STREAM_TIME_KEY, streamTime);
        }
        return late;
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

    /** The output record's value: one scored event (also what the remote stage writes). */
    static String output(String eventId, String entity, long ts, List<String> names, float[] x, float score,
                         double threshold, String model, String version, boolean late, long now) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("event_id", eventId);
        out.put("entity", entity);
        out.put("ts", ts);
        out.put("score", exact(score));
        out.put("prediction", score >= threshold ? 1 : 0);
        out.put("model", model);
        out.put("model_version", version);
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
