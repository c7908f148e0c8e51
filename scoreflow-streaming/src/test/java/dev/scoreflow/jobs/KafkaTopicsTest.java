package dev.scoreflow.jobs;

import dev.scoreflow.streaming.EmbeddedBroker;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The lecture's Kafka trap, on the embedded broker: a job topic that deletes records sooner than jobs are kept loses
 * queued jobs without a trace, so opening a queue on one warns, naming the topic and its retention.
 */
class KafkaTopicsTest {

    @Test
    void aJobsTopicThatDeletesRecordsSoonerThanJobsAreKeptIsWarnedAboutAndTopicsItCreatesAreNot(@TempDir Path dir)
            throws Exception {
        try (EmbeddedBroker broker = EmbeddedBroker.start(dir.resolve("kafka"), "127.0.0.1", 0, Map.of())) {
            Properties client = new Properties();
            client.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            QueueSettings settings = QueueSettings.defaults();

            KafkaTopics fresh = new KafkaTopics("fresh");
            assertThat(fresh.ensure(client, 2, settings, Duration.ofSeconds(30))).as("created here").isEmpty();
            assertThat(fresh.ensure(client, 2, settings, Duration.ofSeconds(30)))
                    .as("opened again: its own topics, kept a week").isEmpty();

            // someone made the jobs topic, and the events topic (whose retention does not matter), keeping a minute
            KafkaTopics topics = new KafkaTopics("short");
            try (Admin admin = Admin.create(client)) {
                Map<String, String> minute = Map.of(TopicConfig.RETENTION_MS_CONFIG, "60000");
                admin.createTopics(List.of(new NewTopic(topics.jobs, Optional.of(2), Optional.empty()).configs(minute),
                        new NewTopic(topics.events, Optional.of(1), Optional.empty()).configs(minute)))
                        .all().get(30, TimeUnit.SECONDS);
            }
            assertThat(topics.ensure(client, 2, settings, Duration.ofSeconds(30))).containsExactly("topic "
                    + "scoreflow.jobs.short keeps records 60000 ms, less than the PT24H that jobs are kept: Kafka "
                    + "deletes records by age whether or not a worker took them, so a job waiting longer is lost "
                    + "without a trace; raise its retention.ms");
            // the queue still opens on it: the warning is for whoever runs it
            try (KafkaJobQueue q = KafkaJobQueue.open(broker.bootstrapServers(), "short", settings, 2)) {
                assertThat(q.jobsTopic()).isEqualTo(topics.jobs);
            }
        }
    }
}
