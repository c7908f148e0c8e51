package dev.scoreflow.jobs;

import dev.scoreflow.streaming.EmbeddedBroker;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A batch of outcomes whose transaction does not commit (its producer fenced between sending the batch and the
 * commit, as when a new incarnation of a killed worker takes over its transactional id) leaves nothing behind: every
 * job of the batch is delivered again and its result is stored once, and the old deliveries cannot store theirs.
 */
class KafkaOutcomeBatchFencedTest {
    static final int JOBS = 40;
    @TempDir
    static Path dir;
    static EmbeddedBroker broker;

    @BeforeAll
    static void startBroker() {
        broker = EmbeddedBroker.start(dir.resolve("kafka"), "127.0.0.1", 0,
                Map.of("transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000"));
    }

    @AfterAll
    static void stopBroker() {
        broker.close();
    }

    @Test
    void aBatchWhoseProducerIsFencedBeforeItsCommitIsDeliveredAgainAndEachResultIsStoredOnce() throws Exception {
        String name = "fenced-" + Long.toHexString(System.nanoTime());
        QueueSettings settings = new QueueSettings(Duration.ofSeconds(30), 5, false, Duration.ofHours(1));
        try (KafkaJobQueue q = KafkaJobQueue.open(broker.bootstrapServers(), name, settings, 3)) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < JOBS; i++) {
                ids.add(q.submit(JobRequest.seed("example", new byte[]{(byte) i})).id());
            }
            AtomicInteger fencedBatch = new AtomicInteger();
            q.deliveries().beforeCommit = (transactionalId, outcomes) -> {
                if (outcomes > 0 && fencedBatch.compareAndSet(0, outcomes)) {
                    fence(transactionalId);
                }
            };
            List<Delivery> first = receiveAll(q, JOBS);
            List<CompletableFuture<Boolean>> stored = new ArrayList<>();
            for (Delivery d : first) {
                stored.add(q.completeAsync(d, ("result of " + d.id()).getBytes(StandardCharsets.UTF_8), "text/plain"));
            }
            List<Delivery> refused = new ArrayList<>();
            for (int i = 0; i < first.size(); i++) {
                try {
                    assertThat(stored.get(i).get(30, TimeUnit.SECONDS)).isTrue();
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(QueueUnavailableException.class);
                    refused.add(first.get(i));
                }
            }
            assertThat(fencedBatch.get()).as("outcomes in the fenced batch").isPositive();
            assertThat(refused).as("the fenced batch's outcomes, and only they, fail").hasSize(fencedBatch.get());
            for (Delivery d : refused) {
                assertThat(q.get(d.id()).orElseThrow().state()).as("nothing of an aborted batch is visible")
                        .isNotEqualTo(JobState.DONE);
                assertThat(q.complete(d, new byte[]{1}, "text/plain")).as("the old delivery's lease is gone").isFalse();
            }

            List<Delivery> again = receiveAll(q, refused.size());
            assertThat(again).extracting(Delivery::id)
                    .containsExactlyInAnyOrderElementsOf(refused.stream().map(Delivery::id).toList());
            assertThat(again).allSatisfy(d -> assertThat(d.receives()).isEqualTo(2));
            for (Delivery d : again) {
                assertThat(q.completeAsync(d, ("result of " + d.id()).getBytes(StandardCharsets.UTF_8),
                        "text/plain").get(30, TimeUnit.SECONDS)).isTrue();
            }
            assertThat(q.receive(JOBS, Duration.ofMillis(500))).as("nothing left to deliver").isEmpty();

            Map<String, Integer> done = doneRecords(q.jobsTopic() + ".state");
            assertThat(done.keySet()).containsExactlyInAnyOrderElementsOf(ids);
            assertThat(done.values()).as("one committed result per job").containsOnly(1);
            for (String id : ids) {
                Job j = q.get(id).orElseThrow();
                assertThat(j.state()).isEqualTo(JobState.DONE);
                assertThat(new String(j.result(), StandardCharsets.UTF_8)).isEqualTo("result of " + id);
            }
        }
    }

    /** What a new incarnation of the worker does at start: takes over the id, which aborts the open transaction. */
    static void fence(String transactionalId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        try (KafkaProducer<byte[], byte[]> zombieKiller = new KafkaProducer<>(KafkaDeliveries.producerConfig(p))) {
            zombieKiller.initTransactions();
        }
    }

    static List<Delivery> receiveAll(KafkaJobQueue q, int n) throws InterruptedException {
        List<Delivery> got = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (got.size() < n) {
            assertThat(System.nanoTime()).as("%d deliveries within 60 s, got %d", n, got.size()).isLessThan(deadline);
            for (Delivery d : q.receive(n - got.size(), Duration.ofSeconds(1))) {
                assertThat(seen.add(d.id())).as("delivered twice while leased: " + d.id()).isTrue();
                got.add(d);
            }
        }
        return got;
    }

    /** Committed "done" records of the state topic per job, from its beginning to its end as it is now. */
    static Map<String, Integer> doneRecords(String topic) throws InterruptedException {
        Properties client = new Properties();
        client.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        Map<TopicPartition, Long> ends;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(client, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            ends = c.endOffsets(TopicTail.partitions(c, topic, Duration.ofSeconds(10)), Duration.ofSeconds(10));
        }
        Map<String, Integer> done = new ConcurrentHashMap<>();
        try (TopicTail tail = new TopicTail(client, topic, true, records -> records.forEach(r -> {
            String id = new String(r.key(), StandardCharsets.UTF_8);
            if (JobStateCodec.decode(id, r.value()).state() == JobState.DONE) {
                done.merge(id, 1, Integer::sum);
            }
        }), () -> {
            throw new AssertionError("the state topic's reader missed records");
        })) {
            assertThat(tail.awaitPositions(ends, Duration.ofSeconds(30))).as(topic + " read within 30 s").isTrue();
        }
        return done;
    }
}
