package dev.scoreflow.streaming.internal;

import dev.scoreflow.streaming.StreamingException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.errors.TopicExistsException;

import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** Creates the topics a command writes to, if they are missing, and tells how many partitions a topic has. */
public final class Topics {
    public static final long TIMEOUT_MS = 30_000;

    private Topics() {
    }

    /**
     * Creates {@code topic} with {@code partitions} (replication: the cluster's default) unless it exists, and
     * returns once the cluster's metadata shows it with a leader for every partition: a consumer that subscribes
     * right after (a Kafka Streams app reading its own internal topic, say) must not find it missing.
     */
    public static void ensure(Admin admin, String topic, int partitions, Map<String, String> config) {
        try {
            admin.createTopics(List.of(new NewTopic(topic, java.util.Optional.of(partitions), java.util.Optional.empty())
                    .configs(config))).all().get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new StreamingException("cannot create topic " + topic + ": " + e.getCause().getMessage(), e);
            }
        } catch (Exception e) {
            throw new StreamingException("cannot create topic " + topic + ": " + e, e);
        }
        awaitLeaders(admin, topic);
    }

    private static void awaitLeaders(Admin admin, String topic) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
        String last = "";
        while (System.nanoTime() < deadline) {
            try {
                TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                        .get(TIMEOUT_MS, TimeUnit.MILLISECONDS).get(topic);
                if (d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty())) {
                    return;
                }
                last = "partitions without a leader";
            } catch (ExecutionException e) {
                last = e.getCause().toString(); // not yet in the metadata: look again
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StreamingException("interrupted while waiting for topic " + topic, e);
            } catch (java.util.concurrent.TimeoutException e) {
                last = e.toString();
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        throw new StreamingException("topic " + topic + " was created but is not ready after " + TIMEOUT_MS
                + " ms: " + last);
    }

    /** The partitions of {@code topic}. @throws StreamingException if it does not exist or the cluster does not answer */
    public static int partitions(Admin admin, String topic) {
        try {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(TIMEOUT_MS, TimeUnit.MILLISECONDS).get(topic);
            return d.partitions().size();
        } catch (ExecutionException e) {
            throw new StreamingException("topic " + topic + ": " + e.getCause().getMessage(), e);
        } catch (Exception e) {
            throw new StreamingException("cannot describe topic " + topic + ": " + e, e);
        }
    }

    /** {@code topic}, if it can name a topic. @throws IllegalArgumentException naming {@code what} if null or blank */
    public static String requireName(String what, String topic) {
        if (topic == null || topic.isBlank()) {
            throw new IllegalArgumentException(what + " must be a topic name, was '" + topic + "'");
        }
        return topic;
    }

    public static Admin admin(Properties client) {
        Properties p = new Properties();
        p.putAll(client);
        p.putIfAbsent("default.api.timeout.ms", (int) TIMEOUT_MS);
        return Admin.create(p);
    }
}
