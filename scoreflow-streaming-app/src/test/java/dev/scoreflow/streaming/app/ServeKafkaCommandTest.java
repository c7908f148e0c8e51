package dev.scoreflow.streaming.app;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.OnnxModel;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.streaming.EmbeddedBroker;
import dev.scoreflow.streaming.KafkaScoringClient;
import dev.scoreflow.testkit.Await;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code scoreflow serve-kafka} against a real broker: it creates its topics, answers a client, and stops. */
@Tag("slow")
class ServeKafkaCommandTest {
    static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void answersOnTheRequestsReplyTopicOrElseOnItsOwn() throws Exception {
        try (EmbeddedBroker broker = EmbeddedBroker.start(dir.resolve("kafka"), "127.0.0.1", 0, Map.of());
             Model model = OnnxModel.load(TestModels.example(), ModelConfig.defaults(), 1)) {
            Properties client = new Properties();
            client.put("bootstrap.servers", broker.bootstrapServers());
            ServeKafkaCommand cmd = new ServeKafkaCommand();
            int[] exit = {-1};
            Thread t = new Thread(() -> exit[0] = new CommandLine(cmd).execute("--bootstrap-servers",
                    broker.bootstrapServers(), "--request-topic", "rpc-cli", "--reply-topic", "rpc-cli.default",
                    "--model", TestModels.example().toString(), "--group", "rpc-cli-service", "--partitions", "2"),
                    "serve-kafka");
            t.start();
            Await.until("serve-kafka to serve both partitions", WAIT,
                    () -> cmd.running == null ? 0 : cmd.running.partitions().size(), n -> n == 2);
            int n = model.signature().featureCount();
            float[] sample = TestModels.sampleInput(TestModels.example());
            FloatMatrix rows = FloatMatrix.of(sample, sample.length / n, n);
            try (KafkaScoringClient scoring = KafkaScoringClient.builder(client, "rpc-cli").build()) {
                assertThat(scoring.score(rows).get(WAIT.toSeconds(), TimeUnit.SECONDS))
                        .containsExactly(model.score(rows));
            }
            // no reply_to: the answer goes to --reply-topic, with the request's correlation id
            RecordHeaders h = new RecordHeaders();
            h.add(KafkaScoringClient.CORRELATION_ID_HEADER, "no-reply-to".getBytes(StandardCharsets.UTF_8));
            try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(client, new ByteArraySerializer(),
                    new ByteArraySerializer())) {
                p.send(new ProducerRecord<>("rpc-cli", null, (byte[]) null, SeedBinaryCodec.encode(rows).array(),
                        h)).get();
            }
            ConsumerRecord<byte[], byte[]> reply = firstRecord(client, "rpc-cli.default", 2);
            assertThat(new String(reply.headers().lastHeader(KafkaScoringClient.CORRELATION_ID_HEADER).value(),
                    StandardCharsets.UTF_8)).isEqualTo("no-reply-to");
            assertThat(SeedBinaryCodec.decodeScores(ByteBuffer.wrap(reply.value()))).containsExactly(model.score(rows));

            cmd.running.close();
            t.join(WAIT.toMillis());
            assertThat(t.isAlive()).isFalse();
            assertThat(exit[0]).isZero();
        }
    }

    /** The first record of any of the {@code partitions} of {@code topic}, read from the beginning. */
    static ConsumerRecord<byte[], byte[]> firstRecord(Properties client, String topic, int partitions) {
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(client, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < partitions; i++) {
                tps.add(new TopicPartition(topic, i));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            return Await.until("a record on " + topic, WAIT, () -> {
                ConsumerRecords<byte[], byte[]> polled = c.poll(Duration.ofMillis(200));
                return polled.isEmpty() ? null : polled.iterator().next();
            }, r -> r != null);
        }
    }
}
