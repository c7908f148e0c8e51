package dev.scoreflow.streaming;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.api.internal.Metrics;
import dev.scoreflow.streaming.internal.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.scoreflow.streaming.KafkaScoringClient.CORRELATION_ID_HEADER;
import static dev.scoreflow.streaming.KafkaScoringClient.ERROR_HEADER;
import static dev.scoreflow.streaming.KafkaScoringClient.ERROR_KIND_HEADER;
import static dev.scoreflow.streaming.KafkaScoringClient.REPLY_TO_HEADER;

/**
 * Scoring as asynchronous request-reply over Kafka: reads scoring requests from a topic as a member of a consumer
 * group (instances of one group share the partitions), scores each in-process and writes the reply to the topic the
 * request names.
 *
 * <p>A request's value is a seed-binary body (little-endian float32 rows of the model's feature count), with headers
 * {@value KafkaScoringClient#CORRELATION_ID_HEADER} (required) and {@value KafkaScoringClient#REPLY_TO_HEADER} (the
 * reply topic; default: the service's). The reply carries the same correlation id and, as its value, the
 * little-endian float32 scores; a request that cannot be scored gets instead a reply with an empty value and headers
 * {@value KafkaScoringClient#ERROR_HEADER} (the reason) and {@value KafkaScoringClient#ERROR_KIND_HEADER}
 * ({@code bad_input} or {@code failed}). A request without a correlation id cannot be answered: it is counted,
 * logged and skipped.
 *
 * <p>Delivery is at least once: the offsets of what one poll returned are committed only after every reply to it
 * is acknowledged by the broker (acks=all, idempotent producer). If a reply cannot be written, the partitions are
 * rewound to the first uncommitted request, which is then answered again; after a crash or a rebalance, requests
 * whose replies were written but not committed are answered again too. Clients drop such duplicates by
 * correlation id (as {@link KafkaScoringClient} does).
 *
 * <p>One thread ({@link #run}) does everything; a poll returns at most {@code maxPollRecords} requests, scored one
 * model call per request. {@link #close} may be called from any thread. Every failure is logged through SLF4J.
 *
 * <p>Built with {@link #builder}; {@link #run} serves on the caller's thread until {@link #close}.
 */
public final class KafkaScoringService implements Runnable, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KafkaScoringService.class);
    static final Duration POLL = Duration.ofMillis(100);

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final KafkaProducer<byte[], byte[]> producer;
    private final Model model;
    private final int features;
    private final String requestTopic;
    private final String defaultReplyTopic;
    private volatile boolean closing;
    private volatile boolean running;
    private volatile Set<TopicPartition> assigned = Set.of();
    private final Object stopped = new Object();

    final Metrics metrics = new Metrics();
    /** Requests read (answered or not). */
    final Metrics.Counter requests = metrics.counter("scoreflow_rpc_requests_total", "requests read");
    /** Replies acknowledged by the broker, by outcome: scored, bad_input, failed. */
    final Metrics.Counter replies = metrics.counter("scoreflow_rpc_replies_total",
            "replies written and acknowledged, by outcome (scored, bad_input, failed)", "outcome");
    /** Requests no reply could be sent for, by reason: no_correlation_id, no_reply_topic, send_failed. */
    final Metrics.Counter unanswered = metrics.counter("scoreflow_rpc_unanswered_total",
            "requests that got no reply, by reason (no_correlation_id, no_reply_topic, send_failed)", "reason");
    final Metrics.Counter rows = metrics.counter("scoreflow_rpc_rows_scored_total", "rows scored");

    /**
     * A service on {@code client} (bootstrap servers, security) for {@code model}. It neither creates topics nor
     * closes the model.
     *
     * @param defaultReplyTopic where requests without {@value KafkaScoringClient#REPLY_TO_HEADER} are answered, or
     *                          null: such requests are not answered
     * @param maxPollRecords    requests handled per poll, and so the most replies awaited before a commit
     */
    KafkaScoringService(Properties client, Model model, String requestTopic, String defaultReplyTopic, String group,
                        int maxPollRecords) {
        if (maxPollRecords < 1 || maxPollRecords > 100_000) {
            throw new IllegalArgumentException("maxPollRecords must be in [1, 100000], was " + maxPollRecords);
        }
        this.model = model;
        this.features = model.signature().featureCount();
        this.requestTopic = requestTopic;
        this.defaultReplyTopic = defaultReplyTopic;
        Properties c = new Properties();
        c.putAll(client);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(maxPollRecords));
        c.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "scoreflow-serve-" + group);
        Properties p = new Properties();
        p.putAll(client);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "1");
        this.consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        try {
            this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        } catch (RuntimeException e) {
            consumer.close();
            throw e;
        }
    }

    /**
     * A builder for a service scoring with {@code model} the requests of {@code requestTopic}; {@code client} holds
     * the Kafka client properties ({@code bootstrap.servers}, security). The service does not close the model.
     */
    public static Builder builder(Properties client, Model model, String requestTopic) {
        return new Builder(client, model, requestTopic);
    }

    /** Requests read so far, answered or not. */
    public long requests() {
        return requests.value();
    }

    /** Replies with scores, acknowledged by the broker. */
    public long scored() {
        return replies.value("scored");
    }

    /** Error replies to requests that could not be decoded or did not fit the model ({@code bad_input}). */
    public long badInput() {
        return replies.value("bad_input");
    }

    /** Error replies to requests the model failed on ({@code failed}). */
    public long failed() {
        return replies.value("failed");
    }

    /** Requests no reply could be sent for: no correlation id, no reply topic, or the send failed. */
    public long unanswered() {
        return unanswered.sum(labels -> true);
    }

    /** Serves until {@link #close}: poll, score, reply, wait for the acknowledgements, commit. */
    @Override
    public void run() {
        running = true;
        try {
            consumer.subscribe(List.of(requestTopic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
                    assigned = Set.copyOf(consumer.assignment());
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> added) {
                    assigned = Set.copyOf(consumer.assignment());
                    LOG.info("serving {} partitions of {}: {}", assigned.size(), requestTopic, assigned);
                }
            });
            while (!closing) {
                ConsumerRecords<byte[], byte[]> polled;
                try {
                    polled = consumer.poll(POLL);
                } catch (WakeupException e) {
                    break;
                }
                if (!polled.isEmpty()) {
                    handle(polled);
                }
            }
        } catch (RuntimeException e) {
            LOG.error("scoring service on {} stopped: {}", requestTopic, e.toString(), e);
            throw e;
        } finally {
            try {
                consumer.close();
            } finally {
                producer.close(Duration.ofSeconds(10));
                synchronized (stopped) {
                    running = false;
                    stopped.notifyAll();
                }
            }
        }
    }

    /** Answers one poll's requests and commits after them once every reply is acknowledged. */
    private void handle(ConsumerRecords<byte[], byte[]> polled) {
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        List<String> outcomes = new ArrayList<>();
        Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
        Map<TopicPartition, Long> first = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : polled) {
            TopicPartition tp = new TopicPartition(r.topic(), r.partition());
            first.putIfAbsent(tp, r.offset());
            next.put(tp, new OffsetAndMetadata(r.offset() + 1));
            requests.inc(1);
            String id = header(r, CORRELATION_ID_HEADER);
            if (id == null || id.isEmpty()) {
                unanswered.inc(1, "no_correlation_id");
                LOG.warn("request {}-{}@{} has no {} header: it cannot be answered, skipped", r.topic(),
                        r.partition(), r.offset(), CORRELATION_ID_HEADER);
                continue;
            }
            String replyTo = header(r, REPLY_TO_HEADER);
            if (replyTo == null || replyTo.isEmpty()) {
                replyTo = defaultReplyTopic;
            }
            if (replyTo == null) {
                unanswered.inc(1, "no_reply_topic");
                LOG.warn("request {} ({}-{}@{}) has no {} header and the service has no default reply topic: "
                        + "skipped", id, r.topic(), r.partition(), r.offset(), REPLY_TO_HEADER);
                continue;
            }
            RecordHeaders headers = new RecordHeaders();
            headers.add(CORRELATION_ID_HEADER, id.getBytes(StandardCharsets.UTF_8));
            byte[] value;
            String outcome;
            try {
                byte[] body = r.value() == null ? new byte[0] : r.value();
                FloatMatrix m = SeedBinaryCodec.decode(ByteBuffer.wrap(body), features);
                float[] scores = model.score(m);
                value = SeedBinaryCodec.encode(scores).array();
                rows.inc(m.rows());
                outcome = "scored";
            } catch (BadInputException e) {
                value = new byte[0];
                outcome = "bad_input";
                headers.add(ERROR_HEADER, String.valueOf(e.getMessage()).getBytes(StandardCharsets.UTF_8));
                LOG.info("request {} rejected: {}", id, e.getMessage());
            } catch (RuntimeException e) {
                value = new byte[0];
                outcome = "failed";
                headers.add(ERROR_HEADER, ("scoring failed: " + e).getBytes(StandardCharsets.UTF_8));
                LOG.error("request {}: scoring failed: {}", id, e.toString(), e);
            }
            if (!outcome.equals("scored")) {
                headers.add(ERROR_KIND_HEADER, outcome.getBytes(StandardCharsets.UTF_8));
            }
            try {
                acks.add(producer.send(new ProducerRecord<>(replyTo, null, r.key(), value, headers)));
                outcomes.add(outcome);
            } catch (RuntimeException e) {
                // e.g. an invalid topic name in reply_to: this reply fails, the others go on
                unanswered.inc(1, "send_failed");
                LOG.warn("request {}: cannot send the reply to {}: {}", id, replyTo, e.toString());
            }
        }
        producer.flush();
        for (int i = 0; i < acks.size(); i++) {
            try {
                acks.get(i).get(30, TimeUnit.SECONDS);
                replies.inc(1, outcomes.get(i));
            } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
                if (cause instanceof org.apache.kafka.common.errors.InvalidTopicException
                        || cause instanceof org.apache.kafka.common.errors.TopicAuthorizationException) {
                    // answering again would fail again: this request is given up
                    unanswered.inc(1, "send_failed");
                    LOG.warn("a reply could not be written: {}; the request is not answered", cause.toString());
                    continue;
                }
                LOG.error("a reply was not acknowledged ({}): rewinding {} to answer this poll's requests again",
                        cause.toString(), first.keySet());
                first.forEach(consumer::seek);
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                first.forEach(consumer::seek);
                return;
            }
        }
        try {
            try {
                consumer.commitSync(next);
            } catch (WakeupException e) {
                // close() woke us: the replies are out, so commit them before stopping (the wakeup is spent)
                consumer.commitSync(next);
            }
        } catch (org.apache.kafka.clients.consumer.CommitFailedException
                 | org.apache.kafka.common.errors.RebalanceInProgressException e) {
            // the partitions moved on: their new owner answers these requests again (duplicates, not losses)
            LOG.warn("commit after {} replies failed, they will be answered again: {}", acks.size(), e.toString());
        }
    }

    private static String header(ConsumerRecord<?, ?> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** The request partitions this instance serves now (its share of the group's). */
    public Set<TopicPartition> partitions() {
        return assigned;
    }

    /** Whether {@link #run} is serving (between its start and its end). */
    boolean running() {
        return running;
    }

    /**
     * Stops {@link #run} after the request at hand, waiting up to {@code timeout} for it to end; the replies of the
     * poll at hand are waited for and committed first unless the wait is cut short. Thread-safe; idempotent.
     */
    public void close(Duration timeout) {
        closing = true;
        consumer.wakeup();
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (stopped) {
            while (running) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    LOG.warn("scoring service on {} still running {} after close", requestTopic, timeout);
                    return;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(stopped, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }

    /** Settings of a {@link KafkaScoringService}; each refuses a bad value at once. Not thread-safe. */
    public static final class Builder {
        private final Properties client = new Properties();
        private final Model model;
        private final String requestTopic;
        private String replyTopic;
        private String group;
        private int maxPollRecords = 500;
        private int createPartitions;

        private Builder(Properties client, Model model, String requestTopic) {
            this.client.putAll(Objects.requireNonNull(client, "client"));
            this.model = Objects.requireNonNull(model, "model");
            this.requestTopic = Topics.requireName("requestTopic", requestTopic);
        }

        /**
         * Where requests without {@value KafkaScoringClient#REPLY_TO_HEADER} are answered (default: nowhere; such
         * requests are counted as unanswered).
         */
        public Builder replyTopic(String topic) {
            this.replyTopic = Topics.requireName("replyTopic", topic);
            return this;
        }

        /** The consumer group; instances of one group share the requests (default scoreflow-serve-REQUEST_TOPIC). */
        public Builder group(String group) {
            if (group == null || group.isBlank()) {
                throw new IllegalArgumentException("group must be a group id, was '" + group + "'");
            }
            this.group = group;
            return this;
        }

        /** Requests read, answered and acknowledged before each commit, in [1, 100000] (default 500). */
        public Builder maxPollRecords(int n) {
            if (n < 1 || n > 100_000) {
                throw new IllegalArgumentException("maxPollRecords must be in [1, 100000], was " + n);
            }
            this.maxPollRecords = n;
            return this;
        }

        /**
         * Creates the request topic and the reply topic, if missing, with {@code partitions} partitions (the most
         * instances that can share the work) when {@link #build} runs (default: creates none).
         */
        public Builder createTopics(int partitions) {
            if (partitions < 1) {
                throw new IllegalArgumentException("partitions must be >= 1, was " + partitions);
            }
            this.createPartitions = partitions;
            return this;
        }

        /**
         * Creates the topics if asked and connects; the service serves once {@link KafkaScoringService#run} is
         * called.
         *
         * @throws StreamingException if the topics cannot be created
         */
        public KafkaScoringService build() {
            if (createPartitions > 0) {
                try (Admin admin = Topics.admin(client)) {
                    Topics.ensure(admin, requestTopic, createPartitions, Map.of());
                    if (replyTopic != null) {
                        Topics.ensure(admin, replyTopic, createPartitions, Map.of());
                    }
                }
            }
            return new KafkaScoringService(client, model, requestTopic, replyTopic,
                    group != null ? group : "scoreflow-serve-" + requestTopic, maxPollRecords);
        }
    }
}
