package dev.scoreflow.streaming;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.client.ScoringClient;
import dev.scoreflow.client.ScoringFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * The remote stage of {@code stream --endpoint}: reads the features stage's events with their vectors, scores them
 * through the Scoreflow servers in batches (the client balances, retries and bounds what is in flight), writes the
 * outputs in each partition's order, and only then commits: at least once. An output re-sent after a crash has the
 * same {@code event_id}, so consumers can de-duplicate.
 *
 * <p>A batch the servers refuse as bad input (a 4xx other than 429) goes to the dead letters row by row; any other
 * failure (servers down, overloaded, timing out) is retried with backoff until it succeeds or the app stops, never
 * dropped. One thread, one consumer of the group {@code <application id>-remote}.
 */
final class RemoteScorer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RemoteScorer.class);
    static final int MAX_POLL_RECORDS = 1000;

    record Settings(Properties client, String group, String featuresTopic, String outputTopic, String deadLetterTopic,
                    String lateTopic, int batchRows, List<String> names, double threshold, String model,
                    String version, StreamMetrics metrics, LongSupplier clock) {
    }

    private final Settings s;
    private final ScoringClient scoring;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final KafkaProducer<byte[], byte[]> producer;
    private final Thread thread;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;

    RemoteScorer(Settings s, ScoringClient scoring) {
        this.s = s;
        this.scoring = scoring;
        Properties c = new Properties();
        c.putAll(s.client());
        c.put(ConsumerConfig.GROUP_ID_CONFIG, s.group());
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, MAX_POLL_RECORDS);
        consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        Properties p = new Properties();
        p.putAll(s.client());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        thread = new Thread(this::run, "stream-remote-scorer");
    }

    void start() {
        thread.start();
    }

    Throwable failed() {
        return failure.get();
    }

    private void run() {
        try {
            consumer.subscribe(List.of(s.featuresTopic()));
            while (!closed) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
                if (!records.isEmpty()) {
                    process(records);
                }
            }
        } catch (WakeupException e) {
            if (!closed) {
                failure.compareAndSet(null, e);
            }
        } catch (RuntimeException e) {
            LOG.error("the remote scoring stage failed; stopping it", e);
            failure.compareAndSet(null, e);
        } finally {
            consumer.close();
            producer.close();
        }
    }

    private void process(ConsumerRecords<byte[], byte[]> records) {
        List<ConsumerRecord<byte[], byte[]>> in = new ArrayList<>(records.count());
        records.forEach(in::add); // partition by partition, each in offset order
        List<EnrichedEvent> events = new ArrayList<>(in.size());
        for (ConsumerRecord<byte[], byte[]> r : in) {
            events.add(EnrichedEvent.fromBytes(r.value()));
        }
        float[] scores = new float[events.size()];
        String[] refused = new String[events.size()];
        int n = s.names().size();
        List<CompletableFuture<float[]>> pending = new ArrayList<>();
        List<int[]> ranges = new ArrayList<>();
        for (int from = 0; from < events.size(); from += s.batchRows()) {
            int to = Math.min(events.size(), from + s.batchRows());
            ranges.add(new int[]{from, to});
            pending.add(scoring.score(matrix(events, from, to, n)));
        }
        for (int b = 0; b < ranges.size(); b++) {
            int from = ranges.get(b)[0];
            int to = ranges.get(b)[1];
            CompletableFuture<float[]> f = pending.get(b);
            long backoffMs = 100;
            while (true) {
                try {
                    float[] got = f.get();
                    System.arraycopy(got, 0, scores, from, to - from);
                    break;
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    int status = cause instanceof ScoringFailedException sf ? sf.status() : -1;
                    if (status >= 400 && status < 500 && status != 429 && status != 408) {
                        for (int i = from; i < to; i++) {
                            refused[i] = "the servers refused the batch (HTTP " + status + "): " + cause.getMessage();
                        }
                        break;
                    }
                    if (closed) {
                        throw new IllegalStateException("stopped while a batch could not be scored", cause);
                    }
                    LOG.warn("scoring {} events failed ({}); retrying in {} ms", to - from, cause.toString(), backoffMs);
                    LockSupport.parkNanos(backoffMs * 1_000_000L);
                    backoffMs = Math.min(5_000, backoffMs * 2);
                    f = scoring.score(matrix(events, from, to, n));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
            }
        }
        long now = s.clock().getAsLong();
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> sent = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) {
            EnrichedEvent e = events.get(i);
            ConsumerRecord<byte[], byte[]> r = in.get(i);
            float score = scores[i];
            if (refused[i] == null && !Float.isFinite(score)) {
                refused[i] = "the model gave a score that is not finite: " + score;
            }
            if (refused[i] != null) {
                Rejection why = new Rejection(Rejection.SCORING_FAILED, refused[i]);
                sent.add(producer.send(new ProducerRecord<>(s.deadLetterTopic(), null, r.timestamp(), e.origin().key(),
                        e.raw(), DeadLetters.headers(why, e.origin(), now))));
                s.metrics().deadLettered.inc(1, Rejection.SCORING_FAILED);
            } else {
                byte[] key = e.entity().getBytes(StandardCharsets.UTF_8);
                String out = ScoreProcessor.output(e.eventId(), e.entity(), e.ts(), s.names(), e.vector(), score,
                        s.threshold(), s.model(), s.version(), e.late(), now);
                sent.add(producer.send(new ProducerRecord<>(s.outputTopic(), null, r.timestamp(), key,
                        out.getBytes(StandardCharsets.UTF_8))));
                s.metrics().scored.inc(1);
                s.metrics().latency.observe(Math.max(0, now - r.timestamp()) / 1000.0);
                if (e.late()) {
                    s.metrics().late.inc(1);
                    if (s.lateTopic() != null) {
                        sent.add(producer.send(new ProducerRecord<>(s.lateTopic(), null, r.timestamp(), key, e.raw())));
                    }
                }
            }
            offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
        }
        producer.flush(); // every output is on the broker before its input is marked read
        for (var f : sent) {
            try {
                f.get();
            } catch (ExecutionException e) {
                // not committed: the records are read and scored again (at least once)
                throw new IllegalStateException("writing the outputs failed: " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        consumer.commitSync(offsets);
    }

    private static FloatMatrix matrix(List<EnrichedEvent> events, int from, int to, int n) {
        float[] rows = new float[(to - from) * n];
        for (int i = from; i < to; i++) {
            System.arraycopy(events.get(i).vector(), 0, rows, (i - from) * n, n);
        }
        return FloatMatrix.of(rows, to - from, n);
    }

    @Override
    public void close() {
        closed = true;
        consumer.wakeup();
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
