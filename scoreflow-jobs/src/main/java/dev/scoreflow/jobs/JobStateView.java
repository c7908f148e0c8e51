package dev.scoreflow.jobs;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * This process's copy of the Kafka queue's state topic: every job's latest state, read (committed records only)
 * from the beginning of the compacted topic and kept up to date, so {@code get}, {@code cancel} and long polling
 * answer from memory. Finished jobs are dropped from memory {@code keepFinished} after their last update (the
 * memory bound; the topic itself is compacted and deleted by its own retention). A final state is never replaced by
 * a non-final one (a late "running" mark of a worker that lost its partition must not revive a finished job).
 * Calls the finished-job listeners once per job that reaches a final state, and with null after a read failed.
 */
final class JobStateView implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobStateView.class);
    private static final long EVICT_EVERY_NANOS = Duration.ofMinutes(1).toNanos();

    private final Map<String, Job> jobs = new ConcurrentHashMap<>();
    private final List<Consumer<String>> finishedListeners = new CopyOnWriteArrayList<>();
    private final Duration keepFinished;
    private final TopicTail tail;
    private long nextEvictionNanos = System.nanoTime() + EVICT_EVERY_NANOS; // the tail's thread only

    JobStateView(Properties clientConfig, String stateTopic, Duration keepFinished) {
        this.keepFinished = keepFinished;
        this.tail = new TopicTail(clientConfig, stateTopic, true, this::apply,
                () -> finishedListeners.forEach(l -> l.accept(null)));
    }

    private void apply(ConsumerRecords<byte[], byte[]> records) {
        for (ConsumerRecord<byte[], byte[]> r : records) {
            if (r.key() == null) {
                continue;
            }
            String id = new String(r.key(), StandardCharsets.UTF_8);
            if (r.value() == null) {
                jobs.remove(id);
                continue;
            }
            Job j;
            try {
                j = JobStateCodec.decode(id, r.value());
            } catch (IllegalArgumentException e) {
                LOG.warn("skipping an unreadable job state at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(),
                        e.getMessage());
                continue;
            }
            if (put(j)) {
                finishedListeners.forEach(l -> l.accept(id));
            }
        }
        long now = System.nanoTime();
        if (now - nextEvictionNanos >= 0) {
            nextEvictionNanos = now + EVICT_EVERY_NANOS;
            Instant before = Instant.now().minus(keepFinished);
            jobs.values().removeIf(j -> j.state().isFinal() && j.updated().isBefore(before));
        }
    }

    /** Records {@code j} unless a final state is already known. @return true if {@code j} finished the job */
    boolean put(Job j) {
        boolean[] finished = {false};
        jobs.compute(j.id(), (id, old) -> {
            if (old != null && old.state().isFinal() && !j.state().isFinal()) {
                return old;
            }
            finished[0] = j.state().isFinal() && (old == null || !old.state().isFinal());
            return j;
        });
        return finished[0];
    }

    /** Records a just-submitted job unless the topic already told more of it. */
    void putIfAbsent(Job j) {
        jobs.putIfAbsent(j.id(), j);
    }

    Optional<Job> get(String id) {
        return Optional.ofNullable(jobs.get(id));
    }

    void onFinished(Consumer<String> listener) {
        finishedListeners.add(listener);
    }

    /** Waits until the view has read the state topic up to {@code ends}. @return false if not within timeout */
    boolean awaitPositions(Map<TopicPartition, Long> ends, Duration timeout) throws InterruptedException {
        return tail.awaitPositions(ends, timeout);
    }

    @Override
    public void close() {
        tail.close();
    }
}
