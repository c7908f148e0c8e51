package dev.scoreflow.streaming.app;

import dev.scoreflow.api.internal.Json;
import dev.scoreflow.streaming.EmbeddedBroker;
import dev.scoreflow.streaming.StreamingException;
import dev.scoreflow.streaming.internal.AlertThreshold;
import dev.scoreflow.streaming.internal.LagMonitor;
import dev.scoreflow.streaming.internal.PartitionLag;
import dev.scoreflow.streaming.internal.Retention;
import dev.scoreflow.streaming.internal.Topics;
import dev.scoreflow.testkit.Await;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The lag monitor against a real broker whose retention really deletes: it warns while unread records are still
 * there, then reports them lost once the broker has deleted them, and names a group it cannot measure.
 */
@Tag("slow")
class LagOnKafkaTest {
    static final long RETENTION_MS = 15_000;
    /** How old the records are made when produced, so retention strikes within the test's time. */
    static final long AGE_MS = 2_000;

    @TempDir
    static Path dir;
    static EmbeddedBroker broker;

    @BeforeAll
    static void startBroker() {
        // retention checks every second from the start (the default is every 5 minutes, after 30 s)
        broker = EmbeddedBroker.start(dir.resolve("kafka"), "127.0.0.1", 0, Map.of(
                "log.retention.check.interval.ms", "1000", "log.initial.task.delay.ms", "0"));
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

    static void createTopic(String topic, int partitions) {
        try (Admin admin = Topics.admin(client())) {
            Topics.ensure(admin, topic, partitions, Map.of("retention.ms", Long.toString(RETENTION_MS),
                    "segment.ms", "1000", "segment.bytes", Integer.toString(1 << 20)));
        }
    }

    /** Writes {@code n} records to {@code partition} with timestamps {@code ts, ts + 1, ...}. */
    static void produce(String topic, int partition, int n, long ts) {
        Properties p = client();
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            for (int i = 0; i < n; i++) {
                producer.send(new ProducerRecord<>(topic, partition, ts + i, null,
                        ("record " + i).getBytes(StandardCharsets.UTF_8)));
            }
            producer.flush();
        }
    }

    /** As {@code group}, reads the first {@code read.get(tp)} records of each partition and commits after them. */
    static void consumeAndCommit(String group, Map<TopicPartition, Integer> read) {
        Properties p = client();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.assign(read.keySet());
            consumer.seekToBeginning(read.keySet());
            Map<TopicPartition, OffsetAndMetadata> done = new HashMap<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (done.size() < read.size()) {
                if (System.nanoTime() > deadline) {
                    fail("read only up to " + done + " of " + read + " in 30 s");
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    if (r.offset() + 1 == read.get(tp)) {
                        done.put(tp, new OffsetAndMetadata(r.offset() + 1));
                    }
                }
            }
            consumer.commitSync(done);
        }
    }

    record Run(int exit, String out, String err) {
    }

    static Run lagCommand(String... args) {
        return lagCommand(Long.MAX_VALUE, args);
    }

    /** Runs {@code scoreflow lag} as the launcher does (an exception: its message, exit 1), for {@code looks} looks. */
    static Run lagCommand(long looks, String... args) {
        LagCommand cmd = new LagCommand();
        cmd.maxLooks = looks;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        cmd.out = new PrintStream(buf, true, StandardCharsets.UTF_8);
        StringBuilder err = new StringBuilder();
        CommandLine cl = new CommandLine(cmd);
        cl.setExecutionExceptionHandler((e, c, parsed) -> {
            err.append("scoreflow: ").append(e.getMessage()).append('\n');
            return 1;
        });
        List<String> all = new ArrayList<>(List.of("--bootstrap-servers", broker.bootstrapServers()));
        all.addAll(List.of(args));
        int exit = cl.execute(all.toArray(String[]::new));
        String out = buf.toString(StandardCharsets.UTF_8);
        // the sample runs in the test's output show what a user sees
        System.out.println("$ scoreflow lag " + String.join(" ", args) + "   (exit " + exit + ")\n" + out + err);
        return new Run(exit, out, err.toString());
    }

    @Test
    void warnsBeforeRetentionDeletesUnreadRecordsAndReportsThemLostAfter() {
        String topic = "orders";
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        createTopic(topic, 2);
        long t0 = System.currentTimeMillis();
        long ts = t0 - AGE_MS;
        produce(topic, 0, 10, ts);
        produce(topic, 1, 4, ts);
        // the app has processed 4 of partition 0's 10 records, and all of partition 1
        consumeAndCommit("orders-app", Map.of(p0, 4, p1, 4));

        AtomicLong clock = new AtomicLong(t0);
        try (LagMonitor monitor = LagMonitor.create(client(), "orders-app", null, clock::get)) {
            List<PartitionLag> lags = monitor.poll();
            assertThat(lags).hasSize(2);
            PartitionLag l0 = lags.get(0);
            assertThat(l0.observed().committed()).hasValue(4);
            assertThat(l0.observed().logStart()).isZero();
            assertThat(l0.observed().logEnd()).isEqualTo(10);
            assertThat(l0.lag()).isEqualTo(6);
            assertThat(l0.lost()).isZero();
            // the oldest unread record is the one at the committed offset: offset 4, stamped ts + 4
            assertThat(l0.observed().oldestUnreadTimestamp()).hasValue(ts + 4);
            assertThat(l0.oldestUnreadAgeMs()).hasValue(AGE_MS - 4);
            assertThat(l0.msUntilDeletion()).hasValue(RETENTION_MS - AGE_MS + 4);
            assertThat(l0.observed().retention()).isEqualTo(new Retention(RETENTION_MS, -1, "delete"));
            PartitionLag l1 = lags.get(1);
            assertThat(l1.lag()).isZero();
            assertThat(l1.msUntilDeletion()).isEmpty();
            AlertThreshold fifth = AlertThreshold.parse("20%");
            assertThat(monitor.alerts(lags, fifth)).isEmpty();

            // 11 s on, 2 s are left: below a fifth of the 15 s retention
            clock.set(t0 + 11_000);
            lags = monitor.poll();
            assertThat(lags.get(0).msUntilDeletion()).hasValue(RETENTION_MS - AGE_MS + 4 - 11_000);
            assertThat(monitor.alerts(lags, fifth)).singleElement().asString()
                    .startsWith("orders-0: the oldest unread record of group orders-app may be deleted in 2.0s");
        }

        Run calm = lagCommand("--group", "orders-app", "--alert-before", "1s");
        assertThat(calm.exit()).isZero();
        assertThat(calm.out()).doesNotContain("ALERT").contains("orders").contains("15.0s");
        Run close = lagCommand("--group", "orders-app", "--alert-before", "1m");
        assertThat(close.exit()).isEqualTo(2);
        assertThat(close.out()).contains("ALERT orders-0: the oldest unread record of group orders-app may be "
                + "deleted in");

        // a later record rolls the segment: retention deletes the old one, the new one stays (stamped a minute
        // ahead, so that it stays for the rest of the test however slow the machine)
        long later = System.currentTimeMillis() + 60_000;
        produce(topic, 0, 1, later);
        try (LagMonitor monitor = LagMonitor.create(client(), "orders-app", null, System::currentTimeMillis)) {
            List<PartitionLag> lags = Await.until("deletion of the first segment of orders-0", Duration.ofSeconds(40),
                    monitor::poll, l -> l.get(0).observed().logStart() > 0);
            PartitionLag l0 = lags.get(0);
            assertThat(l0.observed().logStart()).isEqualTo(10);
            assertThat(l0.observed().logEnd()).isEqualTo(11);
            assertThat(l0.lost()).isEqualTo(6);
            assertThat(l0.lag()).isEqualTo(7);
            // what is left unread is the later record, with its own retention ahead
            assertThat(l0.observed().oldestUnreadTimestamp()).hasValue(later);
            assertThat(l0.msUntilDeletion()).hasValue(later + RETENTION_MS - l0.observedAt());
            // partition 1's records may be gone too, but the group had read them: nothing lost
            assertThat(lags.get(1).lost()).isZero();
            assertThat(lags.get(1).lag()).isZero();
            assertThat(monitor.alerts(lags, AlertThreshold.parse("20%"))).singleElement().asString()
                    .isEqualTo("orders-0: 6 records were deleted before group orders-app read them (committed "
                            + "offset 4, the log now starts at 10)");
        }
        Run lost = lagCommand("--group", "orders-app");
        assertThat(lost.exit()).isEqualTo(2);
        assertThat(lost.out()).contains("ALERT orders-0: 6 records were deleted before group orders-app read them");
    }

    @Test
    @SuppressWarnings("unchecked")
    void aTopicWithSizeRetentionShowsThePartitionSize() {
        String topic = "sized";
        try (Admin admin = Topics.admin(client())) {
            Topics.ensure(admin, topic, 1, Map.of("retention.bytes", Integer.toString(10 << 20)));
        }
        produce(topic, 0, 100, System.currentTimeMillis());
        consumeAndCommit("sized-app", Map.of(new TopicPartition(topic, 0), 50));

        try (LagMonitor monitor = LagMonitor.create(client(), "sized-app", topic, System::currentTimeMillis)) {
            PartitionLag l = monitor.poll().get(0);
            assertThat(l.lag()).isEqualTo(50);
            assertThat(l.observed().retention().bytes()).isEqualTo(10 << 20);
            // 100 small records in one batch: more than their payload, far less than the limit
            assertThat(l.observed().sizeBytes().getAsLong()).isBetween(1_000L, 100_000L);
        }
        Run run = lagCommand("--group", "sized-app", "--topic", topic);
        assertThat(run.exit()).isZero();
        assertThat(run.out()).contains("7d00h, 10.0 MiB").contains("(0%)");

        Run json = lagCommand("--group", "sized-app", "--json");
        assertThat(json.exit()).isZero();
        Map<String, Object> look = (Map<String, Object>) Json.parse(json.out().strip());
        assertThat(look).containsEntry("group", "sized-app").containsEntry("alerts", List.of());
        assertThat((List<?>) look.get("partitions")).singleElement()
                .satisfies(p -> assertThat((Map<String, Object>) p).containsEntry("lag", 50.0)
                        .containsEntry("committed", 50.0).containsEntry("retention_bytes", (double) (10 << 20)));

        // watching: a look, a pause, another look; exit 0 even with an alert, as the watch is the reporting
        Run watch = lagCommand(2, "--group", "sized-app", "--watch", "0.2", "--alert-before", "100%");
        assertThat(watch.exit()).isZero();
        assertThat(watch.out().split("group sized-app at ", -1)).hasSize(3);
        assertThat(watch.out().split("ALERT sized-0", -1)).hasSize(3);
    }

    @Test
    void anUnknownGroupIsAnErrorNamingIt() {
        createTopic("quiet", 1);
        try (LagMonitor monitor = LagMonitor.create(client(), "nobody", null, System::currentTimeMillis)) {
            assertThatThrownBy(monitor::poll).isInstanceOf(StreamingException.class)
                    .hasMessage("consumer group nobody does not exist on " + broker.bootstrapServers()
                            + " (a Kafka Streams app's group is its application id)");
        }
        try (LagMonitor monitor = LagMonitor.create(client(), "nobody", "quiet", System::currentTimeMillis)) {
            assertThatThrownBy(monitor::poll).hasMessageStartingWith("consumer group nobody does not exist");
        }
        Run run = lagCommand("--group", "nobody");
        assertThat(run.exit()).isEqualTo(1);
        assertThat(run.err()).startsWith("scoreflow: consumer group nobody does not exist");
    }

    @Test
    void aGroupThatHasCommittedNothingIsMeasuredFromTheFirstRecordOfAGivenTopic() {
        String topic = "fresh";
        createTopic(topic, 1);
        produce(topic, 0, 5, System.currentTimeMillis());
        Properties p = client();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "fresh-app");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        // a member that has joined and committed nothing: the group exists, its offsets do not
        try (KafkaConsumer<byte[], byte[]> member = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer());
             LagMonitor all = LagMonitor.create(client(), "fresh-app", null, System::currentTimeMillis);
             LagMonitor one = LagMonitor.create(client(), "fresh-app", topic, System::currentTimeMillis)) {
            member.subscribe(List.of(topic));
            Await.until("fresh-app joining", Duration.ofSeconds(30), () -> {
                member.poll(Duration.ofMillis(100));
                return member.assignment();
            }, a -> !a.isEmpty());

            assertThatThrownBy(all::poll).isInstanceOf(StreamingException.class)
                    .hasMessageStartingWith("consumer group fresh-app (")
                    .hasMessageContaining("has committed no offsets yet")
                    .hasMessageContaining("give --topic");
            PartitionLag l = one.poll().get(0);
            assertThat(l.observed().committed()).isEmpty();
            assertThat(l.lag()).isEqualTo(5);
            assertThat(l.lost()).isZero();
            assertThat(l.msUntilDeletion()).isPresent();
        }
    }
}
