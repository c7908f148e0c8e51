package dev.scoreflow.jobs;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The worker side of a Kafka job queue: one consumer in the queue's consumer group (the worker pool) on a thread of
 * its own, which reads jobs and retries into a bounded buffer that {@code receive} hands out under leases, and
 * records outcomes exactly once: each outcome's state record (and retry or dead-letter record) goes out in one
 * transaction with the consumed offsets, so a worker killed before its commit leaves nothing behind and the job is
 * read again by whoever gets the partition next.
 *
 * <p>A partition's offset is committed up to its first unfinished job; jobs after it that are finished are skipped
 * when read again (their final state is in the state view, which is caught up before a newly assigned partition is
 * read). Leases are this process's: a job not finished within the visibility timeout is handed out again here; a
 * process that dies loses its partitions after the consumer session timeout, which is the visibility timeout too.
 */
final class KafkaDeliveries implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KafkaDeliveries.class);
    static final String ID = "scoreflow-id";
    static final String RECEIVES = "scoreflow-receives";
    static final String DUE = "scoreflow-due";
    static final String ERROR = "scoreflow-error";
    /** Jobs read but not finished at most; beyond, the partitions are paused (back-pressure on the broker side). */
    static final int MAX_BUFFERED = 512;
    /**
     * Outcomes committed in one transaction at most. A transaction costs a few round trips to the broker whatever it
     * holds, so workers that pipeline their outcomes ({@link JobQueue#completeAsync}) share them; more wait for the
     * next one.
     */
    static final int MAX_BATCH = 256;
    /**
     * The transactional producer's retry backoff. A transaction begun right after the last one's commit is refused
     * (CONCURRENT_TRANSACTIONS) until the coordinator has written its markers, a few ms; the client's default backoff
     * of 100 ms would idle the consumer thread, and every outcome with it, for most of that time.
     */
    static final int TRANSACTION_RETRY_BACKOFF_MS = 5;
    private static final Duration POLL = Duration.ofMillis(100);
    /** Offsets of skipped jobs are committed at least this often even when nothing finishes. */
    private static final long COMMIT_EVERY_NANOS = Duration.ofSeconds(1).toNanos();
    private static final Duration CATCH_UP = Duration.ofSeconds(30);

    /** A job read from a partition, until its outcome is committed. Guarded by the lock. */
    static final class Entry {
        final TopicPartition tp;
        final long offset;
        final String id;
        final byte[] message;
        final JobRequest request;
        int receives; // deliveries so far
        long dueMillis; // epoch ms before which it is not handed out (a delayed retry)
        String receipt; // the current delivery's, null if none
        long leaseEndNanos;
        boolean finishing; // an outcome is being committed

        Entry(TopicPartition tp, long offset, String id, byte[] message, JobRequest request, int receives,
              long dueMillis) {
            this.tp = tp;
            this.offset = offset;
            this.id = id;
            this.message = message;
            this.request = request;
            this.receives = receives;
            this.dueMillis = dueMillis;
        }
    }

    /** What a complete or fail call asks to commit. */
    record Outcome(Entry entry, String receipt, List<ProducerRecord<byte[], byte[]>> records, boolean retryInPlace,
                   Duration retryAfter, int receives, CompletableFuture<Boolean> done) {
    }

    private final KafkaTopics topics;
    private final QueueSettings settings;
    private final JobStateView view;
    private final Properties producerConfig;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private KafkaProducer<byte[], byte[]> transactions; // the consumer thread's
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition available = lock.newCondition();
    private final Map<TopicPartition, TreeMap<Long, Entry>> open = new HashMap<>(); // guarded by lock
    private final Map<TopicPartition, Long> next = new HashMap<>(); // guarded by lock: the offset after the last read
    private final Map<TopicPartition, Long> committed = new HashMap<>(); // the consumer thread's
    private final ArrayDeque<Outcome> outcomes = new ArrayDeque<>(); // guarded by lock
    private final Thread thread;
    private int buffered; // guarded by lock
    private boolean polling; // guarded by lock: the consumer thread is in (or about to enter) a poll that may wait
    private boolean wakeSent; // guarded by lock: that poll has been woken for an outcome already
    /**
     * Test hook: run on the consumer thread with the transactional id and the number of outcomes after a batch is
     * sent, before its commit (where a crash or a fencing hurts most).
     */
    volatile java.util.function.ObjIntConsumer<String> beforeCommit;
    private String transactionalId; // the consumer thread's
    private long nextCommitNanos = System.nanoTime();
    private volatile boolean closed;

    KafkaDeliveries(Properties clientConfig, KafkaTopics topics, QueueSettings settings, JobStateView view,
                    String group) {
        this.topics = topics;
        this.settings = settings;
        this.view = view;
        Properties c = new Properties();
        c.putAll(clientConfig);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        c.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic"); // the session timeout is the client's to set
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
        // the visibility timeout: a worker process that stops heartbeating loses its partitions (and so its jobs)
        int session = (int) settings.visibilityTimeout().toMillis();
        c.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, session);
        c.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, Math.max(30, session / 4));
        c.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, (int) Math.max(60_000, 2L * session));
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 100);
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        this.consumer = new KafkaConsumer<>(c);
        this.producerConfig = producerConfig(clientConfig);
        // a worker killed mid-commit holds back read_committed readers of the state topic until this passes
        producerConfig.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 10_000);
        this.thread = new Thread(this::run, "scoreflow-jobs-consumer-" + topics.jobs);
        thread.setDaemon(true);
        thread.start();
    }

    /** A producer that loses nothing it acknowledged and writes nothing twice: all replicas, idempotent. */
    static Properties producerConfig(Properties clientConfig) {
        Properties p = new Properties();
        p.putAll(clientConfig);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        return p;
    }

    private KafkaProducer<byte[], byte[]> newTransactionalProducer() {
        Properties p = new Properties();
        p.putAll(producerConfig);
        // fencing of zombies is by the consumer group's generation (KIP-447): the id need only be unique
        transactionalId = topics.jobs + "-" + UUID.randomUUID();
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        p.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, TRANSACTION_RETRY_BACKOFF_MS);
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p);
        producer.initTransactions();
        return producer;
    }

    private void run() {
        try {
            consumer.subscribe(List.of(topics.jobs, topics.retry), new Rebalance());
            while (!closed) {
                try {
                    if (transactions == null) {
                        transactions = newTransactionalProducer();
                    }
                    commitOutcomes();
                    ConsumerRecords<byte[], byte[]> got = poll();
                    take(got);
                    pauseOrResume();
                } catch (WakeupException e) {
                    // an outcome to commit, or closing
                } catch (org.apache.kafka.common.errors.InvalidSessionTimeoutException e) {
                    LOG.error("the broker refuses a consumer session of {} (the queue's visibility timeout): set its "
                            + "group.min.session.timeout.ms lower, or the visibility higher", settings.visibilityTimeout());
                    sleepQuietly(5000);
                } catch (KafkaException e) {
                    if (!closed) {
                        LOG.warn("queue {}: the consumer failed ({}); going on in 1 s", topics.jobs, e.toString());
                        sleepQuietly(1000);
                    }
                }
            }
        } finally {
            failPending();
            if (transactions != null) {
                transactions.close(Duration.ofSeconds(5));
            }
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /**
     * Polls, without waiting if outcomes are queued (more than one transaction's worth, or queued while committing).
     * A poll that waits is woken by the first outcome queued during it, and only by that one: waking the consumer
     * for every outcome would cost a selector wake-up each and abort broker requests the poll has in flight.
     */
    private ConsumerRecords<byte[], byte[]> poll() {
        Duration wait;
        lock.lock();
        try {
            polling = outcomes.isEmpty();
            wakeSent = false;
            wait = polling ? POLL : Duration.ZERO;
        } finally {
            lock.unlock();
        }
        try {
            return consumer.poll(wait);
        } finally {
            lock.lock();
            try {
                polling = false;
            } finally {
                lock.unlock();
            }
        }
    }

    /** Wakes a waiting poll for a queued outcome, once per poll. Holds the lock. */
    private void wakeForOutcome() {
        if (polling && !wakeSent) {
            wakeSent = true;
            consumer.wakeup();
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Adds the polled jobs to the buffer, skipping those already finished (read again after a restart). */
    private void take(ConsumerRecords<byte[], byte[]> got) {
        if (got.isEmpty()) {
            return;
        }
        lock.lock();
        try {
            for (ConsumerRecord<byte[], byte[]> r : got) {
                TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                next.put(tp, r.offset() + 1);
                String id = header(r, ID);
                JobRequest request;
                try {
                    request = JobRequestCodec.decode(r.value());
                } catch (IllegalArgumentException e) {
                    LOG.warn("queue {}: skipping an unreadable job at {}@{}: {}", topics.jobs, tp, r.offset(),
                            e.getMessage());
                    continue;
                }
                if (id == null || view.get(id).map(j -> j.state().isFinal()).orElse(false)) {
                    continue; // finished before (its offset was not yet committed), or not ours
                }
                String receives = header(r, RECEIVES);
                String due = header(r, DUE);
                Entry e = new Entry(tp, r.offset(), id, r.value(), request,
                        receives == null ? 0 : Integer.parseInt(receives), due == null ? 0 : Long.parseLong(due));
                open.computeIfAbsent(tp, k -> new TreeMap<>()).put(r.offset(), e);
                buffered++;
            }
            available.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private void pauseOrResume() {
        int n;
        lock.lock();
        try {
            n = buffered;
        } finally {
            lock.unlock();
        }
        Set<TopicPartition> assigned = consumer.assignment();
        if (n >= MAX_BUFFERED) {
            consumer.pause(assigned);
        } else if (!consumer.paused().isEmpty()) {
            consumer.resume(consumer.paused());
        }
    }

    /**
     * Hands out up to {@code max} buffered jobs that are due and not leased (in FIFO queues only the first unfinished
     * job of each group in each partition), each leased for the visibility timeout; waits up to {@code wait} for one.
     * Jobs that would exceed the maximum of receives are dead-lettered instead.
     */
    List<Delivery> receive(int max, Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        lock.lock();
        try {
            while (true) {
                List<Delivery> out = new ArrayList<>();
                long wake = scan(max, out);
                long left = deadline - System.nanoTime();
                if (!out.isEmpty() || left <= 0 || closed) {
                    return out;
                }
                available.awaitNanos(Math.min(left, wake));
            }
        } finally {
            lock.unlock();
        }
    }

    /** Fills {@code out}; returns the nanoseconds until a buffered job may become due. Holds the lock. */
    private long scan(int max, List<Delivery> out) {
        long nowNanos = System.nanoTime();
        long nowMillis = System.currentTimeMillis();
        long wake = Duration.ofSeconds(1).toNanos();
        for (TreeMap<Long, Entry> partition : open.values()) {
            Set<String> groupsSeen = settings.fifo() ? new HashSet<>() : null;
            for (Entry e : partition.values()) {
                if (out.size() >= max) {
                    return wake;
                }
                if (groupsSeen != null && !groupsSeen.add(String.valueOf(e.request.group()))) {
                    continue; // an earlier job of its group is not finished
                }
                if (e.finishing) {
                    continue;
                }
                if (e.receipt != null && e.leaseEndNanos - nowNanos > 0) {
                    wake = Math.min(wake, e.leaseEndNanos - nowNanos);
                    continue;
                }
                if (e.dueMillis > nowMillis) {
                    wake = Math.min(wake, (e.dueMillis - nowMillis) * 1_000_000);
                    continue;
                }
                Job known = view.get(e.id).orElse(null);
                if (known != null && known.state().isFinal()) {
                    e.finishing = true; // cancelled, or finished by another worker: only its offset is left
                    outcomes.add(new Outcome(e, null, List.of(), false, null, e.receives, new CompletableFuture<>()));
                    wakeForOutcome();
                    continue;
                }
                int receives = Math.max(e.receives, known == null ? 0 : known.receives()) + 1;
                if (receives > settings.maxReceives()) {
                    e.finishing = true;
                    String why = (known != null && known.error() != null ? known.error() + "; " : "")
                            + "not finished within the visibility timeout in " + (receives - 1) + " receives";
                    outcomes.add(deadLetter(e, null, why, receives - 1, new CompletableFuture<>()));
                    wakeForOutcome();
                    LOG.warn("queue {}: job {} dead-lettered: {}", topics.jobs, e.id, why);
                    continue;
                }
                e.receives = receives;
                e.receipt = UUID.randomUUID().toString();
                e.leaseEndNanos = nowNanos + settings.visibilityTimeout().toNanos();
                out.add(new Delivery(e.id, e.receipt, e.request, receives));
            }
        }
        return wake;
    }

    /** The entry of a delivery if its lease is still its own, else null. Holds the lock. */
    private Entry current(Delivery d) {
        for (TreeMap<Long, Entry> partition : open.values()) {
            for (Entry e : partition.values()) {
                if (e.id.equals(d.id()) && d.receipt().equals(e.receipt) && !e.finishing
                        && e.leaseEndNanos - System.nanoTime() > 0) {
                    return e;
                }
            }
        }
        return null;
    }

    /** Queues an outcome for the next transaction; false at once if the delivery's lease has passed. */
    CompletableFuture<Boolean> finish(Delivery d, java.util.function.Function<Entry, Outcome> outcome) {
        Outcome o;
        lock.lock();
        try {
            Entry e = current(d);
            if (e == null) {
                return CompletableFuture.completedFuture(false);
            }
            e.finishing = true;
            o = outcome.apply(e);
            outcomes.add(o);
            wakeForOutcome();
        } finally {
            lock.unlock();
        }
        return o.done();
    }

    Outcome deadLetter(Entry e, String receipt, String error, int receives, CompletableFuture<Boolean> done) {
        ProducerRecord<byte[], byte[]> dead = new ProducerRecord<>(topics.dead, e.id.getBytes(StandardCharsets.UTF_8),
                e.message);
        dead.headers().add(ID, e.id.getBytes(StandardCharsets.UTF_8));
        dead.headers().add(RECEIVES, Integer.toString(receives).getBytes(StandardCharsets.UTF_8));
        dead.headers().add(ERROR, error.getBytes(StandardCharsets.UTF_8));
        return new Outcome(e, receipt, List.of(dead, stateRecord(e, JobState.DEAD_LETTERED, receives, error, null, null)),
                false, null, receives, done);
    }

    ProducerRecord<byte[], byte[]> stateRecord(Entry e, JobState state, int receives, String error, byte[] result,
                                               String resultType) {
        Job before = view.get(e.id).orElse(null);
        java.time.Instant now = java.time.Instant.now();
        Job j = new Job(e.id, e.request.model(), state, receives, error, result, resultType,
                before == null ? now : before.submitted(), now, before == null ? null : before.callbacks());
        return new ProducerRecord<>(topics.state, e.id.getBytes(StandardCharsets.UTF_8), JobStateCodec.encode(j));
    }

    ProducerRecord<byte[], byte[]> retryRecord(Entry e, int receives, Duration after) {
        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topics.retry, key(e.request, e.id), e.message);
        r.headers().add(ID, e.id.getBytes(StandardCharsets.UTF_8));
        r.headers().add(RECEIVES, Integer.toString(receives).getBytes(StandardCharsets.UTF_8));
        r.headers().add(DUE, Long.toString(System.currentTimeMillis() + after.toMillis())
                .getBytes(StandardCharsets.UTF_8));
        return r;
    }

    /** The record key: the message group (one partition, in order), or in a standard queue the id (spread). */
    static byte[] key(JobRequest r, String id) {
        return (r.group() != null ? r.group() : id).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * On the consumer thread: commits the queued outcomes (the oldest {@link #MAX_BATCH}) and the offsets they free in
     * one transaction, then completes their futures; if the commit fails, none of them counts: their futures fail and
     * their jobs are handed out again at once. @return false if a commit failed
     */
    private boolean commitOutcomes() {
        List<Outcome> batch = new ArrayList<>();
        lock.lock();
        try {
            for (int i = 0; i < MAX_BATCH && !outcomes.isEmpty(); i++) {
                batch.add(outcomes.poll());
            }
        } finally {
            lock.unlock();
        }
        long now = System.nanoTime();
        if (batch.isEmpty() && now - nextCommitNanos < 0) {
            return true;
        }
        nextCommitNanos = now + COMMIT_EVERY_NANOS;
        Map<TopicPartition, OffsetAndMetadata> offsets;
        lock.lock();
        try {
            offsets = offsetsAfter(batch);
        } finally {
            lock.unlock();
        }
        if (batch.isEmpty() && offsets.isEmpty()) {
            return true;
        }
        try {
            transactions.beginTransaction();
            for (Outcome o : batch) {
                for (ProducerRecord<byte[], byte[]> r : o.records()) {
                    transactions.send(r);
                }
            }
            if (!offsets.isEmpty()) {
                transactions.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
            }
            java.util.function.ObjIntConsumer<String> hook = beforeCommit;
            if (hook != null) {
                hook.accept(transactionalId, batch.size());
            }
            transactions.commitTransaction();
        } catch (KafkaException | IllegalStateException e) {
            LOG.warn("queue {}: committing {} outcomes failed ({}); their jobs will run again", topics.jobs,
                    batch.size(), e.toString());
            try {
                transactions.abortTransaction();
            } catch (KafkaException | IllegalStateException again) {
                transactions.close(Duration.ZERO); // fenced or broken: a new one next time round
                transactions = null;
            }
            lock.lock();
            try {
                // a commit that timed out may have gone through: its jobs wait for their leases, by when the state
                // view knows (and they are skipped) if it did; any other failure is certain, they go out at once
                boolean certain = !(e instanceof org.apache.kafka.common.errors.TimeoutException);
                for (Outcome o : batch) {
                    restore(o.entry(), certain);
                    o.done().completeExceptionally(new QueueUnavailableException("the outcome of job "
                            + o.entry().id + " was not committed: " + e.getMessage(), e));
                }
            } finally {
                lock.unlock();
            }
            return false;
        }
        lock.lock();
        try {
            offsets.forEach((tp, o) -> committed.put(tp, o.offset()));
            for (Outcome o : batch) {
                Entry e = o.entry();
                if (o.retryInPlace()) {
                    e.finishing = false;
                    e.receipt = null;
                    e.dueMillis = System.currentTimeMillis() + o.retryAfter().toMillis();
                }
                o.done().complete(true);
            }
            available.signalAll();
        } finally {
            lock.unlock();
        }
        return true;
    }

    /**
     * Removes the finished entries of {@code batch} (tentatively: a failed commit restores them) and
     * returns each partition's new committable offset (its first unfinished job) where it moved. Holds the lock.
     */
    private Map<TopicPartition, OffsetAndMetadata> offsetsAfter(List<Outcome> batch) {
        for (Outcome o : batch) {
            if (!o.retryInPlace()) {
                TreeMap<Long, Entry> partition = open.get(o.entry().tp);
                if (partition != null && partition.remove(o.entry().offset) != null) {
                    buffered--;
                }
            }
        }
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (Map.Entry<TopicPartition, Long> n : next.entrySet()) {
            TreeMap<Long, Entry> partition = open.get(n.getKey());
            long first = partition == null || partition.isEmpty() ? n.getValue() : partition.firstKey();
            if (first > committed.getOrDefault(n.getKey(), -1L)) {
                offsets.put(n.getKey(), new OffsetAndMetadata(first));
            }
        }
        return offsets;
    }

    /**
     * An entry whose outcome was not committed goes back to the buffer (offsetsAfter took it out), unless its partition
     * has gone meanwhile; {@code now}: unleased, so that it is handed out again at once. Holds the lock.
     */
    private void restore(Entry e, boolean now) {
        e.finishing = false;
        if (now) {
            e.receipt = null;
        }
        TreeMap<Long, Entry> partition = open.get(e.tp);
        if (partition != null && next.containsKey(e.tp) && partition.putIfAbsent(e.offset, e) == null) {
            buffered++;
        }
        available.signalAll();
    }

    /** Closing: outcomes not committed are answered "unavailable"; their jobs run again elsewhere. */
    private void failPending() {
        lock.lock();
        try {
            for (Outcome o : outcomes) {
                o.done().completeExceptionally(new QueueUnavailableException("the queue was closed", null));
            }
            outcomes.clear();
        } finally {
            lock.unlock();
        }
    }

    /** Partitions moving away: what finished is committed first; the rest is someone else's now. */
    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> parts) {
            if (transactions != null) {
                try {
                    // all of them: an outcome left behind here is lost with the partition, and its job scored again
                    boolean more = true;
                    while (more && commitOutcomes()) {
                        lock.lock();
                        try {
                            more = !outcomes.isEmpty();
                        } finally {
                            lock.unlock();
                        }
                    }
                } catch (RuntimeException e) {
                    LOG.warn("queue {}: could not commit before giving up partitions: {}", topics.jobs, e.toString());
                }
            }
            drop(parts);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> parts) {
            drop(parts);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> parts) {
            if (parts.isEmpty()) {
                return;
            }
            // jobs finished by the partition's last owner past its committed offset must be known before they are
            // read again, or they would run twice: catch up with the state topic as it is now
            for (int attempt = 0; ; attempt++) {
                try {
                    List<TopicPartition> state = TopicTail.partitions(consumer, topics.state, CATCH_UP);
                    Map<TopicPartition, Long> ends = consumer.endOffsets(state, CATCH_UP);
                    if (!view.awaitPositions(ends, CATCH_UP)) {
                        LOG.warn("queue {}: the state view did not catch up within {}; finished jobs may run again",
                                topics.jobs, CATCH_UP);
                    }
                    break;
                } catch (WakeupException e) {
                    // an outcome queued during this poll woke it (once per poll): the catch-up must still happen
                    if (attempt >= 2 || closed) {
                        throw e;
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            lock.lock();
            try {
                for (TopicPartition tp : parts) {
                    committed.remove(tp);
                }
            } finally {
                lock.unlock();
            }
        }

        private void drop(Collection<TopicPartition> parts) {
            lock.lock();
            try {
                for (TopicPartition tp : parts) {
                    TreeMap<Long, Entry> gone = open.remove(tp);
                    if (gone != null) {
                        buffered -= gone.size();
                    }
                    next.remove(tp);
                    committed.remove(tp);
                }
                // outcomes of dropped entries cannot commit their offsets any more
                for (Iterator<Outcome> i = outcomes.iterator(); i.hasNext(); ) {
                    Outcome o = i.next();
                    if (parts.contains(o.entry().tp)) {
                        i.remove();
                        o.done().complete(false);
                    }
                }
            } finally {
                lock.unlock();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        consumer.wakeup();
        lock.lock();
        try {
            available.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            thread.join(15_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
