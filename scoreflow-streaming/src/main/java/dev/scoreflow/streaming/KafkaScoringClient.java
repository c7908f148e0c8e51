package dev.scoreflow.streaming;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.CapacityExceededException;
import dev.scoreflow.api.DeadlineExceededException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.api.internal.PendingReplies;
import dev.scoreflow.streaming.internal.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
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
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A client of scoring over Kafka (the request-reply of {@code scoreflow serve-kafka}): {@link #score} sends the rows
 * as a request with a fresh correlation id and returns a future that the reply completes.
 *
 * <p>Each client has a reply topic of its own, {@code <request topic>.replies.<client id>} (one partition, an hour's
 * retention), created when the client starts and deleted when it closes, unless {@link Builder#replyTopic} names
 * one. A topic per client means it reads only its own replies: with one shared reply topic every client would read,
 * and drop, the replies of every other. A given reply topic may still be shared: replies whose correlation id this
 * client did not send are ignored. The client reads its reply topic from its end at start, without a consumer group.
 *
 * <p>Back-pressure: at most {@link Builder#maxInFlight} requests await their reply; beyond that {@link #score}
 * does not block but returns a future failed with {@link CapacityExceededException} (an asynchronous API should not
 * stall its caller's thread; the caller knows best whether to wait, shed or retry). Each request has a timeout:
 * when it passes, the future fails with {@link DeadlineExceededException} and the request is forgotten (a late
 * reply is ignored; the service may still score it). Cancelling the future forgets the request too.
 *
 * <p>Replies come at least once: a duplicate (same correlation id) of an answered request is ignored. A reply with
 * {@value #ERROR_HEADER} fails the future: with {@link BadInputException} if the request was bad, else with
 * {@link StreamingException}. {@link #close} fails what is still pending with {@link StreamingException}.
 *
 * <p>Thread-safe: {@link #score} may be called from any number of threads. One background thread reads the replies,
 * completes the futures (so keep their callbacks short, or use the {@code ...Async} variants) and expires requests
 * against the injected {@link Builder#ticker}.
 */
public final class KafkaScoringClient implements AutoCloseable {
    /** Header of requests and replies: the id that matches a reply to its request (UTF-8; any unique string). */
    public static final String CORRELATION_ID_HEADER = "scoreflow.correlation_id";
    /** Header of requests: the topic to reply to (UTF-8). */
    public static final String REPLY_TO_HEADER = "scoreflow.reply_to";
    /** Header of replies to a request that was not scored: why (UTF-8); the value is then empty. */
    public static final String ERROR_HEADER = "scoreflow.error";
    /** Header of error replies: {@code bad_input} (do not retry the same request) or {@code failed}. */
    public static final String ERROR_KIND_HEADER = "scoreflow.error_kind";

    private static final Logger LOG = LoggerFactory.getLogger(KafkaScoringClient.class);
    private static final Duration POLL = Duration.ofMillis(20);

    private final String requestTopic;
    private final String replyTopic;
    private final boolean ownReplyTopic;
    private final Properties client;
    private final Duration timeout;
    private final KafkaProducer<byte[], byte[]> producer;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final PendingReplies pending;
    private final Thread reader;
    private volatile boolean closed;

    private KafkaScoringClient(Builder b) {
        this.requestTopic = b.requestTopic;
        this.client = b.client;
        this.timeout = b.timeout;
        this.pending = new PendingReplies(b.maxInFlight, b.ticker);
        String id = UUID.randomUUID().toString();
        this.ownReplyTopic = b.replyTopic == null;
        this.replyTopic = ownReplyTopic ? requestTopic + ".replies." + id : b.replyTopic;
        if (ownReplyTopic) {
            try (Admin admin = Topics.admin(client)) {
                Topics.ensure(admin, replyTopic, 1, Map.of("retention.ms", "3600000"));
            }
        }
        Properties c = new Properties();
        c.putAll(client);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        c.remove(ConsumerConfig.GROUP_ID_CONFIG);
        c.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "scoreflow-client-" + id);
        Properties p = new Properties();
        p.putAll(client);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "1");
        p.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "scoreflow-client-" + id);
        this.consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        try {
            List<TopicPartition> parts = new ArrayList<>();
            try (Admin admin = Topics.admin(client)) {
                for (int i = 0, n = Topics.partitions(admin, replyTopic); i < n; i++) {
                    parts.add(new TopicPartition(replyTopic, i));
                }
            }
            consumer.assign(parts);
            // fix the start now: a reply to a request sent before the first poll must not be skipped as "old"
            parts.forEach(consumer::position);
            this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        } catch (RuntimeException e) {
            consumer.close();
            deleteReplyTopic();
            throw e;
        }
        this.reader = new Thread(this::readReplies, "scoreflow-kafka-client-" + id.substring(0, 8));
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * A builder for a client of the service reading {@code requestTopic}; {@code client} holds the Kafka client
     * properties ({@code bootstrap.servers}, security).
     */
    public static Builder builder(Properties client, String requestTopic) {
        return new Builder(client, requestTopic);
    }

    /** Sends {@code rows} to be scored, with the client's timeout. See {@link #score(FloatMatrix, Duration)}. */
    public CompletableFuture<float[]> score(FloatMatrix rows) {
        return score(rows, timeout);
    }

    /**
     * Sends {@code rows} to be scored; the future completes with one score per row, in row order. It fails with
     * {@link CapacityExceededException} at once if {@code maxInFlight} requests are pending, with
     * {@link DeadlineExceededException} if no reply came within {@code timeout}, with {@link BadInputException} if
     * the service found the request bad, with {@link StreamingException} if it could not be sent or the client
     * closed. Never blocks for long (only while the producer waits for the topic's metadata).
     */
    public CompletableFuture<float[]> score(FloatMatrix rows, Duration timeout) {
        Objects.requireNonNull(rows, "rows");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be > 0, was " + timeout);
        }
        if (closed) {
            return CompletableFuture.failedFuture(new StreamingException("the Kafka scoring client is closed"));
        }
        PendingReplies.Request request = pending.open(rows.rows(), timeout);
        String id = request.id();
        CompletableFuture<float[]> future = request.future();
        if (future.isDone()) {
            return future; // maxInFlight requests are pending already
        }
        if (closed) {
            // close() may have swept before this request was registered
            future.completeExceptionally(new StreamingException("the Kafka scoring client is closed"));
            return future;
        }
        // keyed by correlation id: requests spread over the partitions, so over the service's instances
        RecordHeaders headers = new RecordHeaders();
        headers.add(CORRELATION_ID_HEADER, id.getBytes(StandardCharsets.UTF_8));
        headers.add(REPLY_TO_HEADER, replyTopic.getBytes(StandardCharsets.UTF_8));
        ByteBuffer body = SeedBinaryCodec.encode(rows);
        try {
            producer.send(new ProducerRecord<>(requestTopic, null, id.getBytes(StandardCharsets.UTF_8), body.array(),
                    headers), (md, e) -> {
                if (e != null) {
                    future.completeExceptionally(new StreamingException("request " + id + " could not be sent to "
                            + requestTopic + ": " + e.getMessage(), e));
                }
            });
        } catch (RuntimeException e) {
            future.completeExceptionally(new StreamingException("request " + id + " could not be sent to "
                    + requestTopic + ": " + e.getMessage(), e));
        }
        return future;
    }

    private void readReplies() {
        try {
            while (!closed) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(POLL)) {
                    // a reply matching no request is a duplicate, a late one, or another client's on a shared topic
                    pending.reply(header(r, CORRELATION_ID_HEADER), header(r, ERROR_HEADER),
                            "bad_input".equals(header(r, ERROR_KIND_HEADER)), r.value(), StreamingException::new);
                }
                pending.expire(replyTopic);
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            LOG.error("the reply reader of {} failed; failing the pending requests: {}", replyTopic, e.toString(), e);
            pending.failAll(new StreamingException("the reply reader of " + replyTopic + " failed: " + e, e));
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private static String header(ConsumerRecord<?, ?> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** The topic this client's replies come to. */
    public String replyTopic() {
        return replyTopic;
    }

    /** Requests awaiting their reply. */
    public int pending() {
        return pending.size();
    }

    /** Replies that matched no pending request (duplicates, late replies, other clients'), ignored. */
    public long ignoredReplies() {
        return pending.ignored();
    }

    /**
     * Fails every pending request with {@link StreamingException} ("closed"), stops the reply reader and deletes
     * the client's own reply topic. Later calls to {@link #score} return failed futures. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        consumer.wakeup();
        try {
            reader.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pending.failAll(new StreamingException("the Kafka scoring client was closed before the reply came"));
        producer.close(Duration.ofSeconds(5));
        deleteReplyTopic();
    }

    private void deleteReplyTopic() {
        if (!ownReplyTopic) {
            return;
        }
        try (Admin admin = Topics.admin(client)) {
            admin.deleteTopics(List.of(replyTopic)).all().get(Topics.TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            LOG.warn("could not delete the reply topic {} (its retention is an hour): {}", replyTopic, e.toString());
        }
    }

    /** Settings of a {@link KafkaScoringClient}; each refuses a bad value at once. Not thread-safe. */
    public static final class Builder {
        private final Properties client = new Properties();
        private final String requestTopic;
        private String replyTopic;
        private int maxInFlight = 1_000;
        private Duration timeout = Duration.ofSeconds(30);
        private LongSupplier ticker = System::nanoTime;

        private Builder(Properties client, String requestTopic) {
            this.client.putAll(Objects.requireNonNull(client, "client"));
            this.requestTopic = Topics.requireName("requestTopic", requestTopic);
        }

        /**
         * Replies come to this existing topic instead of one created for the client (default). Other clients may
         * share it: each ignores the replies it did not ask for.
         */
        public Builder replyTopic(String topic) {
            this.replyTopic = Topics.requireName("replyTopic", topic);
            return this;
        }

        /** Most requests awaiting their reply, in [1, 1000000] (default 1000); more fail at once. */
        public Builder maxInFlight(int n) {
            if (n < 1 || n > 1_000_000) {
                throw new IllegalArgumentException("maxInFlight must be in [1, 1000000], was " + n);
            }
            this.maxInFlight = n;
            return this;
        }

        /** How long a request waits for its reply by default, > 0 (default 30 s). */
        public Builder timeout(Duration timeout) {
            if (timeout == null || timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("timeout must be > 0, was " + timeout);
            }
            this.timeout = timeout;
            return this;
        }

        /** The clock timeouts are measured with, in nanoseconds (default {@link System#nanoTime}); for tests. */
        public Builder ticker(LongSupplier ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /**
         * Creates the reply topic (unless given), starts reading it and returns the client.
         *
         * @throws StreamingException if the cluster cannot be reached or the topic not created
         */
        public KafkaScoringClient build() {
            return new KafkaScoringClient(this);
        }
    }
}
