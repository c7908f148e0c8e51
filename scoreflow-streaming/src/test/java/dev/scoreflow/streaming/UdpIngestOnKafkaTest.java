package dev.scoreflow.streaming;

import dev.scoreflow.streaming.internal.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The one-way UDP listener against a real broker and real sockets: every valid datagram reaches the topic once,
 * keyed by entity and byte for byte; the refused ones are counted by reason; and when Kafka stops acknowledging,
 * the listener keeps reading and counts what it drops instead of waiting.
 */
@Tag("slow")
class UdpIngestOnKafkaTest {
    static final int N = 2_000;
    static final int RATE = 2_000; // datagrams per second
    /** Lower than the default, so too_large can be tested over loopback. */
    static final int MAX = 1_000;

    @TempDir
    static Path dir;
    static EmbeddedBroker broker;

    @BeforeAll
    static void startBroker() {
        broker = EmbeddedBroker.start(dir.resolve("kafka"), "127.0.0.1", 0, Map.of());
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    static Properties client(EmbeddedBroker b) {
        Properties p = new Properties();
        p.put("bootstrap.servers", b.bootstrapServers());
        return p;
    }

    static void createTopic(EmbeddedBroker b, String topic, int partitions) {
        try (Admin admin = Topics.admin(client(b))) {
            Topics.ensure(admin, topic, partitions, Map.of());
        }
    }

    /** A datagram to send and what the listener should make of it (null: written). */
    record Datagram(byte[] bytes, String refusal, String entity, String eventId) {
    }

    static Datagram valid(Random rnd, int i, int padTo) {
        String entity = "card-" + rnd.nextInt(50);
        String eventId = "e-" + i;
        String json = (rnd.nextBoolean() ? "{\"event_id\":\"%s\",\"entity\":\"%s\",\"ts\":%d,\"amount\":%.2f"
                : " {\"entity\" : \"%2$s\", \"event_id\" : \"%1$s\", \"ts\" : %3$d, \"amount\" : %4$.2f")
                .formatted(eventId, entity, 1_700_000_000_000L + i, rnd.nextDouble() * 1000);
        StringBuilder s = new StringBuilder(json).append(",\"note\":\"");
        int bytes = s.toString().getBytes(StandardCharsets.UTF_8).length + "\"}".length();
        while (bytes < padTo) {
            // two bytes or one (the value is compared byte for byte), to exactly padTo bytes
            boolean twoBytes = rnd.nextBoolean() && bytes + 2 <= padTo;
            s.append(twoBytes ? "é" : "x");
            bytes += twoBytes ? 2 : 1;
        }
        byte[] b = s.append("\"}").toString().getBytes(StandardCharsets.UTF_8);
        return new Datagram(b, null, entity, eventId);
    }

    static Datagram refused(String reason, String text) {
        return new Datagram(text.getBytes(StandardCharsets.UTF_8), reason, null, null);
    }

    /** {@code n} datagrams: mostly events, and every kind of refusal, in a seeded random order. */
    static List<Datagram> mix(long seed, int n) {
        Random rnd = new Random(seed);
        List<Datagram> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int kind = rnd.nextInt(100);
            Datagram d;
            if (kind < 80) {
                d = valid(rnd, i, 60 + rnd.nextInt(400));
            } else if (kind < 82) {
                d = valid(rnd, i, MAX); // exactly the maximum: accepted
            } else if (kind < 85) {
                d = refused("not_json", "card-1 paid 12.50 at " + i);
            } else if (kind < 87) {
                d = refused("not_json", "{\"entity\":\"card-1\",\"event_id\":\"t-" + i + "\""); // truncated
            } else if (kind < 89) {
                byte[] b = "{\"entity\":\"card-2\",\"note\":\"??\"}".getBytes(StandardCharsets.UTF_8);
                b[b.length - 4] = (byte) 0xC3; // a lead byte without its continuation, then another lead byte
                b[b.length - 3] = (byte) 0xFF;
                d = new Datagram(b, "not_json", null, null);
            } else if (kind < 92) {
                d = refused("no_entity", "{\"event_id\":\"n-" + i + "\",\"ts\":1}");
            } else if (kind < 94) {
                d = refused("no_entity", "{\"entity\":42,\"event_id\":\"n-" + i + "\"}");
            } else if (kind < 96) {
                d = refused("no_entity", "[{\"entity\":\"card-3\"}]");
            } else {
                Datagram big = valid(rnd, i, MAX + 1 + rnd.nextInt(3_000));
                d = new Datagram(big.bytes(), "too_large", null, null);
            }
            out.add(d);
        }
        return out;
    }

    /** Sends each datagram to {@code port} at {@code rate} per second, paced against the start time. */
    static double send(List<Datagram> datagrams, int port, int rate) throws IOException {
        try (DatagramChannel out = DatagramChannel.open()) {
            out.connect(new InetSocketAddress("127.0.0.1", port));
            long start = System.nanoTime();
            long interval = 1_000_000_000L / rate;
            for (int i = 0; i < datagrams.size(); i++) {
                long due = start + i * interval;
                for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
                    LockSupport.parkNanos(wait);
                }
                int sent = out.write(ByteBuffer.wrap(datagrams.get(i).bytes()));
                assertThat(sent).isEqualTo(datagrams.get(i).bytes().length);
            }
            return datagrams.size() / ((System.nanoTime() - start) / 1e9);
        }
    }

    static void await(BooleanSupplier done, Duration timeout, Supplier<String> what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("not within " + timeout.toMillis() + " ms: " + what.get());
            }
            LockSupport.parkNanos(5_000_000);
        }
    }

    static String counts(StreamMetrics m, UdpIngest udp) {
        return "received " + received(m) + ", written " + written(m) + ", refused " + refused(m) + ", dropped "
                + dropped(m) + ", kernel drops " + UdpIngest.kernelDrops(udp.port()) + readerStack(udp.port());
    }

    /** Where the listener's thread is, for a failure message. */
    static String readerStack(int port) {
        StringBuilder out = new StringBuilder();
        Thread.getAllStackTraces().forEach((t, stack) -> {
            if (t.getName().equals("udp-ingest-" + port)) {
                out.append("; the listener's thread (").append(t.getState()).append("):");
                for (StackTraceElement e : stack) {
                    out.append("\n\tat ").append(e);
                }
            }
        });
        return out.toString();
    }

    static long received(StreamMetrics m) {
        return m.registry.counter("scoreflow_udp_datagrams_received_total", "").value();
    }

    static long written(StreamMetrics m) {
        return m.registry.counter("scoreflow_udp_events_written_total", "").value();
    }

    static long dropped(StreamMetrics m) {
        return m.registry.counter("scoreflow_udp_datagrams_dropped_total", "").value();
    }

    /** Refused datagrams: for {@code reason}, or all of them without one. */
    static long refused(StreamMetrics m, String... reason) {
        var c = m.registry.counter("scoreflow_udp_datagrams_refused_total", "", "reason");
        return reason.length == 0 ? c.sum(labels -> true) : c.value(reason);
    }

    @Test
    void writesEveryValidDatagramOnceByteForByteAndCountsRefusalsByReason() throws IOException {
        String topic = "udp-in";
        createTopic(broker, topic, 3);
        List<Datagram> datagrams = mix(20261202L, N);
        Map<String, Long> expectedRefused = new HashMap<>();
        Map<String, Datagram> expectedWritten = new HashMap<>();
        for (Datagram d : datagrams) {
            if (d.refusal() != null) {
                expectedRefused.merge(d.refusal(), 1L, Long::sum);
            } else {
                expectedWritten.put(d.eventId(), d);
            }
        }
        assertThat(expectedRefused).containsOnlyKeys("not_json", "no_entity", "too_large");

        StreamMetrics m = new StreamMetrics();
        double rate;
        try (UdpIngest udp = new UdpIngest(client(broker), topic, "127.0.0.1", 0, m, MAX,
                UdpIngest.MAX_IN_FLIGHT_BYTES)) {
            udp.start();
            rate = send(datagrams, udp.port(), RATE);
            await(() -> received(m) == N, Duration.ofSeconds(10), () -> counts(m, udp));
            await(() -> written(m) + dropped(m) == expectedWritten.size(), Duration.ofSeconds(30),
                    () -> counts(m, udp));
            System.out.printf("UDP one-way: %d datagrams at %.0f/s (asked %d/s): received %d, written %d, refused "
                            + "%d %s, dropped %d, kernel drops %d%n", N, rate, RATE, received(m), written(m),
                    refused(m), expectedRefused, dropped(m), UdpIngest.kernelDrops(udp.port()));
            assertThat(UdpIngest.kernelDrops(udp.port())).isIn(-1L, 0L);
        }
        // nothing was dropped at this rate, and every datagram is accounted for
        assertThat(dropped(m)).isZero();
        assertThat(received(m)).isEqualTo(written(m) + refused(m) + dropped(m));
        for (String reason : List.of("not_json", "no_entity", "too_large")) {
            assertThat(refused(m, reason)).as(reason).isEqualTo(expectedRefused.get(reason));
        }
        assertThat(m.registry.render())
                .contains("scoreflow_udp_datagrams_refused_total{reason=\"too_large\"} "
                        + (double) expectedRefused.get("too_large") + "\n")
                .contains("scoreflow_udp_events_written_total " + (double) expectedWritten.size() + "\n")
                .contains("scoreflow_udp_datagrams_dropped_total 0.0\n");

        // on the topic: each valid event once, keyed by its entity, the bytes as sent
        Map<String, ConsumerRecord<String, byte[]>> onTopic = new HashMap<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(client(broker), new StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> parts = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1),
                    new TopicPartition(topic, 2));
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            long records = consumer.endOffsets(parts).values().stream().mapToLong(Long::longValue).sum();
            assertThat(records).as("records on the topic").isEqualTo(expectedWritten.size());
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            int read = 0;
            while (read < records) {
                if (System.nanoTime() > deadline) {
                    fail("read " + read + " of " + records + " records in 30 s");
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    read++;
                    String eventId = (String) dev.scoreflow.api.internal.Json.parseObject(ByteBuffer.wrap(r.value()),
                            "record").get("event_id");
                    assertThat(onTopic.put(eventId, r)).as("a second record for " + eventId).isNull();
                }
            }
        }
        assertThat(onTopic.keySet()).isEqualTo(expectedWritten.keySet());
        expectedWritten.forEach((id, d) -> {
            ConsumerRecord<String, byte[]> r = onTopic.get(id);
            assertThat(r.key()).as(id).isEqualTo(d.entity());
            assertThat(Arrays.equals(r.value(), d.bytes())).as(id + " byte for byte").isTrue();
        });
    }

    @Test
    void keepsReadingAndCountsDropsWhenKafkaStopsAcknowledging(@TempDir Path own) throws IOException {
        EmbeddedBroker b = EmbeddedBroker.start(own.resolve("kafka"), "127.0.0.1", 0, Map.of());
        String topic = "udp-stalled";
        StreamMetrics m = new StreamMetrics();
        int inFlight = 16 * 1024;
        UdpIngest udp;
        try {
            createTopic(b, topic, 1);
            udp = new UdpIngest(client(b), topic, "127.0.0.1", 0, m, MAX, inFlight);
        } finally {
            b.close(); // the producer knows the topic; now nothing acknowledges
        }
        try {
            udp.start();
            Random rnd = new Random(7);
            List<Datagram> datagrams = new ArrayList<>();
            for (int i = 0; i < N; i++) {
                datagrams.add(valid(rnd, i, 100 + rnd.nextInt(200)));
            }
            double rate = send(datagrams, udp.port(), RATE);
            // the loop did not wait for Kafka: all read within moments of the last send, most dropped
            await(() -> received(m) == N, Duration.ofSeconds(2), () -> counts(m, udp));
            long droppedWhileStalled = dropped(m);
            System.out.printf("UDP one-way, Kafka stopped: %d datagrams at %.0f/s: received %d, written %d, "
                    + "dropped %d (in flight at most %d bytes)%n", N, rate, received(m), written(m), droppedWhileStalled,
                    inFlight);
            assertThat(written(m)).isZero();
            // at most inFlight bytes (a datagram is >= 100) wait for Kafka; all the rest is dropped at once
            assertThat(droppedWhileStalled).isGreaterThanOrEqualTo(N - inFlight / 100);
        } finally {
            long t0 = System.nanoTime();
            udp.close(Duration.ofSeconds(1));
            long closeMs = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf("UDP one-way, Kafka stopped: closed in %d ms (producer close timeout 1 s)%n", closeMs);
            assertThat(closeMs).as("close took ms").isLessThan(5_000);
        }
        // what was still in flight failed at close and was counted: everything is accounted for
        await(() -> dropped(m) == N, Duration.ofSeconds(5), () -> "dropped " + dropped(m));
        assertThat(received(m)).isEqualTo(written(m) + refused(m) + dropped(m));
    }

    @Test
    void refusesBadSettingsWithTheValue() {
        assertThatThrownBy(() -> StreamApp.builder().udp("0.0.0.0", 70_000))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("70000");
        assertThatThrownBy(() -> new UdpIngest(client(broker), "t", "127.0.0.1", 0, new StreamMetrics(), 0, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was 0");
    }
}
