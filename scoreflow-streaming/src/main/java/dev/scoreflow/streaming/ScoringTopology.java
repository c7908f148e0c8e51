package dev.scoreflow.streaming;

import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

import java.nio.charset.StandardCharsets;
import java.util.function.LongSupplier;

/**
 * The stream scorer's Kafka Streams topology (Processor API):
 *
 * <pre>
 *   input ─▶ parse ─┬─▶ (by-entity topic ─▶ parse again, with --repartition) ─▶ score ─┬─▶ output
 *                   └─▶ dead letters ◀─────────────────────────────────────────────────┼─▶ dead letters
 *                                                                                      └─▶ late (optional)
 * </pre>
 *
 * {@code score} owns two state stores, both backed by changelog topics: the entity histories (the materialized
 * view of features, key = entity) and the task's stream time (for lateness).
 */
final class ScoringTopology {
    static final String INPUT = "input";
    static final String PARSE = "parse";
    static final String TO_BY_ENTITY = "to-by-entity";
    static final String BY_ENTITY = "by-entity";
    static final String PARSE_AGAIN = "parse-again";
    static final String SCORE = "score";
    static final String SCORES = "scores";
    static final String DEAD_LETTERS = "dead-letters";
    static final String LATE = "late";
    static final String HISTORY_STORE = "entity-history";
    static final String STREAM_TIME_STORE = "stream-time";
    static final String QUEUE_STORE = "score-queue";
    static final String TO_STATS = "to-stats";
    static final String TO_REMOTE = "to-remote";
    static final String SCORED = "scored";
    static final String SCORED_STATS = "scored-stats";
    static final String STATS_PARTS = "stats-parts";
    static final String STATS = "stats";
    static final String WINDOW_STATS = "window-stats";
    static final String ALERTS = "alerts";
    static final String STATS_DELTAS_STORE = "stats-deltas";
    static final String STATS_WINDOWS_STORE = "stats-windows";
    static final String STATS_META_STORE = "stats-meta";
    static final String RULE_STATE_STORE = "rule-states";

    /**
     * What the topology needs. {@code byEntityTopic} non-null repartitions the input by entity through that topic
     * (which must exist with as many partitions as the input); {@code lateTopic} may be null. A null {@code scorer}
     * means remote scoring: the score step writes each event with its vector to {@code remoteTopic} for the remote
     * stage ({@link RemoteScorer}), and the statistics read the output topic that stage writes.
     */
    record Settings(String inputTopic, String outputTopic, String deadLetterTopic, String lateTopic,
                    String byEntityTopic, FeatureSpec spec, EventScorer scorer, double threshold, long graceMs,
                    int maxHistory, StreamMetrics metrics, LongSupplier clock, StatsSettings stats,
                    String remoteTopic, boolean inMemoryState, int batchRows) {
        Settings {
            if (batchRows < 1 || batchRows > 100_000) {
                throw new IllegalArgumentException("batch rows must be in [1, 100000], was " + batchRows);
            }
        }

        /** History an entity keeps: the longest window, and the grace period for events that arrive late. */
        long keepHistoryMs() {
            return spec.maxWindowMs() + graceMs;
        }
    }

    /**
     * The windowed statistics: windows of {@code windowMs} every {@code hopMs} (equal: tumbling), the rules over
     * them, the reference for PSI ({@code reference} from a file, or null: the first {@code referenceWindows}
     * closed windows with events), the internal topic of the tasks' parts ({@code partsTopic}, one partition) and
     * the topics of closed windows' statistics and of alerts. Null {@code StatsSettings}: no statistics.
     */
    record StatsSettings(long windowMs, long hopMs, Rules rules, WindowStats reference, int referenceWindows,
                         String partsTopic, String windowStatsTopic, String alertsTopic) {
        StatsSettings {
            if (windowMs < 1 || hopMs < 1 || hopMs > windowMs || windowMs % hopMs != 0) {
                throw new IllegalArgumentException("statistics windows need 1 <= hop <= window and the window a "
                        + "multiple of the hop; were window " + windowMs + " ms, hop " + hopMs + " ms");
            }
            if (referenceWindows < 1) {
                throw new IllegalArgumentException("reference windows must be >= 1, was " + referenceWindows);
            }
        }
    }

    private ScoringTopology() {
    }

    /**
     * A key-value store in RocksDB (the default: state larger than memory) or in the heap (faster); either way
     * backed by a changelog topic, so a restarted or moved task gets it back.
     */
    private static org.apache.kafka.streams.state.KeyValueBytesStoreSupplier store(Settings s, String name) {
        return s.inMemoryState() ? Stores.inMemoryKeyValueStore(name) : Stores.persistentKeyValueStore(name);
    }

    static Topology build(Settings s) {
        Topology t = new Topology();
        ByteArrayDeserializer bytes = new ByteArrayDeserializer();
        t.addSource(INPUT, bytes, bytes, s.inputTopic());
        String scoreParent;
        if (s.byEntityTopic() == null) {
            t.addProcessor(PARSE, () -> new ParseProcessor(ParseProcessor.Role.DIRECT, s.metrics(), s.clock()), INPUT);
            scoreParent = PARSE;
        } else {
            t.addProcessor(PARSE, () -> new ParseProcessor(ParseProcessor.Role.REPARTITION, s.metrics(), s.clock()),
                    INPUT);
            t.addSink(TO_BY_ENTITY, s.byEntityTopic(), any(), any(), PARSE);
            t.addSource(BY_ENTITY, bytes, bytes, s.byEntityTopic());
            t.addProcessor(PARSE_AGAIN, () -> new ParseProcessor(ParseProcessor.Role.AFTER_REPARTITION, s.metrics(),
                    s.clock()), BY_ENTITY);
            scoreParent = PARSE_AGAIN;
        }
        t.addProcessor(SCORE, () -> new ScoreProcessor(s), scoreParent);
        // cached: an entity updated several times between two commits reaches RocksDB and its changelog once
        t.addStateStore(Stores.keyValueStoreBuilder(store(s, HISTORY_STORE),
                Serdes.String(), Serdes.ByteArray()).withCachingEnabled(), SCORE);
        Serde<Long> longs = Serdes.Long();
        t.addStateStore(Stores.keyValueStoreBuilder(store(s, STREAM_TIME_STORE),
                Serdes.String(), longs).withCachingEnabled(), SCORE);
        if (s.scorer() != null) {
            // the events waiting for the model (at most batchRows slots): small, so always in the heap; cached, so
            // a slot filled and emptied between two commits costs its changelog at most one record per commit
            t.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(QUEUE_STORE),
                    Serdes.Integer(), Serdes.ByteArray()).withCachingEnabled(), SCORE);
            t.addSink(SCORES, s.outputTopic(), any(), any(), SCORE);
        } else {
            t.addSink(TO_REMOTE, s.remoteTopic(), any(), any(), SCORE);
        }
        if (s.byEntityTopic() == null) {
            t.addSink(DEAD_LETTERS, s.deadLetterTopic(), any(), any(), PARSE, SCORE);
        } else {
            t.addSink(DEAD_LETTERS, s.deadLetterTopic(), any(), any(), PARSE, PARSE_AGAIN, SCORE);
        }
        if (s.lateTopic() != null) {
            t.addSink(LATE, s.lateTopic(), any(), any(), SCORE);
        }
        if (s.stats() != null) {
            StatsSettings st = s.stats();
            String counter = SCORE;
            if (s.scorer() == null) {
                t.addSource(SCORED, bytes, bytes, s.outputTopic());
                t.addProcessor(SCORED_STATS, () -> new ScoredStatsProcessor(s), SCORED);
                counter = SCORED_STATS;
            }
            t.addStateStore(Stores.keyValueStoreBuilder(store(s, STATS_DELTAS_STORE),
                    longs, Serdes.ByteArray()).withCachingEnabled(), counter);
            t.addSink(TO_STATS, st.partsTopic(), any(), any(), counter);
            t.addSource(STATS_PARTS, new org.apache.kafka.common.serialization.StringDeserializer(), bytes,
                    st.partsTopic());
            t.addProcessor(STATS, () -> new StatsProcessor(s), STATS_PARTS);
            t.addStateStore(Stores.keyValueStoreBuilder(store(s, STATS_WINDOWS_STORE),
                    longs, Serdes.ByteArray()), STATS);
            t.addStateStore(Stores.keyValueStoreBuilder(store(s, STATS_META_STORE),
                    Serdes.String(), Serdes.ByteArray()), STATS);
            t.addStateStore(Stores.keyValueStoreBuilder(store(s, RULE_STATE_STORE),
                    Serdes.String(), Serdes.ByteArray()), STATS);
            t.addSink(WINDOW_STATS, st.windowStatsTopic(), any(), any(), STATS);
            t.addSink(ALERTS, st.alertsTopic(), any(), any(), STATS);
        }
        return t;
    }

    /**
     * Keys are entity strings or, for dead letters, the original key bytes; values JSON strings or original bytes.
     */
    private static Serializer<Object> any() {
        return new AnySerializer();
    }

    /** Writes a {@code byte[]} as is and a {@code String} as UTF-8: the two kinds of records the sinks get. */
    static final class AnySerializer implements Serializer<Object> {
        private final ByteArraySerializer bytes = new ByteArraySerializer();

        @Override
        public byte[] serialize(String topic, Object data) {
            if (data == null || data instanceof byte[]) {
                return bytes.serialize(topic, (byte[]) data);
            }
            if (data instanceof String s) {
                return s.getBytes(StandardCharsets.UTF_8);
            }
            throw new IllegalArgumentException("cannot write a " + data.getClass().getName() + " to " + topic);
        }
    }
}
