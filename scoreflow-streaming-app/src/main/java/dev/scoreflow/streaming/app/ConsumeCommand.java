package dev.scoreflow.streaming.app;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.internal.Json;
import dev.scoreflow.streaming.StreamingException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/** {@code scoreflow consume}: print a topic's records as JSON lines, like Kafka's console consumer. */
@Command(name = "consume", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Print a topic's records as JSON lines on standard output: topic, partition, offset, "
                + "timestamp, key, headers and value (the value as JSON when it is JSON, else as a string, or "
                + "base64 when not UTF-8). Reads committed records only (what exactly-once writers committed).", ""})
public final class ConsumeCommand implements Runnable {
    @Mixin
    KafkaOptions kafka;

    @Option(names = "--topic", required = true, paramLabel = "TOPIC", description = "Topic to read.")
    String topic;

    @Option(names = "--max", paramLabel = "N", description = "Stop after N records (default: no limit).")
    Long max;

    @Option(names = "--timeout", defaultValue = "10", paramLabel = "S", description = "Stop when no record has come "
            + "for S seconds (default: ${DEFAULT-VALUE}; 0: never).")
    double timeout;

    @Option(names = "--from-beginning", description = "Start at the oldest record (default: only new ones; with "
            + "--group: where the group left off).")
    boolean fromBeginning;

    @Option(names = "--group", paramLabel = "ID", description = "Consume as this consumer group, committing offsets "
            + "(default: no group, nothing committed).")
    String group;

    PrintStream out = System.out;

    @Override
    public void run() {
        Properties p = kafka.properties();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, fromBeginning ? "earliest" : "latest");
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        long printed = 0;
        long idleSince = System.nanoTime();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            if (group != null) {
                consumer.subscribe(List.of(topic));
            } else {
                List<PartitionInfo> parts = consumer.partitionsFor(topic, Duration.ofSeconds(30));
                if (parts == null || parts.isEmpty()) {
                    throw new StreamingException("topic " + topic + " does not exist");
                }
                List<TopicPartition> tps = parts.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
                consumer.assign(tps);
                if (fromBeginning) {
                    consumer.seekToBeginning(tps);
                } else {
                    consumer.seekToEnd(tps);
                }
            }
            while (max == null || printed < max) {
                var records = consumer.poll(Duration.ofMillis(200));
                if (records.isEmpty()) {
                    if (timeout > 0 && System.nanoTime() - idleSince > timeout * 1e9) {
                        break;
                    }
                    continue;
                }
                idleSince = System.nanoTime();
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    out.println(line(r));
                    if (max != null && ++printed >= max) {
                        break;
                    }
                }
                out.flush();
            }
            if (group != null) {
                consumer.commitSync();
            }
        }
    }

    static String line(ConsumerRecord<byte[], byte[]> r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("topic", r.topic());
        m.put("partition", r.partition());
        m.put("offset", r.offset());
        m.put("timestamp", r.timestamp());
        m.put("key", text(r.key()));
        if (r.headers().toArray().length > 0) {
            Map<String, Object> h = new LinkedHashMap<>();
            for (Header header : r.headers()) {
                h.put(header.key(), text(header.value()));
            }
            m.put("headers", h);
        }
        m.put("value", value(r.value()));
        return Json.write(m);
    }

    private static Object value(byte[] v) {
        if (v == null) {
            return null;
        }
        try {
            return Json.parse(ByteBuffer.wrap(v));
        } catch (BadInputException e) {
            return text(v);
        }
    }

    private static String text(byte[] b) {
        if (b == null) {
            return null;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            return "base64:" + Base64.getEncoder().encodeToString(b);
        }
    }
}
