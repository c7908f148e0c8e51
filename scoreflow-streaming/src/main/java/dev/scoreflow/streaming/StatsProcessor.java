package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Json;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place that sees the whole stream's statistics: sums the parts ({@link WindowStats}) that every scoring
 * task sends for each window, closes a window once the statistics' stream time (the latest event time any task has
 * reported) passes its end plus the grace period, writes the closed window's statistics, and evaluates the rules on
 * it, writing an alert for each rule that starts or stops firing.
 *
 * <p>Runs on the single partition of the internal statistics topic, so there is exactly one of it; its open
 * windows, the reference distribution and the rules' states are in state stores, so with exactly-once processing
 * an alert is written once per transition, across restarts. Windows with no events close too (their rate is 0);
 * when no part arrives for a window's length of wall time, the statistics' clock follows the wall clock, so a
 * stream that stops entirely still trips a {@code rate <} rule.
 */
final class StatsProcessor implements Processor<String, byte[], Object, Object> {
    private static final Logger LOG = LoggerFactory.getLogger(StatsProcessor.class);
    /** A jump in event time closes at most this many windows; the rest are skipped (and logged). */
    static final int MAX_WINDOWS_PER_ADVANCE = 1000;
    private static final String STREAM_TIME = "stream-time";
    private static final String NEXT_CLOSE = "next-close";
    private static final String REFERENCE = "reference";
    private static final String REFERENCE_WINDOWS = "reference-windows";

    private final ScoringTopology.Settings settings;
    private final ScoringTopology.StatsSettings stats;
    private ProcessorContext<Object, Object> ctx;
    private KeyValueStore<Long, byte[]> windows;
    private KeyValueStore<String, byte[]> meta;
    private KeyValueStore<String, byte[]> ruleStates;
    private long streamTime = Long.MIN_VALUE;
    private long lastPartWallTime;

    StatsProcessor(ScoringTopology.Settings settings) {
        this.settings = settings;
        this.stats = settings.stats();
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        this.ctx = context;
        windows = context.getStateStore(ScoringTopology.STATS_WINDOWS_STORE);
        meta = context.getStateStore(ScoringTopology.STATS_META_STORE);
        ruleStates = context.getStateStore(ScoringTopology.RULE_STATE_STORE);
        streamTime = getLong(STREAM_TIME, Long.MIN_VALUE);
        lastPartWallTime = context.currentSystemTimeMs();
        context.schedule(Duration.ofSeconds(1), PunctuationType.WALL_CLOCK_TIME, this::onWallClock);
    }

    @Override
    public void process(Record<String, byte[]> r) {
        lastPartWallTime = ctx.currentSystemTimeMs();
        WindowStats part = WindowStats.fromBytes(r.value());
        long next = getLong(NEXT_CLOSE, Long.MIN_VALUE);
        if (next != Long.MIN_VALUE && part.windowStart < next) {
            // its window has closed: the part came from a task far behind the others in event time
            settings.metrics().statsLate.inc(part.count);
            LOG.warn("statistics of {} events for the closed window starting {} arrived too late to count",
                    part.count, part.windowStart);
        } else {
            byte[] open = windows.get(part.windowStart);
            if (open != null) {
                WindowStats sum = WindowStats.fromBytes(open);
                sum.add(part);
                part = sum;
            }
            windows.put(part.windowStart, part.toBytes());
        }
        advance(r.timestamp());
    }

    private void onWallClock(long now) {
        if (streamTime != Long.MIN_VALUE && now - lastPartWallTime > stats.windowMs()) {
            // nothing came for a window's length: let the statistics' clock follow the wall clock
            advance(streamTime + (now - lastPartWallTime));
            lastPartWallTime = now;
        }
    }

    private void advance(long time) {
        if (time > streamTime) {
            streamTime = time;
            putLong(STREAM_TIME, streamTime);
        }
        long next = getLong(NEXT_CLOSE, Long.MIN_VALUE);
        if (next == Long.MIN_VALUE) {
            try (KeyValueIterator<Long, byte[]> it = windows.all()) {
                if (!it.hasNext()) {
                    return;
                }
                next = it.next().key; // the store iterates keys in serialized order: the smallest first for >= 0
            }
        }
        int closed = 0;
        while (next + stats.windowMs() + settings.graceMs() <= streamTime) {
            if (++closed > MAX_WINDOWS_PER_ADVANCE) {
                long skipTo = Math.floorDiv(streamTime - stats.windowMs() - settings.graceMs(), stats.hopMs())
                        * stats.hopMs();
                LOG.warn("event time jumped: not closing the empty windows from {} to {}", next, skipTo);
                next = Math.max(next, skipTo);
                closed = 0;
                if (next + stats.windowMs() + settings.graceMs() > streamTime) {
                    break;
                }
            }
            close(next);
            next += stats.hopMs();
        }
        putLong(NEXT_CLOSE, next);
    }

    private void close(long start) {
        byte[] b = windows.get(start);
        WindowStats w = b != null ? WindowStats.fromBytes(b) : new WindowStats(start, settings.spec().size());
        windows.delete(start);
        WindowStats reference = reference(w);
        long end = start + stats.windowMs();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("window_start", start);
        out.put("window_end", end);
        out.put("count", w.count);
        out.put("rate", w.count / (stats.windowMs() / 1000.0));
        out.put("mean_score", nullIfNaN(w.meanScore()));
        out.put("positive_rate", nullIfNaN(w.positiveRate()));
        List<String> names = settings.spec().names();
        Map<String, Object> means = new LinkedHashMap<>();
        Map<String, Object> psi = new LinkedHashMap<>();
        if (reference != null) {
            psi.put("score", nullIfNaN(WindowStats.psi(w.scoreHist, reference.scoreHist)));
        }
        for (int i = 0; i < names.size(); i++) {
            means.put(names.get(i), nullIfNaN(w.featureMean(i)));
            if (reference != null) {
                psi.put(names.get(i), nullIfNaN(WindowStats.psi(w.featureHists[i], reference.featureHists[i])));
            }
        }
        out.put("feature_means", means);
        out.put("psi", reference == null ? null : psi);
        ctx.forward(new Record<>("window", Json.write(out), end), ScoringTopology.WINDOW_STATS);
        settings.metrics().lastWindow(w, stats.windowMs());
        for (Rules.Rule rule : stats.rules().rules()) {
            evaluate(rule, w, reference, start, end);
        }
    }

    /** The reference distribution: from the file, or the sum of the first closed windows with events. */
    private WindowStats reference(WindowStats closing) {
        if (stats.reference() != null) {
            return stats.reference();
        }
        long have = getLong(REFERENCE_WINDOWS, 0);
        byte[] ref = meta.get(REFERENCE);
        if (have >= stats.referenceWindows()) {
            return WindowStats.fromBytes(ref);
        }
        if (closing.count > 0) {
            WindowStats r = ref != null ? WindowStats.fromBytes(ref) : new WindowStats(0, closing.features());
            r.add(closing.withStart(0));
            meta.put(REFERENCE, r.toBytes());
            putLong(REFERENCE_WINDOWS, have + 1);
        }
        return null; // no PSI until the reference is complete
    }

    private void evaluate(Rules.Rule rule, WindowStats w, WindowStats reference, long start, long end) {
        double v = Rules.value(rule, w, stats.windowMs(), reference);
        byte[] s = ruleStates.get(rule.name());
        int consecutive = s == null ? 0 : ByteBuffer.wrap(s).getInt(0);
        boolean firing = s != null && s[4] == 1;
        consecutive = rule.holds(v) ? consecutive + 1 : 0;
        String transition = null;
        if (!firing && consecutive >= rule.forWindows()) {
            firing = true;
            transition = "firing";
        } else if (firing && consecutive == 0) {
            firing = false;
            transition = "resolved";
        }
        ruleStates.put(rule.name(), ByteBuffer.allocate(5).putInt(consecutive).put((byte) (firing ? 1 : 0)).array());
        if (transition != null) {
            Map<String, Object> a = new LinkedHashMap<>();
            a.put("alert_id", rule.name() + "@" + start + ":" + transition);
            a.put("rule", rule.name());
            a.put("condition", rule.text());
            a.put("state", transition);
            a.put("window_start", start);
            a.put("window_end", end);
            a.put("value", nullIfNaN(v));
            a.put("threshold", rule.threshold());
            a.put("windows", rule.forWindows());
            ctx.forward(new Record<>(rule.name(), Json.write(a), end), ScoringTopology.ALERTS);
            settings.metrics().alerts.inc(1, rule.name(), transition);
            LOG.info("rule {} {}: {} = {} in the window {}..{}", rule.name(), transition, rule.text(), v, start, end);
        }
    }

    private static Object nullIfNaN(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private long getLong(String key, long absent) {
        byte[] b = meta.get(key);
        return b == null ? absent : ByteBuffer.wrap(b).getLong();
    }

    private void putLong(String key, long v) {
        meta.put(key, ByteBuffer.allocate(8).putLong(v).array());
    }
}
