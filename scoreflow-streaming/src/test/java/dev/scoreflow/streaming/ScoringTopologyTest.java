package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Json;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The scoring topology with explicit event times: every feature kind and window, lateness, dead letters. */
class ScoringTopologyTest {
    static final long T0 = 1_767_225_600_000L; // 2026-01-01T00:00:00Z
    static final String ALL_KINDS = """
            amount     = amount
            n_1m       = count() over 1m
            sum_1m     = sum(amount) over 1m
            mean_1m    = mean(amount) over 1m
            min_1m     = min(amount) over 1m
            max_1m     = max(amount) over 1m
            countries  = distinct(country) over 1m
            ratio_1m   = ratio(amount) over 1m
            since_prev = seconds_since_previous()
            n_1h       = count() over 1h
            """;

    /** Sum of the vector, squashed into (0, 1); fails on an amount of 13 (to test scoring failures). */
    static final class SquashScorer implements EventScorer {
        final int features;

        SquashScorer(int features) {
            this.features = features;
        }

        @Override
        public float[] score(float[] rows, int n) {
            float[] out = new float[n];
            for (int i = 0; i < n; i++) {
                out[i] = score(java.util.Arrays.copyOfRange(rows, i * features, (i + 1) * features));
            }
            return out;
        }

        float score(float[] v) {
            if (v[0] == 13f) {
                throw new IllegalStateException("unlucky amount");
            }
            if (v[0] == 666f) {
                return Float.NaN;
            }
            double s = 0;
            for (float x : v) {
                s += x;
            }
            return (float) (1 / (1 + Math.exp(-s / 100)));
        }

        @Override
        public int featureCount() {
            return features;
        }

        @Override
        public String modelName() {
            return "squash";
        }

        @Override
        public String modelVersion() {
            return "1";
        }

        @Override
        public void close() {
        }
    }

    TopologyTestDriver driver;
    TestInputTopic<byte[], byte[]> input;
    TestOutputTopic<String, String> scores;
    TestOutputTopic<byte[], byte[]> deadLetters;
    TestOutputTopic<String, String> late;
    StreamMetrics metrics = new StreamMetrics();
    AtomicLong wallClock = new AtomicLong(T0 + 3_600_000);

    int batchRows = 1;

    void start(String spec, long graceMs, int maxHistory, boolean repartition) {
        FeatureSpec fs = FeatureSpec.parse(spec, "test");
        ScoringTopology.Settings s = new ScoringTopology.Settings("events", "scores", "dlq", "late",
                repartition ? "app-by-entity" : null, fs, new SquashScorer(fs.size()), 0.5, graceMs, maxHistory,
                metrics, wallClock::get, null, null, false, batchRows);
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "app");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        driver = new TopologyTestDriver(ScoringTopology.build(s), p, Instant.ofEpochMilli(T0));
        input = driver.createInputTopic("events", new ByteArraySerializer(), new ByteArraySerializer());
        scores = driver.createOutputTopic("scores", new StringDeserializer(), new StringDeserializer());
        deadLetters = driver.createOutputTopic("dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
        late = driver.createOutputTopic("late", new StringDeserializer(), new StringDeserializer());
    }

    @AfterEach
    void close() {
        if (driver != null) {
            driver.close();
        }
    }

    static String event(String id, String entity, long ts, double amount, String country) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("event_id", id);
        e.put("entity", entity);
        e.put("ts", ts);
        e.put("amount", amount);
        e.put("country", country);
        return Json.write(e);
    }

    void send(String entity, String json) {
        input.pipeInput(entity == null ? null : entity.getBytes(StandardCharsets.UTF_8),
                json == null ? null : json.getBytes(StandardCharsets.UTF_8), wallClock.get());
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> features(Map<String, Object> scored) {
        return (Map<String, Object>) scored.get("features");
    }

    Map<String, Object> nextScore() {
        return Json.parseObject(java.nio.ByteBuffer.wrap(scores.readValue().getBytes(StandardCharsets.UTF_8)), "score");
    }

    static String header(TestRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    @Test
    void queuedEventsAreScoredInOneCallWhenTheQueueIsFullOrAfterAFewMillisecondsInInputOrder() {
        batchRows = 3;
        start(ALL_KINDS, 5_000, 10_000, false);
        send("a", event("e1", "a", T0, 10, "DE"));
        send("b", event("e2", "b", T0 + 1, 13, "DE")); // the model fails on this one: the batch call fails
        assertThat(scores.isEmpty()).as("queued").isTrue();
        send("a", event("e3", "a", T0 + 2, 20, "FR"));
        assertThat(scores.readValuesToList().stream().map(v -> json(v).get("event_id")).toList())
                .containsExactly("e1", "e3");
        assertThat(header(deadLetters.readRecord(), DeadLetters.REASON)).isEqualTo(Rejection.SCORING_FAILED);
        send("c", event("e4", "c", T0 + 3, 30, "DE"));
        assertThat(scores.isEmpty()).isTrue();
        driver.advanceWallClockTime(ScoreProcessor.MAX_QUEUE_WAIT);
        Map<String, Object> e4 = json(scores.readValue());
        assertThat(e4).containsEntry("event_id", "e4");
        assertThat(features(e4)).containsEntry("n_1m", 1.0);
        assertThat(metrics.scored.value()).isEqualTo(3);
    }

    static Map<String, Object> json(String v) {
        return Json.parseObject(java.nio.ByteBuffer.wrap(v.getBytes(StandardCharsets.UTF_8)), "score");
    }

    @Test
    void metricsCountTheEntitiesInTheHistoryStoreEverySecond() {
        start(ALL_KINDS, 5_000, 10_000, false);
        for (String card : List.of("a", "b", "c", "a")) {
            send(card, event("e-" + card + T0, card, T0, 10, "DE"));
        }
        assertThat(metrics.registry.render()).doesNotContain("scoreflow_stream_store_entries{");
        driver.advanceWallClockTime(java.time.Duration.ofSeconds(1));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                "scoreflow_stream_store_entries\\{store=\"entity-history\"} (\\S+)\n").matcher(metrics.registry.render());
        assertThat(m.find()).isTrue();
        // RocksDB's estimate counts an overwritten key until compaction: 3 entities, 4 writes
        assertThat((long) Double.parseDouble(m.group(1))).isBetween(3L, 4L);
    }

    @Test
    void computesEveryFeatureKindOverSlidingWindowsOfEventTime() {
        start(ALL_KINDS, 5_000, 10_000, false);
        send("a", event("e1", "a", T0, 10, "DE"));
        send("a", event("e2", "a", T0 + 30_000, 20, "FR"));
        send("b", event("e3", "b", T0 + 40_000, 1000, "US"));
        send("a", event("e4", "a", T0 + 70_000, 60, "DE")); // e1 left the 1-minute window (70 s > 60 s)

        Map<String, Object> f1 = features(nextScore());
        assertThat(f1).containsEntry("amount", 10.0).containsEntry("n_1m", 1.0).containsEntry("sum_1m", 10.0)
                .containsEntry("mean_1m", 10.0).containsEntry("countries", 1.0).containsEntry("ratio_1m", 1.0)
                .containsEntry("since_prev", -1.0).containsEntry("n_1h", 1.0);
        Map<String, Object> f2 = features(nextScore());
        assertThat(f2).containsEntry("n_1m", 2.0).containsEntry("sum_1m", 30.0).containsEntry("mean_1m", 15.0)
                .containsEntry("min_1m", 10.0).containsEntry("max_1m", 20.0).containsEntry("countries", 2.0)
                .containsEntry("since_prev", 30.0);
        assertThat((Double) f2.get("ratio_1m")).isCloseTo(20.0 / 15.0, within(1e-6));
        Map<String, Object> f3 = features(nextScore());
        assertThat(f3).as("another entity has its own history").containsEntry("n_1m", 1.0)
                .containsEntry("since_prev", -1.0);
        Map<String, Object> f4 = features(nextScore());
        assertThat(f4).containsEntry("n_1m", 2.0).containsEntry("sum_1m", 80.0).containsEntry("min_1m", 20.0)
                .containsEntry("max_1m", 60.0).containsEntry("countries", 2.0).containsEntry("since_prev", 40.0)
                .containsEntry("n_1h", 3.0);
        assertThat(scores.isEmpty()).isTrue();
        assertThat(metrics.scored.value()).isEqualTo(4);
    }

    @Test
    void windowIncludesItsEndAndExcludesItsStart() {
        start("n = count() over 1m", 5_000, 10_000, false);
        send("a", event("e1", "a", T0, 1, "DE"));
        send("a", event("e2", "a", T0 + 60_000, 1, "DE")); // exactly one window later: e1 is out
        send("a", event("e3", "a", T0 + 60_000, 1, "DE")); // same time as e2: e2 is in
        assertThat(features(nextScore())).containsEntry("n", 1.0);
        assertThat(features(nextScore())).containsEntry("n", 1.0);
        assertThat(features(nextScore())).containsEntry("n", 2.0);
    }

    @Test
    void anOutOfOrderEventSeesOnlyTheEarlierEventsThatArrivedBeforeIt() {
        start(ALL_KINDS, 60_000, 10_000, false);
        send("a", event("e1", "a", T0, 10, "DE"));
        send("a", event("e2", "a", T0 + 50_000, 20, "FR"));
        send("a", event("e3", "a", T0 + 20_000, 40, "NL")); // out of order, within the grace period
        send("a", event("e4", "a", T0 + 55_000, 5, "DE"));
        nextScore();
        nextScore();
        Map<String, Object> s3 = nextScore();
        assertThat(s3).doesNotContainKey("late");
        assertThat(features(s3)).as("e2 is later than e3, so not in its window").containsEntry("n_1m", 2.0)
                .containsEntry("sum_1m", 50.0).containsEntry("since_prev", 20.0).containsEntry("countries", 2.0);
        assertThat(features(nextScore())).as("e3 arrived before e4 and lies in its window").containsEntry("n_1m", 4.0)
                .containsEntry("sum_1m", 75.0).containsEntry("since_prev", 5.0);
    }

    @Test
    void anEventLaterThanTheGraceIsScoredCountedAndCopiedToTheLateTopic() {
        start(ALL_KINDS, 5_000, 10_000, false);
        send("a", event("e1", "a", T0 + 100_000, 10, "DE"));
        send("b", event("e2", "b", T0 + 96_000, 10, "DE")); // 4 s behind: within grace
        send("b", event("e3", "b", T0 + 90_000, 10, "DE")); // 10 s behind the task's stream time: late
        assertThat(nextScore()).doesNotContainKey("late");
        assertThat(nextScore()).doesNotContainKey("late");
        Map<String, Object> s3 = nextScore();
        assertThat(s3).containsEntry("late", true).containsEntry("event_id", "e3");
        assertThat(features(s3)).containsEntry("n_1m", 1.0);
        TestRecord<String, String> copy = late.readRecord();
        assertThat(copy.key()).isEqualTo("b");
        assertThat(copy.value()).isEqualTo(event("e3", "b", T0 + 90_000, 10, "DE"));
        assertThat(late.isEmpty()).isTrue();
        assertThat(metrics.late.value()).isEqualTo(1);
    }

    @Test
    void deadLettersEveryMalformedKindWithTheOriginalBytesAndWhereTheyCameFrom() {
        start(ALL_KINDS, 5_000, 10_000, false);
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("{\"event_id\":\"x\",\"entity\":", Rejection.MALFORMED_JSON);
        cases.put("[1,2,3]", Rejection.MALFORMED_JSON);
        cases.put("\u00ff\u00fe not json", Rejection.MALFORMED_JSON);
        cases.put(null, Rejection.MALFORMED_JSON);
        cases.put("{\"entity\":\"a\",\"ts\":1,\"amount\":1,\"country\":\"DE\"}", Rejection.MISSING_FIELD);
        cases.put("{\"event_id\":\"x\",\"ts\":1,\"amount\":1,\"country\":\"DE\"}", Rejection.MISSING_FIELD);
        cases.put("{\"event_id\":\"x\",\"entity\":\"a\",\"amount\":1,\"country\":\"DE\"}", Rejection.MISSING_FIELD);
        cases.put("{\"event_id\":\"x\",\"entity\":\"a\",\"ts\":" + T0 + ",\"country\":\"DE\"}", Rejection.MISSING_FIELD);
        cases.put("{\"event_id\":\"x\",\"entity\":\"a\",\"ts\":" + T0 + ",\"amount\":1}", Rejection.MISSING_FIELD);
        cases.put("{\"event_id\":7,\"entity\":\"a\",\"ts\":1,\"amount\":1,\"country\":\"DE\"}", Rejection.MISTYPED_FIELD);
        cases.put("{\"event_id\":\"x\",\"entity\":\"a\",\"ts\":\"yesterday\",\"amount\":1,\"country\":\"DE\"}",
                Rejection.MISTYPED_FIELD);
        cases.put("{\"event_id\":\"x\",\"entity\":\"a\",\"ts\":1.5,\"amount\":1,\"country\":\"DE\"}", Rejection.MISTYPED_FIELD);
        cases.put("{\"event_id\":\"x\",\"entity\":\"a\",\"ts\":" + T0 + ",\"amount\":\"12 EUR\",\"country\":\"DE\"}",
                Rejection.MISTYPED_FIELD);
        cases.put("{\"event_id\":\"x\",\"entity\":\"a\",\"ts\":" + T0 + ",\"amount\":1e999,\"country\":\"DE\"}",
                Rejection.NON_FINITE_FEATURE);
        cases.put("{\"event_id\":\"x\",\"entity\":\"a\",\"ts\":" + T0 + ",\"amount\":1e300,\"country\":\"DE\"}",
                Rejection.NON_FINITE_FEATURE); // finite as a double, not as a float32
        cases.put(event("x", "a", T0, 13, "DE"), Rejection.SCORING_FAILED);
        cases.put(event("x", "a", T0, 666, "DE"), Rejection.SCORING_FAILED);
        for (Map.Entry<String, String> c : cases.entrySet()) {
            send("k", c.getKey());
        }
        List<TestRecord<byte[], byte[]>> dead = deadLetters.readRecordsToList();
        assertThat(dead).hasSize(cases.size());
        int i = 0;
        for (Map.Entry<String, String> c : cases.entrySet()) {
            TestRecord<byte[], byte[]> d = dead.get(i);
            assertThat(header(d, DeadLetters.REASON)).as("record %d: %s", i, c.getKey()).isEqualTo(c.getValue());
            assertThat(header(d, DeadLetters.DETAIL)).isNotBlank();
            assertThat(header(d, DeadLetters.TOPIC)).isEqualTo("events");
            assertThat(header(d, DeadLetters.PARTITION)).isEqualTo("0");
            assertThat(header(d, DeadLetters.OFFSET)).isEqualTo(Integer.toString(i));
            assertThat(header(d, DeadLetters.TIME)).isEqualTo(Long.toString(wallClock.get()));
            assertThat(d.key()).isEqualTo("k".getBytes(StandardCharsets.UTF_8));
            assertThat(d.value()).isEqualTo(c.getKey() == null ? null : c.getKey().getBytes(StandardCharsets.UTF_8));
            i++;
        }
        assertThat(scores.isEmpty()).isTrue();
        assertThat(metrics.eventsIn.value()).isEqualTo(cases.size());

        // the malformed events changed no state; the two the model failed on are in entity a's history
        send("a", event("ok", "a", T0 + 1, 5, "DE"));
        assertThat(features(nextScore())).containsEntry("n_1h", 3.0).containsEntry("since_prev", 0.001);
    }

    @Test
    void repartitionsAStreamNotKeyedByEntitySoThatFeaturesFollowTheEntity() {
        start(ALL_KINDS, 5_000, 10_000, true);
        send(null, event("e1", "a", T0, 10, "DE"));
        send("other", event("e2", "a", T0 + 1_000, 20, "DE"));
        send(null, "not json");
        Map<String, Object> s1 = nextScore();
        Map<String, Object> s2 = nextScore();
        assertThat(s1).containsEntry("event_id", "e1");
        assertThat(features(s2)).containsEntry("n_1m", 2.0).containsEntry("sum_1m", 30.0);
        TestRecord<byte[], byte[]> d = deadLetters.readRecord();
        assertThat(header(d, DeadLetters.TOPIC)).isEqualTo("events");
        assertThat(header(d, DeadLetters.OFFSET)).isEqualTo("2");
        assertThat(metrics.eventsIn.value()).as("a repartitioned record is counted once").isEqualTo(3);
    }

    @Test
    void keepsAtMostMaxHistoryEventsPerEntityAndCountsWhatItDrops() {
        start("n = count() over 1h", 5_000, 3, false);
        for (int i = 0; i < 6; i++) {
            send("a", event("e" + i, "a", T0 + i, 1, "DE"));
        }
        List<Double> counts = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            counts.add((Double) features(nextScore()).get("n"));
        }
        assertThat(counts).containsExactly(1.0, 2.0, 3.0, 4.0, 4.0, 4.0);
        assertThat(metrics.historyTruncated.value()).isEqualTo(3);
    }

    @Test
    void forgetsEventsOlderThanTheLongestWindowPlusGrace() {
        start("n = count() over 1m\nsince = seconds_since_previous()", 5_000, 10_000, false);
        send("a", event("e1", "a", T0, 1, "DE"));
        send("a", event("e2", "a", T0 + 10 * 60_000, 1, "DE"));
        nextScore();
        assertThat(features(nextScore())).as("e1 is kept only for 1 min + 5 s, but still counts as previous "
                + "when the next event comes").containsEntry("since", 600.0);
        send("a", event("e3", "a", T0 + 10 * 60_000 + 1_000, 1, "DE"));
        assertThat(features(nextScore())).containsEntry("n", 2.0).containsEntry("since", 1.0);
        byte[] stored = driver.<String, byte[]>getKeyValueStore(ScoringTopology.HISTORY_STORE).get("a");
        assertThat(EntityHistory.fromBytes(stored, FeatureSpec.parse("n = count() over 1m\nsince = "
                + "seconds_since_previous()", "t")).size()).isEqualTo(2);
    }

    @Test
    void aHistoryWrittenForOtherFeaturesStartsAfresh() {
        String spec = "s = sum(amount) over 1h\nc = distinct(country) over 1h";
        start(spec, 5_000, 10_000, false);
        // what an instance with an older features file (no distinct country) left in the store
        FeatureSpec older = FeatureSpec.parse("s = sum(amount) over 1h", "older");
        byte[] old = EntityHistory.empty(older)
                .append(EntityHistory.Values.of(EventParser.parse(event("e0", "a", T0, 7, "DE")
                        .getBytes(StandardCharsets.UTF_8), null), older), 3_600_000, 100).toBytes(older);
        driver.<String, byte[]>getKeyValueStore(ScoringTopology.HISTORY_STORE).put("a", old);
        send("a", event("e2", "a", T0 + 1, 3, "DE"));
        assertThat(features(nextScore())).containsEntry("s", 3.0).containsEntry("c", 1.0);
        assertThat(metrics.historyReset.value()).isEqualTo(1);
    }

    @Test
    void everyGeneratedRecordIsScoredOrDeadLetteredExactlyOnce() {
        start(ALL_KINDS, 30_000, 10_000, false);
        AtomicLong clock = new AtomicLong(T0);
        TransactionGenerator gen = new TransactionGenerator(42, 50, () -> clock.addAndGet(250), 0.05, 0.05, 20_000, 0);
        Map<String, Integer> malformed = new HashMap<>();
        int n = 3000;
        for (int i = 0; i < n; i++) {
            TransactionGenerator.Txn t = gen.next();
            if (t.malformed() != null) {
                malformed.merge(t.malformed(), 1, Integer::sum);
            }
            input.pipeInput(t.entity().getBytes(StandardCharsets.UTF_8), t.value(), clock.get());
        }
        List<String> out = scores.readValuesToList();
        List<TestRecord<byte[], byte[]>> dead = deadLetters.readRecordsToList();
        assertThat(out.size() + dead.size()).isEqualTo(n);
        assertThat(out.stream().map(s -> Json.parseObject(java.nio.ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)),
                "s").get("event_id")).distinct().count()).isEqualTo(out.size());
        Map<String, Integer> reasons = new HashMap<>();
        dead.forEach(d -> reasons.merge(header(d, DeadLetters.REASON), 1, Integer::sum));
        assertThat(reasons.get(Rejection.MALFORMED_JSON)).isEqualTo(malformed.get("not_json"));
        assertThat(reasons.get(Rejection.MISSING_FIELD)).isEqualTo(malformed.get("missing_field"));
        assertThat(reasons.get(Rejection.MISTYPED_FIELD)).isEqualTo(malformed.get("mistyped_field"));
        assertThat(reasons.get(Rejection.NON_FINITE_FEATURE)).isEqualTo(malformed.get("non_finite"));
    }
}
