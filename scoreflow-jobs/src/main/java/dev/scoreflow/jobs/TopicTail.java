package dev.scoreflow.jobs;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;

/**
 * Reads every partition of one topic on a thread of its own, without a consumer group (so any number of readers each
 * see every record: publish-subscribe), committed records only, from the beginning or from the end. Hands each poll's
 * records to {@code handler}; after a failed poll it tells {@code missed} (records may have been skipped) and goes
 * on. {@link #awaitPositions} lets a caller wait until the reader has caught up to given offsets.
 */
final class TopicTail implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TopicTail.class);
    private static final Duration POLL = Duration.ofMillis(200);

    private final String topic;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Consumer<ConsumerRecords<byte[], byte[]>> handler;
    private final Runnable missed;
    private final Thread thread;
    private final Map<TopicPartition, Long> positions = new HashMap<>(); // guarded by this
    private volatile boolean closed;

    TopicTail(Properties clientConfig, String topic, boolean fromBeginning,
              Consumer<ConsumerRecords<byte[], byte[]>> handler, Runnable missed) {
        this.topic = topic;
        this.handler = handler;
        this.missed = missed;
        Properties p = new Properties();
        p.putAll(clientConfig);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        this.consumer = new KafkaConsumer<>(p);
        List<TopicPartition> parts = partitions(consumer, topic, Duration.ofSeconds(15));
        consumer.assign(parts);
        if (fromBeginning) {
            consumer.seekToBeginning(parts);
        } else {
            consumer.seekToEnd(parts);
            for (TopicPartition tp : parts) {
                consumer.position(tp, Duration.ofSeconds(15)); // "from now on" means now, not at the first poll
            }
        }
        this.thread = new Thread(this::run, "scoreflow-jobs-tail-" + topic);
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * The topic's partitions; a topic created a moment ago may not be in the metadata yet, so this asks again until
     * {@code timeout}. @throws KafkaException if it has none by then
     */
    static List<TopicPartition> partitions(KafkaConsumer<?, ?> consumer, String topic, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo i : consumer.partitionsFor(topic, timeout)) {
                parts.add(new TopicPartition(topic, i.partition()));
            }
            if (!parts.isEmpty()) {
                return parts;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new KafkaException("topic " + topic + " has no partitions after " + timeout.toSeconds() + " s");
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KafkaException("interrupted while looking up topic " + topic, e);
            }
        }
    }

    private void run() {
        boolean failed = false;
        while (!closed) {
            try {
                ConsumerRecords<byte[], byte[]> got = consumer.poll(POLL);
                if (failed) {
                    failed = false;
                    missed.run();
                }
                if (!got.isEmpty()) {
                    handler.accept(got);
                }
                Map<TopicPartition, Long> now = new HashMap<>();
                for (TopicPartition tp : consumer.assignment()) {
                    now.put(tp, consumer.position(tp, Duration.ofSeconds(5)));
                }
                synchronized (this) {
                    positions.putAll(now);
                    notifyAll();
                }
            } catch (WakeupException e) {
                // closing
            } catch (RuntimeException e) {
                if (!closed) {
                    // a broker away, or a listener that threw: never a tight loop of the same failure
                    LOG.warn("reading {} failed ({}); reading on in 1 s", topic, e.toString());
                    failed = true;
                    try {
                        Thread.sleep(1000);
                    } catch (InterruptedException ie) {
                        break;
                    }
                }
            }
        }
        consumer.close(Duration.ofSeconds(5));
    }

    /**
     * Waits until this reader has read up to {@code ends} (offsets of this topic's partitions, such as their
     * committed ends a moment ago). @return false if it did not within {@code timeout}
     */
    boolean awaitPositions(Map<TopicPartition, Long> ends, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (this) {
            while (true) {
                boolean caughtUp = true;
                for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
                    if (positions.getOrDefault(e.getKey(), -1L) < e.getValue()) {
                        caughtUp = false;
                        break;
                    }
                }
                long left = deadline - System.nanoTime();
                if (caughtUp || left <= 0) {
                    return caughtUp;
                }
                wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
