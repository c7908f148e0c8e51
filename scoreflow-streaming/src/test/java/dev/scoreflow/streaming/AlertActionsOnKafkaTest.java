package dev.scoreflow.streaming;

import dev.scoreflow.streaming.internal.Topics;
import dev.scoreflow.testkit.Await;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The alert actions on a real broker: only committed alerts act, each once, in order; a restarted consumer resumes
 * after the last alert it acted on; a new group does not act on the alerts from before it; of two instances in the
 * group, one acts.
 */
@Tag("slow")
class AlertActionsOnKafkaTest {
    static final String TOPIC = "events.alerts";
    static final String GROUP = "app-alerts";

    @TempDir
    static Path dir;
    static EmbeddedBroker broker;

    @BeforeAll
    static void startBroker() {
        // alerts carry their window's event time (2026-01-01 here): with the default 7-day retention the broker's
        // first retention check, 30 s after start, could delete them before the alert actions read them
        broker = EmbeddedBroker.start(dir.resolve("kafka"), "127.0.0.1", 0, Map.of("log.retention.ms", "-1"));
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    static Properties client() {
        Properties p = new Properties();
        p.put("bootstrap.servers", broker.bootstrapServers());
        return p;
    }

    static String alert(String rule, long start, String state) {
        return AlertActionsTest.ALERT.replace("high_scores", rule).replace("1700000000000", Long.toString(start))
                .replace("firing", state);
    }

    static String id(String rule, long start, String state) {
        return rule + "@" + start + ":" + state;
    }

    /**
     * Writes {@code values} in one transaction, committed or aborted, as the stream app writes its alerts, and
     * returns the offset after the last one (where the group's offset is once it has acted on them).
     */
    static long write(KafkaProducer<String, byte[]> producer, boolean commit, String... values) throws Exception {
        return write(producer, TOPIC, commit, values);
    }

    static long write(KafkaProducer<String, byte[]> producer, String topic, boolean commit, String... values)
            throws Exception {
        producer.beginTransaction();
        long next = -1;
        for (String v : values) {
            next = producer.send(new ProducerRecord<>(topic, "rule", v.getBytes(StandardCharsets.UTF_8))).get()
                    .offset() + 1;
        }
        if (commit) {
            producer.commitTransaction();
        } else {
            producer.flush();
            producer.abortTransaction();
        }
        return next;
    }

    static long committed(Admin admin) throws Exception {
        return committed(admin, GROUP, TOPIC);
    }

    static long committed(Admin admin, String group, String topic) throws Exception {
        OffsetAndMetadata o = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()
                .get(10, TimeUnit.SECONDS).get(new TopicPartition(topic, 0));
        return o == null ? -1 : o.offset();
    }

    static long end(Admin admin) throws Exception {
        TopicPartition tp = new TopicPartition(TOPIC, 0);
        return admin.listOffsets(Map.of(tp, org.apache.kafka.clients.admin.OffsetSpec.latest())).all()
                .get(10, TimeUnit.SECONDS).get(tp).offset();
    }

    AlertActions actions(StreamMetrics metrics, URI hook) {
        return actions(metrics, hook, Duration.ofSeconds(5));
    }

    AlertActions actions(StreamMetrics metrics, URI hook, Duration timeout) {
        return new AlertActions(new AlertActions.Settings(List.of(hook), null, 3, timeout, false), metrics,
                AlertActions.Sleeper.SYSTEM);
    }

    @Test
    void closingStopsAnActionInProgressAtOnceAndTheNextConsumerRepeatsIt() throws Exception {
        String topic = "slow.alerts";
        String group = "slow-alerts";
        StreamMetrics metrics = new StreamMetrics();
        Properties p = client();
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (Admin admin = Topics.admin(client());
             AlertActionsTest.Hook hook = new AlertActionsTest.Hook(200);
             KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                     new ByteArraySerializer())) {
            Topics.ensure(admin, topic, 1, Map.of());
            hook.hang = true; // answers only once released
            AlertActions stuck = actions(metrics, hook.url(), Duration.ofSeconds(60));
            stuck.start(client(), group, topic);
            long start = committed(admin, group, topic);
            producer.send(new ProducerRecord<>(topic, "rule", alert("x", 1, "firing")
                    .getBytes(StandardCharsets.UTF_8))).get();
            Await.until("the webhook called", Duration.ofSeconds(30), hook.posts::size, n -> n == 1);
            long t0 = System.nanoTime();
            stuck.close();
            assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(AlertActions.CLOSE_TIMEOUT.toMillis());
            assertThat(committed(admin, group, topic)).isEqualTo(start); // not acted on: not committed

            hook.release.countDown();
            try (AlertActions next = actions(metrics, hook.url())) {
                next.start(client(), group, topic);
                Await.until("the alert posted again", Duration.ofSeconds(30), hook.posts::size, n -> n == 2);
                Await.until("the offset committed after it", Duration.ofSeconds(30),
                        () -> committedQuietly(admin, group, topic), c -> c == start + 1);
            }
            assertThat(keys(hook)).containsExactly(id("x", 1, "firing"), id("x", 1, "firing"));
            assertThat(metrics.alertActionsDone.value("webhook")).isEqualTo(1);
        }
    }

    @Test
    void actsOnceOnEachCommittedAlertAndResumesAfterTheLastOneAfterARestart() throws Exception {
        StreamMetrics metrics = new StreamMetrics();
        Properties tx = client();
        tx.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "alerts-writer");
        try (Admin admin = Topics.admin(client());
             AlertActionsTest.Hook hook = new AlertActionsTest.Hook(200);
             KafkaProducer<String, byte[]> producer = new KafkaProducer<>(tx, new StringSerializer(),
                     new ByteArraySerializer())) {
            Topics.ensure(admin, TOPIC, 1, Map.of());
            producer.initTransactions();
            write(producer, true, alert("before", 1, "firing")); // from before actions were configured

            List<String> expected = new ArrayList<>();
            try (AlertActions first = actions(metrics, hook.url())) {
                first.start(client(), GROUP, TOPIC);
                assertThat(committed(admin)).isEqualTo(end(admin)); // a new group starts at the end
                write(producer, true, alert("a", 10, "firing"), alert("b", 10, "firing"));
                write(producer, false, alert("aborted", 20, "firing"));
                long last = write(producer, true, "not an alert", alert("a", 20, "resolved"));
                expected.addAll(List.of(id("a", 10, "firing"), id("b", 10, "firing"), id("a", 20, "resolved")));
                Await.until("the three committed alerts posted", Duration.ofSeconds(30),
                        () -> keys(hook), k -> k.size() >= expected.size());
                assertThat(keys(hook)).isEqualTo(expected);
                Await.until("the offset committed after the last alert", Duration.ofSeconds(30),
                        () -> committedQuietly(admin), c -> c == last);
                assertThat(metrics.alertRecordsMalformed.value()).isEqualTo(1);
                assertThat(metrics.alertActionsDone.value("webhook")).isEqualTo(3);
            }

            // stopped; one more alert; a new consumer in the same group acts on it alone
            long last = write(producer, true, alert("c", 30, "firing"));
            expected.add(id("c", 30, "firing"));
            try (AlertActions second = actions(metrics, hook.url())) {
                second.start(client(), GROUP, TOPIC);
                Await.until("the new alert posted", Duration.ofSeconds(30), () -> keys(hook),
                        k -> k.size() >= expected.size());
                assertThat(keys(hook)).isEqualTo(expected);
                Await.until("the offset committed after the new alert", Duration.ofSeconds(30),
                        () -> committedQuietly(admin), c -> c == last);
            }
            assertThat(keys(hook)).isEqualTo(expected);

            // two instances in the group: once it is stable, each alert is posted by one of them, once
            try (AlertActions one = actions(metrics, hook.url()); AlertActions two = actions(metrics, hook.url())) {
                one.start(client(), GROUP, TOPIC);
                two.start(client(), GROUP, TOPIC);
                Await.until("a stable group of two", Duration.ofSeconds(30), () -> describe(admin),
                        g -> g != null && g.groupState() == GroupState.STABLE && g.members().size() == 2
                                && g.members().stream().mapToInt(m -> m.assignment().topicPartitions().size()).sum() == 1);
                for (int i = 0; i < 5; i++) {
                    write(producer, true, alert("d" + i, 40, "firing"));
                    expected.add(id("d" + i, 40, "firing"));
                }
                Await.until("the five alerts posted", Duration.ofSeconds(30), () -> keys(hook),
                        k -> k.size() >= expected.size());
                assertThat(keys(hook)).isEqualTo(expected);
            }
        }
    }

    @Test
    void aStreamAppPostsTheAlertsOfItsRulesToTheWebhook() throws Exception {
        String in = "e2e.events";
        Properties p = client();
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (Admin admin = Topics.admin(client());
             AlertActionsTest.Hook hook = new AlertActionsTest.Hook(200)) {
            Topics.ensure(admin, in, 1, Map.of());
            Path rules = java.nio.file.Files.writeString(dir.resolve("e2e-rules.txt"), "busy: count >= 1\n");
            StreamApp app = StreamApp.builder().client(client()).topics(in, "e2e.scores", "e2e.dlq", null)
                    .features(FeatureSpec.parse("amount = amount", "test"))
                    .scorer(new ScoringTopologyTest.SquashScorer(1))
                    .applicationId("e2e").stateDir(dir.resolve("e2e-state")).inMemoryState(true).graceMs(0)
                    .statistics(1_000, 0, rules, 1, "e2e.stats", "e2e.alerts")
                    .alertWebhook(hook.url()).build();
            try (app) {
                app.start();
                long t0 = ScoringTopologyTest.T0;
                try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                        new ByteArraySerializer())) {
                    // events in the first window only: busy fires on it, resolves on the empty one after; an
                    // event 2.5 s on closes both
                    for (long ts : new long[]{t0, t0 + 100, t0 + 200, t0 + 2_500}) {
                        producer.send(new ProducerRecord<>(in, "c1", ScoringTopologyTest.event("e" + ts, "c1", ts,
                                10, "DE").getBytes(StandardCharsets.UTF_8))).get();
                    }
                }
                Await.until("the firing and resolved alerts posted", Duration.ofSeconds(60),
                        () -> keys(hook), k -> k.size() >= 2);
                assertThat(keys(hook)).containsExactly(id("busy", t0, "firing"), id("busy", t0 + 1_000, "resolved"));
                assertThat(new ArrayList<>(hook.posts).get(0).body()).startsWith("{\"alert_id\":\"busy@" + t0
                        + ":firing\",\"rule\":\"busy\",\"condition\":\"count >= 1\",\"state\":\"firing\"");
                Await.until("the actions counted", Duration.ofSeconds(10),
                        () -> app.metrics().alertActionsDone.value("webhook"), n -> n == 2);
                assertThat(app.renderMetrics()).contains("scoreflow_stream_alert_actions_total{kind=\"webhook\"} 2");
            }
            assertThat(keys(hook)).hasSize(2);
        }
    }

    static List<String> keys(AlertActionsTest.Hook hook) {
        List<String> out = new ArrayList<>();
        hook.posts.forEach(p -> out.add(p.key()));
        return out;
    }

    static long committedQuietly(Admin admin) {
        return committedQuietly(admin, GROUP, TOPIC);
    }

    static long committedQuietly(Admin admin, String group, String topic) {
        try {
            return committed(admin, group, topic);
        } catch (Exception e) {
            return -2;
        }
    }

    static ConsumerGroupDescription describe(Admin admin) {
        try {
            return admin.describeConsumerGroups(List.of(GROUP)).all().get(10, TimeUnit.SECONDS).get(GROUP);
        } catch (Exception e) {
            return null;
        }
    }
}
