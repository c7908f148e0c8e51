package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Json;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/**
 * Scores the events of one task: reads the event's entity history (the materialized view), computes the feature
 * vector, stores the history with the event added, and queues the event; the queue is scored in one model call
 * when it holds {@code batchRows} events, and at the latest a few milliseconds later (a wall-clock punctuation),
 * which writes the scores in input order. An event that cannot get features changes no state and goes to the dead
 * letters with its reason; one the model fails on (or scores non-finite) is dead-lettered too, but it stays in its
 * entity's history, where it was put before the model ran: the transaction happened, whatever the model made of it.
 *
 * <p>The queue is also kept in a cached, changelogged store (a slot per queued event), so that a commit taken while
 * events are queued carries them: after a crash, the restored task finds them in the store and scores them, and
 * with exactly-once processing none is lost or scored twice.
 *
 * <p>Lateness: an event whose time is more than the grace period behind this task's stream time (the latest event
 * time it has seen) is still scored (it is a real transaction), but counted, copied to the late topic if there is
 * one, and marked {@code "late": true}, so that window statistics leave it out rather than lose it silently.
 */
final class ScoreProcessor implements Processor<String, Event, Object, Object> {
    static final String STREAM_TIME_KEY = "stream-time";
    /** How long a queued event may wait for the queue to fill. */
    static final Duration MAX_QUEUE_WAIT = Duration.ofMillis(5);

    private final ScoringTopology.Settings settings;
    private final List<String> names;
    private ProcessorContext<Object, Object> ctx;
    private KeyValueStore<String, byte[]> histories;
    private KeyValueStore<String, Long> streamTimes;
    private KeyValueStore<Integer, byte[]> queueStore;
    private final List<Queued> queue = new ArrayList<>();
    private long streamTime = Long.MIN_VALUE;
    private WindowParts parts;

    /** An event with its vector, waiting for the model; {@code recordTs}: the input record's timestamp. */
    private record Queued(EnrichedEvent event, long recordTs) {
        byte[] toBytes() {
            byte[] e = event.toBytes();
            return ByteBuffer.allocate(8 + e.length).putLong(recordTs).put(e).array();
        }

        static Queued fromBytes(byte[] b) {
            return new Queued(EnrichedEvent.fromBytes(Arrays.copyOfRange(b, 8, b.length)),
                    ByteBuffer.wrap(b).getLong());
        }
    }

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
        if (settings.scorer() != null) {
            queueStore = context.getStateStore(ScoringTopology.QUEUE_STORE);
            try (KeyValueIterator<Integer, byte[]> it = queueStore.all()) {
                // what a commit took while events waited: scored at the first punctuation (init may not forward)
                TreeMap<Integer, byte[]> bySlot = new TreeMap<>();
                it.forEachRemaining(kv -> bySlot.put(kv.key, kv.value));
                bySlot.values().forEach(b -> queue.add(Queued.fromBytes(b)));
            }
            context.schedule(MAX_QUEUE_WAIT, PunctuationType.WALL_CLOCK_TIME, now -> scoreQueue());
        }
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
        float[] x;
        boolean late;
        try {
            EntityHistory.Values values = EntityHistory.Values.of(e, spec);
            EntityHistory history = load(e.entity());
            x = history.features(spec, values);
            late = update(e, values, history);
        } catch (Rejection rejection) {
            deadLetter(rejection, e.origin(), e.raw(), r.timestamp());
            return;
        }
        EnrichedEvent enriched = new EnrichedEvent(e.eventId(), e.entity(), e.ts(), late, x, e.raw(), e.origin());
        if (settings.scorer() == null) {
            // scored remotely, by the next stage: pass the vector on
            ctx.forward(new Record<>(e.entity(), enriched.toBytes(), r.timestamp()), ScoringTopology.TO_REMOTE);
            return;
        }
        Queued q = new Queued(enriched, r.timestamp());
        queueStore.put(queue.size(), q.toBytes());
        queue.add(q);
        if (queue.size() >= settings.batchRows()) {
            scoreQueue();
        }
    }

    /** Scores the queued events in one model call (row by row only if that call fails), in input order. */
    private void scoreQueue() {
        int n = queue.size();
        if (n == 0) {
            return;
        }
        EventScorer scorer = settings.scorer();
        int f = names.size();
        float[] rows = new float[n * f];
        for (int i = 0; i < n; i++) {
            System.arraycopy(queue.get(i).event().vector(), 0, rows, i * f, f);
        }
        float[] scores = null;
        try {
            scores = scorer.score(rows, n);
        } catch (RuntimeException batchFailure) {
            // one bad row fails the whole call: find it by scoring the rows one at a time
        }
        long now = settings.clock().getAsLong();
        StreamMetrics metrics = settings.metrics();
        for (int i = 0; i < n; i++) {
            Queued q = queue.get(i);
            EnrichedEvent e = q.event();
            float score;
            try {
                score = scores != null ? scores[i] : scoreOne(scorer, e.vector());
                if (!Float.isFinite(score)) {
                    throw new Rejection(Rejection.SCORING_FAILED, "the model gave a score that is not finite: "
                            + score);
                }
            } catch (Rejection rejection) {
                deadLetter(rejection, e.origin(), e.raw(), q.recordTs());
                continue;
            }
            boolean positive = score >= settings.threshold();
            ctx.forward(new Record<>(e.entity(), output(e.eventId(), e.entity(), e.ts(), names, e.vector(), score,
                    settings.threshold(), scorer.modelName(), scorer.modelVersion(), e.late(), now), q.recordTs()),
                    ScoringTopology.SCORES);
            if (parts != null && !e.late()) {
                parts.add(e.ts(), score, positive, e.vector(), streamTime);
            }
            metrics.scored.inc(1);
            metrics.latency.observe(Math.max(0, now - q.recordTs()) / 1000.0);
            if (e.late()) {
                metrics.late.inc(1);
                if (settings.lateTopic() != null) {
                    ctx.forward(new Record<>(e.entity(), e.raw(), q.recordTs()), ScoringTopology.LATE);
                }
            }
        }
        if (parts != null) {
            parts.persist();
        }
        for (int i = 0; i < n; i++) {
            queueStore.delete(i);
        }
        queue.clear();
    }

    private static float scoreOne(EventScorer scorer, float[] x) {
        try {
            return scorer.score(x, 1)[0];
        } catch (RuntimeException failure) {
            throw new Rejection(Rejection.SCORING_FAILED, "the model failed: " + failure.getMessage());
        }
    }

    private void deadLetter(Rejection rejection, Event.Origin origin, byte[] raw, long recordTs) {
        settings.metrics().deadLettered.inc(1, rejection.reason());
        ctx.forward(DeadLetters.of(rejection, origin, raw, recordTs, settings.clock().getAsLong()),
                ScoringTopology.DEAD_LETTERS);
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

    /**
     * The output record's value: one scored event (also what the remote stage writes). Written directly rather than
     * through a map: it is made for every event. Floats are written as their shortest decimal that reads back as the
     * same float32 (integers without a fraction).
     */
    static String output(String eventId, String entity, long ts, List<String> names, float[] x, float score,
                         double threshold, String model, String version, boolean late, long now) {
        StringBuilder out = new StringBuilder(160 + 24 * x.length);
        out.append("{\"event_id\":");
        Json.write(out, eventId).append(",\"entity\":");
        Json.write(out, entity).append(",\"ts\":").append(ts).append(",\"score\":");
        number(out, score).append(",\"prediction\":").append(score >= threshold ? 1 : 0).append(",\"model\":");
        Json.write(out, model).append(",\"model_version\":");
        Json.write(out, version).append(",\"features\":{");
        for (int i = 0; i < x.length; i++) {
            if (i > 0) {
                out.append(',');
            }
            Json.write(out, names.get(i)).append(':');
            number(out, x[i]);
        }
        out.append('}');
        if (late) {
            out.append(",\"late\":true");
        }
        return out.append(",\"scored_at\":").append(now).append('}').toString();
    }

    private static StringBuilder number(StringBuilder out, float f) {
        if (!Float.isFinite(f)) {
            return out.append("null"); // not reached for scored events: those are dead letters
        }
        if (f == Math.rint(f) && Math.abs(f) < 1e7f) {
            return out.append((long) f);
        }
        return out.append(f);
    }
}
