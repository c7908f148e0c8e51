package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Json;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static dev.scoreflow.streaming.ScoringTopologyTest.T0;
import static dev.scoreflow.streaming.ScoringTopologyTest.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Windowed statistics and rules with explicit event times and a driven wall clock. */
class StatsTopologyTest {
    static final String RULES = """
            high:    mean_score > 0.6 for 2 windows
            drift:   psi(score) > 0.2
            big:     mean(amount) >= 300
            silence: rate < 1/s
            """;

    TopologyTestDriver driver;
    TestInputTopic<byte[], byte[]> input;
    TestOutputTopic<String, String> windows;
    TestOutputTopic<String, String> alerts;
    StreamMetrics metrics = new StreamMetrics();

    static final FeatureSpec AMOUNT = FeatureSpec.parse("amount = amount", "test");

    void start(long windowMs, long hopMs, long graceMs, String rules) {
        start(windowMs, hopMs, graceMs, rules, null);
    }

    void start(long windowMs, long hopMs, long graceMs, String rules, WindowStats reference) {
        FeatureSpec fs = AMOUNT;
        ScoringTopology.StatsSettings stats = new ScoringTopology.StatsSettings(windowMs, hopMs,
                Rules.parse(rules, "rules", fs), reference, 1, "parts", "window-stats", "alerts");
        ScoringTopology.Settings s = new ScoringTopology.Settings("events", "scores", "dlq", null, null, fs,
                new ScoringTopologyTest.SquashScorer(1), 0.5, graceMs, 1000, metrics, () -> T0, stats, null, false, 1);
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "app");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        driver = new TopologyTestDriver(ScoringTopology.build(s), p, Instant.ofEpochMilli(T0));
        input = driver.createInputTopic("events", new ByteArraySerializer(), new ByteArraySerializer());
        windows = driver.createOutputTopic("window-stats", new StringDeserializer(), new StringDeserializer());
        alerts = driver.createOutputTopic("alerts", new StringDeserializer(), new StringDeserializer());
    }

    @AfterEach
    void close() {
        if (driver != null) {
            driver.close();
        }
    }

    /** 20 events in the 10-s window starting at {@code start}, all with {@code amount} (score = sigmoid(amount/100)). */
    void window(long start, double amount) {
        for (int i = 0; i < 20; i++) {
            String card = "c" + (i % 4);
            input.pipeInput(card.getBytes(StandardCharsets.UTF_8),
                    event("e" + start + "-" + i, card, start + i * 400L, amount, "DE").getBytes(StandardCharsets.UTF_8));
        }
    }

    static Map<String, Object> json(String s) {
        return Json.parseObject(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)), "record");
    }

    @Test
    void closesTumblingWindowsAfterTheGraceAndFiresAndResolvesRulesOncePerTransition() {
        start(10_000, 10_000, 2_000, RULES);
        window(T0, -300);            // scores ~0.047: the reference
        window(T0 + 10_000, 300);    // ~0.953: drift, big, high once
        window(T0 + 20_000, 300);    // high twice: fires
        window(T0 + 30_000, -300);   // back: everything resolves
        window(T0 + 40_000, -300);
        driver.advanceWallClockTime(Duration.ofSeconds(1)); // every second, tasks send what they have

        List<Map<String, Object>> closed = windows.readValuesToList().stream().map(StatsTopologyTest::json).toList();
        assertThat(closed).hasSize(4);
        assertThat(closed.get(0)).containsEntry("window_start", (double) T0).containsEntry("window_end",
                (double) T0 + 10_000).containsEntry("count", 20.0).containsEntry("rate", 2.0)
                .containsEntry("positive_rate", 0.0);
        assertThat((Double) closed.get(0).get("mean_score")).isCloseTo(1 / (1 + Math.exp(3)), within(1e-6));
        assertThat(closed.get(0).get("psi")).as("no reference before the first window closes").isNull();
        assertThat((Double) closed.get(1).get("mean_score")).isCloseTo(1 / (1 + Math.exp(-3)), within(1e-6));
        @SuppressWarnings("unchecked")
        Map<String, Object> psi = (Map<String, Object>) closed.get(1).get("psi");
        assertThat((Double) psi.get("score")).isGreaterThan(1.0);
        @SuppressWarnings("unchecked")
        Map<String, Object> means = (Map<String, Object>) closed.get(1).get("feature_means");
        assertThat(means).containsEntry("amount", 300.0);

        List<String> transitions = alerts.readValuesToList().stream().map(StatsTopologyTest::json)
                .map(a -> a.get("rule") + " " + a.get("state") + " @" + ((Double) a.get("window_start") - T0) / 1000)
                .toList();
        assertThat(transitions).containsExactly(
                "drift firing @10.0", "big firing @10.0",
                "high firing @20.0",
                "high resolved @30.0", "drift resolved @30.0", "big resolved @30.0");
        assertThat(metrics.alerts.value("high", "firing")).isEqualTo(1);
    }

    @Test
    void aReferenceFileOfScoredEventsGivesPsiFromTheFirstWindow(@TempDir Path dir) throws Exception {
        // the reference: what the output topic holds for amounts of 300, bare and as 'scoreflow consume' prints it
        String scored = ScoreProcessor.output("r1", "c0", T0, AMOUNT.names(), new float[] {300f}, 0.95f, 0.5,
                "fraud", "1", false, T0);
        Path file = dir.resolve("reference.jsonl");
        Files.writeString(file, scored + "\n\n" + Json.write(Map.of("topic", "scores", "value", json(scored))) + "\n");
        WindowStats reference = ReferenceFile.read(file, AMOUNT);
        assertThat(reference.count).isEqualTo(2);
        start(10_000, 10_000, 2_000, "drift: psi(score) > 0.2\namount_drift: psi(amount) > 0.2", reference);
        window(T0, -300);            // unlike the reference from the first window on
        window(T0 + 10_000, 300);    // like it
        window(T0 + 20_000, 300);
        driver.advanceWallClockTime(Duration.ofSeconds(1));

        List<Map<String, Object>> closed = windows.readValuesToList().stream().map(StatsTopologyTest::json).toList();
        @SuppressWarnings("unchecked")
        Map<String, Object> psi0 = (Map<String, Object>) closed.get(0).get("psi");
        assertThat((Double) psi0.get("score")).isGreaterThan(1.0);
        @SuppressWarnings("unchecked")
        Map<String, Object> psi1 = (Map<String, Object>) closed.get(1).get("psi");
        assertThat((Double) psi1.get("score")).isCloseTo(0.0, within(1e-9));
        assertThat((Double) psi1.get("amount")).isCloseTo(0.0, within(1e-9));
        List<String> transitions = alerts.readValuesToList().stream().map(StatsTopologyTest::json)
                .map(a -> a.get("rule") + " " + a.get("state") + " @" + ((Double) a.get("window_start") - T0) / 1000)
                .toList();
        assertThat(transitions).containsExactly("drift firing @0.0", "amount_drift firing @0.0",
                "drift resolved @10.0", "amount_drift resolved @10.0");
    }

    @Test
    void aBadReferenceFileIsRefusedNamingTheLineAndTheField(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("reference.jsonl");
        Files.writeString(file, ScoreProcessor.output("r1", "c0", T0, AMOUNT.names(), new float[] {1f}, 0.5f, 0.5,
                "fraud", "1", false, T0) + "\n{\"score\": 0.3, \"features\": {\"other\": 1}}\n");
        assertThatThrownBy(() -> ReferenceFile.read(file, AMOUNT)).isInstanceOf(StreamingException.class)
                .hasMessageContaining("reference.jsonl:2: 'features.amount' must be a finite number, was missing");
        Files.writeString(file, "not json\n");
        assertThatThrownBy(() -> ReferenceFile.read(file, AMOUNT)).hasMessageContaining("reference.jsonl:1: not JSON");
        Files.writeString(file, "\n");
        assertThatThrownBy(() -> ReferenceFile.read(file, AMOUNT)).hasMessageContaining("has no scored events");
    }

    @Test
    void anAlertSaysWhichRuleWindowValueAndThresholdWithAnIdThatIsTheSameOnEveryRun() {
        start(10_000, 10_000, 2_000, "big: mean(amount) >= 300");
        window(T0, 300);
        window(T0 + 10_000, 0);
        driver.advanceWallClockTime(Duration.ofSeconds(1));
        Map<String, Object> a = json(alerts.readValue());
        assertThat(a).containsEntry("alert_id", "big@" + T0 + ":firing").containsEntry("rule", "big")
                .containsEntry("condition", "mean(amount) >= 300").containsEntry("state", "firing")
                .containsEntry("value", 300.0).containsEntry("threshold", 300.0).containsEntry("windows", 1.0);
    }

    @Test
    void hoppingWindowsCountAnEventInEveryWindowItFallsIn() {
        start(10_000, 5_000, 0, "");
        window(T0, 100);             // 20 events in [T0, T0+7.6 s]
        window(T0 + 20_000, 100);    // advances stream time past the first windows
        List<Map<String, Object>> closed = windows.readValuesToList().stream().map(StatsTopologyTest::json).toList();
        assertThat(closed).extracting(w -> ((Double) w.get("window_start") - T0) / 1000, w -> w.get("count"))
                .startsWith(org.assertj.core.groups.Tuple.tuple(-5.0, 13.0), org.assertj.core.groups.Tuple.tuple(0.0, 20.0),
                        org.assertj.core.groups.Tuple.tuple(5.0, 7.0), org.assertj.core.groups.Tuple.tuple(10.0, 0.0));
    }

    @Test
    void lateEventsAreLeftOutOfTheStatisticsButScored() {
        start(10_000, 10_000, 1_000, "");
        window(T0, 100);
        input.pipeInput("c0".getBytes(StandardCharsets.UTF_8),
                event("late", "c0", T0 - 5_000, 100, "DE").getBytes(StandardCharsets.UTF_8)); // 12.6 s behind
        window(T0 + 20_000, 100);
        List<Map<String, Object>> closed = windows.readValuesToList().stream().map(StatsTopologyTest::json).toList();
        assertThat(closed.get(0)).containsEntry("window_start", (double) T0).containsEntry("count", 20.0);
        assertThat(closed).noneMatch(w -> (Double) w.get("window_start") < T0);
        assertThat(metrics.late.value()).isEqualTo(1);
        assertThat(metrics.scored.value()).isEqualTo(41);
    }

    @Test
    void aSilentStreamClosesEmptyWindowsByTheWallClockAndTripsARateRule() {
        start(10_000, 10_000, 1_000, "silence: rate < 1/s");
        window(T0, 100);
        window(T0 + 10_000, 100);
        assertThat(alerts.isEmpty()).isTrue();
        for (int s = 0; s < 40; s++) {
            driver.advanceWallClockTime(Duration.ofSeconds(1));
        }
        List<Map<String, Object>> closed = windows.readValuesToList().stream().map(StatsTopologyTest::json).toList();
        assertThat(closed).extracting(w -> w.get("count")).startsWith(20.0, 20.0, 0.0);
        Map<String, Object> a = json(alerts.readValue());
        assertThat(a).containsEntry("rule", "silence").containsEntry("state", "firing").containsEntry("value", 0.0);
    }

    @Test
    void rulesNameTheirProblemsClearly() {
        FeatureSpec fs = FeatureSpec.parse("amount = amount", "features.txt");
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> Rules.parse("x: psi(amout) > 1", "r.txt", fs)))
                .hasMessageContaining("r.txt line 1").hasMessageContaining("'amout' is not a feature");
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> Rules.parse("x: median_score > 1", "r", fs)))
                .hasMessageContaining("unknown statistic 'median_score'");
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> Rules.parse("x: count > 1/min", "r", fs)))
                .hasMessageContaining("only 'rate' takes a unit");
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> Rules.parse("x mean_score > 1", "r", fs)))
                .hasMessageContaining("expected 'name: statistic > value");
        assertThat(Rules.parse("q: rate < 30/min for 3 windows", "r", fs).rules().get(0))
                .satisfies(r -> {
                    assertThat(r.threshold()).isEqualTo(0.5);
                    assertThat(r.forWindows()).isEqualTo(3);
                });
    }
}
