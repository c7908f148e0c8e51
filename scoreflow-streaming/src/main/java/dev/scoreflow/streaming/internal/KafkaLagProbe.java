package dev.scoreflow.streaming.internal;

import dev.scoreflow.streaming.StreamingException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The lag monitor's look at a real cluster, through the admin client: the group's committed offsets, the log start
 * and end offsets, the topics' retention settings, partition sizes (only where {@code retention.bytes} is set, from
 * the leader's log dirs) and the timestamp of each partition's oldest unread record, read by a short-lived consumer
 * that belongs to no group (assign, seek, poll until one record per partition or {@link #FETCH_TIMEOUT}).
 *
 * <p>Reads uncommitted records: the question is what is on disk and due for deletion, committed or not. A partition
 * whose record cannot be read in time is reported without a timestamp (and logged), not failed. Thread-safe (the
 * admin client is; each look has its own consumer).
 */
final class KafkaLagProbe implements LagMonitor.Probe {
    private static final Logger LOG = LoggerFactory.getLogger(KafkaLagProbe.class);
    static final Duration FETCH_TIMEOUT = Duration.ofSeconds(5);

    private final Properties client;
    private final String group;
    private final String topic;
    private final Admin admin;

    /** A probe of {@code group}, over every topic it has committed offsets for, or only {@code topic} if not null. */
    KafkaLagProbe(Properties client, String group, String topic) {
        this.client = new Properties();
        this.client.putAll(client);
        this.group = group;
        this.topic = topic;
        this.admin = Topics.admin(client);
    }

    @Override
    public List<Observation> observe() {
        Map<TopicPartition, Long> committed = committedOffsets();
        Set<String> topics = new TreeSet<>();
        if (topic != null) {
            topics.add(topic);
        } else {
            committed.keySet().forEach(tp -> topics.add(tp.topic()));
        }
        Map<String, List<TopicPartitionInfo>> layout = describe(topics);
        List<TopicPartition> partitions = new ArrayList<>();
        Map<TopicPartition, Node> leaders = new HashMap<>();
        layout.forEach((t, infos) -> infos.forEach(i -> {
            TopicPartition tp = new TopicPartition(t, i.partition());
            partitions.add(tp);
            leaders.put(tp, i.leader());
        }));
        Map<TopicPartition, Long> start = offsets(partitions, OffsetSpec.earliest());
        Map<TopicPartition, Long> end = offsets(partitions, OffsetSpec.latest());
        Map<String, Retention> retention = retention(layout.keySet());
        Map<TopicPartition, Long> sizes = sizes(partitions, leaders, retention);

        Map<TopicPartition, Long> unreadFrom = new HashMap<>();
        for (TopicPartition tp : partitions) {
            long from = Math.max(committed.getOrDefault(tp, start.get(tp)), start.get(tp));
            if (from < end.get(tp)) {
                unreadFrom.put(tp, from);
            }
        }
        Map<TopicPartition, Long> timestamps = oldestUnreadTimestamps(unreadFrom, end);

        List<Observation> out = new ArrayList<>(partitions.size());
        for (TopicPartition tp : partitions) {
            Long c = committed.get(tp);
            Long ts = timestamps.get(tp);
            Long size = sizes.get(tp);
            out.add(new Observation(tp, c == null ? OptionalLong.empty() : OptionalLong.of(c), start.get(tp),
                    end.get(tp), ts == null ? OptionalLong.empty() : OptionalLong.of(ts), retention.get(tp.topic()),
                    size == null ? OptionalLong.empty() : OptionalLong.of(size)));
        }
        return out;
    }

    /** The group's committed offsets (of {@code topic} only, if given). */
    private Map<TopicPartition, Long> committedOffsets() {
        Map<TopicPartition, OffsetAndMetadata> all = get(admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata(), "read the committed offsets of consumer group " + group);
        Map<TopicPartition, Long> committed = new HashMap<>();
        // a partition listed without an offset has none committed
        all.forEach((tp, om) -> {
            if (om != null && (topic == null || topic.equals(tp.topic()))) {
                committed.put(tp, om.offset());
            }
        });
        if (committed.isEmpty()) {
            // the coordinator answers an unknown group with no offsets, not an error: tell the two apart
            Optional<GroupListing> listing = get(admin.listGroups().all(), "list the consumer groups").stream()
                    .filter(g -> g.groupId().equals(group)).findFirst();
            if (listing.isEmpty()) {
                throw new StreamingException("consumer group " + group + " does not exist on "
                        + client.get("bootstrap.servers") + " (a Kafka Streams app's group is its application id)");
            }
            if (topic == null) {
                String state = listing.get().groupState().map(s -> ", " + s).orElse("");
                throw new StreamingException("consumer group " + group + " (" + listing.get().type()
                        .map(Object::toString).orElse("unknown type") + state + ") has committed no offsets yet, so "
                        + "there is nothing to measure; give --topic to measure a topic from its first record");
            }
        }
        return committed;
    }

    private Map<String, List<TopicPartitionInfo>> describe(Set<String> topics) {
        Map<String, List<TopicPartitionInfo>> out = new HashMap<>();
        Map<String, KafkaFuture<TopicDescription>> futures = admin.describeTopics(topics).topicNameValues();
        for (String t : topics) {
            try {
                out.put(t, futures.get(t).get(Topics.TIMEOUT_MS, TimeUnit.MILLISECONDS).partitions());
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw failed("describe topic " + t, e);
                }
                if (topic != null) {
                    throw new StreamingException("topic " + t + " does not exist", e.getCause());
                }
                // the group still has offsets for a deleted topic: nothing of it is left to lose
                LOG.warn("consumer group {} has offsets for topic {}, which no longer exists; left out", group, t);
            } catch (InterruptedException | TimeoutException e) {
                throw failed("describe topic " + t, e);
            }
        }
        return out;
    }

    private Map<TopicPartition, Long> offsets(List<TopicPartition> partitions, OffsetSpec spec) {
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        partitions.forEach(tp -> request.put(tp, spec));
        Map<TopicPartition, ListOffsetsResultInfo> infos = get(admin.listOffsets(request).all(),
                "list the offsets of " + partitions);
        Map<TopicPartition, Long> out = new HashMap<>();
        infos.forEach((tp, i) -> out.put(tp, i.offset()));
        return out;
    }

    private Map<String, Retention> retention(Set<String> topics) {
        List<ConfigResource> resources = topics.stream()
                .map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).toList();
        Map<ConfigResource, Config> configs = get(admin.describeConfigs(resources).all(),
                "read the retention settings of " + topics);
        Map<String, Retention> out = new HashMap<>();
        configs.forEach((r, c) -> out.put(r.name(), new Retention(
                number(c, TopicConfig.RETENTION_MS_CONFIG, Retention.DEFAULT.ms()),
                number(c, TopicConfig.RETENTION_BYTES_CONFIG, Retention.DEFAULT.bytes()),
                text(c, TopicConfig.CLEANUP_POLICY_CONFIG, Retention.DEFAULT.cleanupPolicy()))));
        return out;
    }

    private static long number(Config c, String name, long otherwise) {
        ConfigEntry e = c.get(name);
        return e == null || e.value() == null ? otherwise : Long.parseLong(e.value());
    }

    private static String text(Config c, String name, String otherwise) {
        ConfigEntry e = c.get(name);
        return e == null || e.value() == null ? otherwise : e.value();
    }

    /**
     * The size of each partition of a topic with size retention, on its leader. Left out (and logged) when the
     * brokers refuse: describing log dirs needs the cluster DESCRIBE permission, which a monitoring user may lack.
     */
    private Map<TopicPartition, Long> sizes(List<TopicPartition> partitions, Map<TopicPartition, Node> leaders,
                                            Map<String, Retention> retention) {
        Set<Integer> brokers = new HashSet<>();
        for (TopicPartition tp : partitions) {
            if (retention.get(tp.topic()).bySize() && leaders.get(tp) != null) {
                brokers.add(leaders.get(tp).id());
            }
        }
        Map<TopicPartition, Long> out = new HashMap<>();
        if (brokers.isEmpty()) {
            return out;
        }
        Map<Integer, Map<String, LogDirDescription>> dirs;
        try {
            dirs = admin.describeLogDirs(brokers).allDescriptions().get(Topics.TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            throw failed("describe the log dirs of brokers " + brokers, e);
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("cannot read partition sizes from brokers {} ({}); sizes left out", brokers,
                    e instanceof ExecutionException ? e.getCause().toString() : e.toString());
            return out;
        }
        for (TopicPartition tp : partitions) {
            Node leader = leaders.get(tp);
            if (leader == null || !retention.get(tp.topic()).bySize()) {
                continue;
            }
            for (LogDirDescription d : dirs.getOrDefault(leader.id(), Map.of()).values()) {
                ReplicaInfo r = d.replicaInfos().get(tp);
                // a future replica is a copy being moved between the broker's disks: not what retention measures
                if (r != null && !r.isFuture()) {
                    out.put(tp, r.size());
                }
            }
        }
        return out;
    }

    /**
     * The timestamp of the first record at or after {@code from} of each partition. A partition whose position
     * reaches its end without a record had only transaction markers left: no timestamp, and nothing to lose.
     */
    private Map<TopicPartition, Long> oldestUnreadTimestamps(Map<TopicPartition, Long> from,
                                                             Map<TopicPartition, Long> end) {
        Map<TopicPartition, Long> out = new HashMap<>();
        if (from.isEmpty()) {
            return out;
        }
        Properties p = new Properties();
        p.putAll(client);
        // a look, not a member: no group, nothing committed, and the records retention may delete are on disk
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        p.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        // retention may delete the offset between our look at the log start and the seek: start at what is left
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "scoreflow-lag-" + group);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.assign(from.keySet());
            from.forEach(consumer::seek);
            Set<TopicPartition> pending = new HashSet<>(from.keySet());
            long deadline = System.nanoTime() + FETCH_TIMEOUT.toNanos();
            while (!pending.isEmpty() && System.nanoTime() < deadline) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(100));
                for (TopicPartition tp : records.partitions()) {
                    if (pending.remove(tp)) {
                        out.put(tp, records.records(tp).get(0).timestamp());
                        consumer.pause(Set.of(tp));
                    }
                }
                pending.removeIf(tp -> consumer.position(tp) >= end.get(tp));
            }
            if (!pending.isEmpty()) {
                LOG.warn("could not read the oldest unread record of {} within {} s; its age is left out", pending,
                        FETCH_TIMEOUT.toSeconds());
            }
        }
        return out;
    }

    private static <T> T get(KafkaFuture<T> future, String what) {
        try {
            return future.get(Topics.TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | InterruptedException | TimeoutException e) {
            throw failed(what, e);
        }
    }

    private static StreamingException failed(String what, Exception e) {
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            return new StreamingException("interrupted while trying to " + what, e);
        }
        if (e instanceof TimeoutException) {
            return new StreamingException("cannot " + what + ": no answer within " + Topics.TIMEOUT_MS / 1000
                    + " s", e);
        }
        Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
        return new StreamingException("cannot " + what + ": " + cause.getMessage(), cause);
    }

    @Override
    public void close() {
        admin.close(Duration.ofSeconds(5));
    }
}
