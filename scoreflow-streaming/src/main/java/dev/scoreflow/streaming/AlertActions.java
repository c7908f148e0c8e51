package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Json;
import dev.scoreflow.streaming.internal.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * What the stream app does with its alerts besides writing them: reads the alerts topic as consumer group
 * {@code <application-id>-alerts} and, for each committed alert record in order, runs every configured
 * {@link AlertAction} (webhooks, then the command), each retried with exponential backoff up to
 * {@link Settings#attempts} attempts. After its last attempt an action is logged as failed, counted, and left: an
 * action that never succeeds does not hold back the alerts after it. The group's offset is committed after each
 * record's actions, so actions are at least once (a crash between an action and the commit repeats it; the
 * {@code Idempotency-Key} lets a webhook drop the repeat). The alerts topic has one partition, so of the app's
 * instances, exactly one acts at a time.
 *
 * <p>The first start of the group (no committed offset) begins at the end of the topic: alerts written before
 * actions were configured are not acted on. A record that is not an alert is logged, counted and skipped.
 *
 * <p>{@link #start} and {@link #close} are for one owner; {@link #handle} runs on the actions' thread (or a test's).
 */
final class AlertActions implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AlertActions.class);
    /** Larger records are not alerts (an alert is a few hundred bytes). */
    static final int MAX_RECORD_BYTES = 64 * 1024;
    /** What an alert id, rule and state may hold: visible ASCII, so they fit a header and the environment. */
    private static final Pattern TOKEN = Pattern.compile("[\\x21-\\x7E]{1,256}");
    static final Duration FIRST_BACKOFF = Duration.ofMillis(500);
    static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
    static final int DEFAULT_ATTEMPTS = 6;
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);

    /** Waits between attempts; tests record the waits instead. */
    interface Sleeper {
        Sleeper SYSTEM = d -> Thread.sleep(d.toMillis());

        void sleep(Duration d) throws InterruptedException;
    }

    /**
     * The actions: POSTs to {@code webhooks}, and {@code command} (null: none), each attempted up to
     * {@code attempts} times with {@code timeout} per attempt; {@code firingOnly}: act on {@code firing} alerts
     * only, not on {@code resolved} ones.
     */
    record Settings(List<URI> webhooks, String command, int attempts, Duration timeout, boolean firingOnly) {
        Settings {
            webhooks = List.copyOf(webhooks);
            webhooks.forEach(AlertAction.Webhook::checkUrl);
            if (command != null) {
                AlertAction.Command.checkCommand(command);
            }
            if (attempts < 1 || attempts > 100) {
                throw new IllegalArgumentException("alert action attempts must be in [1, 100], was " + attempts);
            }
            if (timeout.toMillis() < 1 || timeout.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("the alert action timeout must be in [1 ms, 1 h], was " + timeout);
            }
        }

        List<AlertAction> actions() {
            List<AlertAction> out = new ArrayList<>();
            webhooks.forEach(u -> out.add(new AlertAction.Webhook(u, timeout)));
            if (command != null) {
                out.add(new AlertAction.Command(command, timeout));
            }
            return out;
        }

        /** The longest one record's actions can take (every attempt timing out), to keep the group membership. */
        Duration worstCase() {
            Duration one = timeout.multipliedBy(2L * attempts); // a webhook: connect, then answer
            for (int a = 1; a < attempts; a++) {
                one = one.plus(backoff(a));
            }
            return one.multipliedBy(webhooks.size() + (command == null ? 0 : 1));
        }
    }

    /** An alert record: its id, rule, state, value (JSON number text, empty if none) and the record's bytes. */
    record Alert(String id, String rule, String state, String value, byte[] json) {
        /** @throws IllegalArgumentException saying why {@code record} is not an alert */
        static Alert parse(byte[] record) {
            if (record == null) {
                throw new IllegalArgumentException("no value");
            }
            if (record.length > MAX_RECORD_BYTES) {
                throw new IllegalArgumentException(record.length + " bytes, more than " + MAX_RECORD_BYTES);
            }
            Map<String, Object> a;
            try {
                a = Json.parseObject(ByteBuffer.wrap(record), "an alert");
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(e.getMessage(), e);
            }
            Object value = a.get("value");
            if (value != null && !(value instanceof Double)) {
                throw new IllegalArgumentException("value must be a number or null, was " + Json.typeName(value));
            }
            return new Alert(token(a, "alert_id"), token(a, "rule"), token(a, "state"),
                    value == null ? "" : Json.write(value), record);
        }

        private static String token(Map<String, Object> a, String field) {
            Object v = a.get(field);
            if (!(v instanceof String s) || !TOKEN.matcher(s).matches()) {
                throw new IllegalArgumentException(field + " must be a string of 1 to 256 visible ASCII characters, "
                        + "was " + (v instanceof String ? "'" + v + "'" : Json.typeName(v)));
            }
            return s;
        }
    }

    private final Settings settings;
    private final List<AlertAction> actions;
    private final StreamMetrics metrics;
    private final Sleeper sleeper;
    private KafkaConsumer<byte[], byte[]> consumer;
    private Thread thread;
    private volatile boolean running;
    /** Guards {@link #acting}: {@link #close} interrupts the thread only while it acts, never inside the consumer. */
    private final Object actingLock = new Object();
    private boolean acting;

    AlertActions(Settings settings, StreamMetrics metrics, Sleeper sleeper) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.actions = settings.actions();
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
    }

    /** The wait after failed attempt {@code attempt} (1-based): 0.5 s, doubling, at most 30 s. */
    static Duration backoff(int attempt) {
        int doublings = Math.min(attempt - 1, 16); // 0.5 s * 2^16 is far past the cap
        Duration d = FIRST_BACKOFF.multipliedBy(1L << doublings);
        return d.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : d;
    }

    /**
     * Starts acting on the alerts of {@code topic} as {@code group}, on a daemon thread.
     *
     * @throws StreamingException if the cluster cannot tell or set where the group starts
     */
    synchronized void start(Properties client, String group, String topic) {
        if (thread != null) {
            throw new IllegalStateException("already started");
        }
        startAtEndIfNew(client, group, topic);
        Properties p = new Properties();
        p.putAll(client);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // only alerts of committed transactions
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // where the committed offset is gone (retention deleted unread alerts): the oldest still there
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
        // one record's actions, every attempt timing out, must not cost the group membership
        long maxPoll = Math.max(300_000, settings.worstCase().plusMinutes(1).toMillis());
        p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, (int) Math.min(Integer.MAX_VALUE, maxPoll));
        consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.subscribe(List.of(topic));
        running = true;
        thread = new Thread(this::loop, "stream-alert-actions");
        thread.setDaemon(true);
        thread.start();
        List<String> names = new ArrayList<>();
        actions.forEach(a -> names.add(a.describe()));
        LOG.info("alert actions on {} as group {}: {}, {} attempts, {} alerts", topic, group, names,
                settings.attempts(), settings.firingOnly() ? "firing" : "firing and resolved");
    }

    /** A group that has never committed starts at the topic's end (committed transactions): no history replayed. */
    private static void startAtEndIfNew(Properties client, String group, String topic) {
        try (Admin admin = Topics.admin(client)) {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(Topics.TIMEOUT_MS, TimeUnit.MILLISECONDS);
            Map<TopicPartition, OffsetSpec> missing = new HashMap<>();
            for (int i = 0; i < Topics.partitions(admin, topic); i++) {
                TopicPartition tp = new TopicPartition(topic, i);
                if (committed.get(tp) == null) {
                    missing.put(tp, OffsetSpec.latest());
                }
            }
            if (missing.isEmpty()) {
                return;
            }
            Map<TopicPartition, OffsetAndMetadata> ends = new HashMap<>();
            admin.listOffsets(missing, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all()
                    .get(Topics.TIMEOUT_MS, TimeUnit.MILLISECONDS)
                    .forEach((tp, info) -> ends.put(tp, new OffsetAndMetadata(info.offset())));
            try {
                admin.alterConsumerGroupOffsets(group, ends).all().get(Topics.TIMEOUT_MS, TimeUnit.MILLISECONDS);
                LOG.info("alert actions group {} is new: it starts at the end of {}: {}", group, topic, ends);
            } catch (ExecutionException e) {
                // another instance is in the group already (it acts; this one waits its turn from its offsets)
                LOG.info("alert actions group {} is active elsewhere: {}", group, e.getCause().toString());
            }
        } catch (ExecutionException e) {
            throw new StreamingException("cannot read the offsets of group " + group + " on " + topic + ": "
                    + e.getCause().getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StreamingException("interrupted while reading the offsets of group " + group, e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new StreamingException("the offsets of group " + group + " on " + topic + " did not come within "
                    + Topics.TIMEOUT_MS + " ms", e);
        }
    }

    private void loop() {
        try {
            while (running) {
                List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
                try {
                    consumer.poll(Duration.ofSeconds(1)).forEach(records::add);
                } catch (WakeupException | InterruptException e) {
                    break;
                } catch (KafkaException e) {
                    // the cluster away for a moment, a rebalance: the next poll tries again
                    LOG.warn("alert actions: polling {} failed: {}", consumer.subscription(), e.toString());
                    sleeper.sleep(Duration.ofSeconds(1));
                    continue;
                }
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    synchronized (actingLock) {
                        if (!running) {
                            return;
                        }
                        acting = true;
                    }
                    try {
                        handle(r.value());
                    } finally {
                        synchronized (actingLock) {
                            acting = false;
                            Thread.interrupted(); // an interrupt meant for the actions stops here
                        }
                    }
                    commit(new TopicPartition(r.topic(), r.partition()), r.offset() + 1);
                }
            }
        } catch (InterruptedException | WakeupException | InterruptException e) {
            // closing: the record in hand is not committed, so whoever acts next repeats it
            LOG.info("alert actions stopping");
        } catch (RuntimeException e) {
            LOG.error("alert actions stopped by an unexpected failure", e);
        } finally {
            try {
                consumer.close(Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                LOG.debug("alert actions: closing the consumer: {}", e.toString());
            }
        }
    }

    private void commit(TopicPartition tp, long next) {
        Map<TopicPartition, OffsetAndMetadata> offsets = Map.of(tp, new OffsetAndMetadata(next));
        try {
            consumer.commitSync(offsets);
        } catch (WakeupException e) {
            // closing, and this alert's actions are done: commit them still (the wakeup is spent), then stop
            try {
                consumer.commitSync(offsets, Duration.ofSeconds(5));
            } catch (KafkaException again) {
                LOG.info("alert actions: offset {} of {} not committed while closing: {}", next, tp, again.toString());
            }
            throw e;
        } catch (CommitFailedException | RebalanceInProgressException e) {
            // the partition moved on: its new owner starts from the last commit, and repeats this alert's actions
            LOG.info("alert actions: offset {} of {} not committed ({}); another instance may repeat it", next, tp,
                    e.getClass().getSimpleName());
        } catch (KafkaException e) {
            // a later commit covers this one; if none comes before a restart, the alert's actions are repeated
            LOG.warn("alert actions: offset {} of {} not committed: {}", next, tp, e.toString());
        }
    }

    /**
     * Runs every action for one alert record, each retried up to the attempts; a record that is not an alert is
     * logged and counted. Returns normally whatever the actions did.
     *
     * @throws InterruptedException if interrupted (closing): the remaining attempts and actions are not made
     */
    void handle(byte[] record) throws InterruptedException {
        Alert alert;
        try {
            alert = Alert.parse(record);
        } catch (IllegalArgumentException e) {
            metrics.alertRecordsMalformed.inc(1);
            LOG.warn("alert actions: skipping a record that is not an alert: {}", e.getMessage());
            return;
        }
        if (settings.firingOnly() && !alert.state().equals("firing")) {
            return;
        }
        for (AlertAction a : actions) {
            act(a, alert);
        }
    }

    private void act(AlertAction action, Alert alert) throws InterruptedException {
        for (int attempt = 1; ; attempt++) {
            String failure = action.run(alert);
            if (failure == null) {
                metrics.alertActionsDone.inc(1, action.kind());
                if (attempt > 1) {
                    LOG.info("alert {}: {} succeeded at attempt {}", alert.id(), action.describe(), attempt);
                }
                return;
            }
            if (attempt >= settings.attempts()) {
                metrics.alertActionsFailed.inc(1, action.kind());
                LOG.error("alert {}: {} failed {} times, giving up; the last: {}", alert.id(), action.describe(),
                        attempt, failure);
                return;
            }
            Duration wait = backoff(attempt);
            metrics.alertActionRetries.inc(1, action.kind());
            LOG.warn("alert {}: {} attempt {} of {} failed ({}); again in {} ms", alert.id(), action.describe(),
                    attempt, settings.attempts(), failure, wait.toMillis());
            sleeper.sleep(wait);
        }
    }

    /**
     * Stops acting: wakes the consumer, interrupts the actions in progress (their alert is not committed, so they
     * are repeated by whoever acts next), and waits up to {@link #CLOSE_TIMEOUT} for the thread to leave the group.
     */
    @Override
    public synchronized void close() {
        if (thread == null) {
            return;
        }
        running = false;
        consumer.wakeup();
        synchronized (actingLock) {
            if (acting) {
                thread.interrupt();
            }
        }
        try {
            thread.join(CLOSE_TIMEOUT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("alert actions did not stop within {} ms", CLOSE_TIMEOUT.toMillis());
        }
        thread = null;
    }
}
