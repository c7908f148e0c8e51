package dev.scoreflow.streaming;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.CapacityExceededException;
import dev.scoreflow.api.DeadlineExceededException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.OnnxModel;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.streaming.internal.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
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
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * Request-reply over a real broker: a service instance (or two in one group) and a client; every reply matches the
 * in-process model, bad requests get error replies, and timeouts, capacity and close fail futures as documented.
 */
@Tag("slow")
class KafkaRequestReplyTest {
    static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    static Path dir;
    static EmbeddedBroker broker;
    static Model model;
    static int n;

    @BeforeAll
    static void start() {
        broker = EmbeddedBroker.start(dir.resolve("kafka"), "127.0.0.1", 0, Map.of());
        model = OnnxModel.load(TestModels.example(), ModelConfig.defaults(), 1);
        n = model.signature().featureCount();
    }

    @AfterAll
    static void stop() {
        if (model != null) {
            model.close();
        }
        if (broker != null) {
            broker.close();
        }
    }

    static Properties client() {
        Properties p = new Properties();
        p.put("bootstrap.servers", broker.bootstrapServers());
        return p;
    }

    static void createTopic(String topic, int partitions) {
        try (Admin admin = Topics.admin(client())) {
            Topics.ensure(admin, topic, partitions, Map.of());
        }
    }

    /** A service on its own thread; closing it stops the thread. */
    static KafkaScoringService serve(String requestTopic, String group) {
        KafkaScoringService service = KafkaScoringService.builder(client(), model, requestTopic)
                .replyTopic(requestTopic + ".replies").group(group).maxPollRecords(100).build();
        Thread t = new Thread(service, "service-" + group);
        t.setDaemon(true);
        t.start();
        return service;
    }

    static void await(String what, BooleanSupplier done) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail(what + " did not happen within " + WAIT);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
        }
    }

    /** Every record of {@code topic} so far, read from the beginning. */
    static List<ConsumerRecord<byte[], byte[]>> readAll(String topic, int expected) {
        Properties p = client();
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            int parts;
            try (Admin admin = Topics.admin(client())) {
                parts = Topics.partitions(admin, topic);
            }
            List<org.apache.kafka.common.TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < parts; i++) {
                tps.add(new org.apache.kafka.common.TopicPartition(topic, i));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (out.size() < expected && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(100)).forEach(out::add);
            }
        }
        assertThat(out).as("records of " + topic).hasSize(expected);
        return out;
    }

    static String header(ConsumerRecord<?, ?> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    record Sent(FloatMatrix rows, CompletableFuture<float[]> scores) {
    }

    /** {@code count} requests of 1 to 20 rows (seeded), sent from 8 threads at once. */
    static List<Sent> sendConcurrently(KafkaScoringClient client, int count, long seed) throws Exception {
        Random random = new Random(seed);
        List<FloatMatrix> requests = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int rows = 1 + random.nextInt(20);
            requests.add(FloatMatrix.of(TestModels.noisyRows(TestModels.example(), rows, n, random.nextLong()), rows, n));
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Sent>> sends = new ArrayList<>();
            for (FloatMatrix m : requests) {
                sends.add(pool.submit(() -> new Sent(m, client.score(m))));
            }
            List<Sent> sent = new ArrayList<>();
            for (Future<Sent> f : sends) {
                sent.add(f.get(WAIT.toSeconds(), TimeUnit.SECONDS));
            }
            return sent;
        } finally {
            pool.shutdownNow();
        }
    }

    static void assertScoredInProcess(List<Sent> sent) throws Exception {
        for (Sent s : sent) {
            float[] got = s.scores().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            float[] expected = model.score(s.rows());
            assertThat(got).hasSize(s.rows().rows());
            for (int i = 0; i < got.length; i++) {
                assertThat(got[i]).as("score of row " + i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5f));
            }
        }
    }

    @Test
    void answersConcurrentRequestsWithTheModelsScoresMatchedByCorrelationId() throws Exception {
        String topic = "rpc-one";
        createTopic(topic, 3);
        createTopic(topic + ".replies", 1);
        KafkaScoringService service = serve(topic, "rpc-one-service");
        try (KafkaScoringClient client = KafkaScoringClient.builder(client(), topic).build()) {
            List<Sent> sent = sendConcurrently(client, 200, 42);
            assertScoredInProcess(sent);
            assertThat(client.pending()).isZero();

            // each request went with its own correlation id and this client's reply topic
            List<ConsumerRecord<byte[], byte[]>> requests = readAll(topic, 200);
            Set<String> ids = new HashSet<>();
            for (ConsumerRecord<byte[], byte[]> r : requests) {
                ids.add(header(r, KafkaScoringClient.CORRELATION_ID_HEADER));
                assertThat(header(r, KafkaScoringClient.REPLY_TO_HEADER)).isEqualTo(client.replyTopic());
            }
            assertThat(ids).hasSize(200).doesNotContainNull();

            long rows = sent.stream().mapToLong(s -> s.rows().rows()).sum();
            await("the service's counters", () -> service.replies.value("scored") == 200);
            assertThat(service.requests.value()).isEqualTo(200);
            assertThat(service.rows.value()).isEqualTo(rows);
            assertThat(service.replies.value("bad_input") + service.replies.value("failed")).isZero();

            // a re-delivered request's second reply is dropped by correlation id
            String answered = ids.iterator().next();
            RecordHeaders h = new RecordHeaders();
            h.add(KafkaScoringClient.CORRELATION_ID_HEADER, answered.getBytes(StandardCharsets.UTF_8));
            try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(client(), new ByteArraySerializer(),
                    new ByteArraySerializer())) {
                p.send(new ProducerRecord<>(client.replyTopic(), null, (byte[]) null, new byte[4], h)).get();
            }
            await("the duplicate reply to be read and ignored", () -> client.ignoredReplies() == 1);
            assertThat(client.pending()).isZero();
        } finally {
            service.close();
        }
        // every request's offset was committed, after its reply: a restarted instance answers none again
        try (Admin admin = Topics.admin(client())) {
            long committed = admin.listConsumerGroupOffsets("rpc-one-service").partitionsToOffsetAndMetadata()
                    .get(30, TimeUnit.SECONDS).values().stream().mapToLong(o -> o.offset()).sum();
            assertThat(committed).isEqualTo(200);
        }
    }

    @Test
    void aBadRequestGetsAnErrorReplyThatFailsItsFuture() throws Exception {
        String topic = "rpc-bad";
        createTopic(topic, 1);
        createTopic(topic + ".replies", 1);
        KafkaScoringService service = serve(topic, "rpc-bad-service");
        try (KafkaScoringClient client = KafkaScoringClient.builder(client(), topic).build()) {
            // one row of n - 1 features: 4 bytes short of a row
            CompletableFuture<float[]> bad = client.score(FloatMatrix.of(new float[n - 1], 1, n - 1));
            assertThatThrownBy(() -> bad.get(WAIT.toSeconds(), TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(BadInputException.class)
                    .hasMessage("body has " + 4 * (n - 1) + " bytes, which is not a multiple of 4 x " + n
                            + " features = " + 4 * n + " bytes per row (0 whole rows and " + 4 * (n - 1)
                            + " bytes left over)");
            // the service goes on: a good request after it is scored
            float[] sample = TestModels.sampleInput(TestModels.example());
            FloatMatrix good = FloatMatrix.of(sample, sample.length / n, n);
            assertThat(client.score(good).get(WAIT.toSeconds(), TimeUnit.SECONDS)).containsExactly(model.score(good));

            // a request without a correlation id cannot be answered: counted, skipped, the next one is served
            try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(client(), new ByteArraySerializer(),
                    new ByteArraySerializer())) {
                p.send(new ProducerRecord<>(topic, new byte[4 * n])).get();
            }
            await("the anonymous request to be counted", () -> service.unanswered.value("no_correlation_id") == 1);
            assertThat(client.score(good).get(WAIT.toSeconds(), TimeUnit.SECONDS)).containsExactly(model.score(good));
            // a reply is counted once the broker acknowledged it, which may be just after the client read it
            await("the second good reply to be counted", () -> service.replies.value("scored") == 2);
            assertThat(service.requests.value()).isEqualTo(4);
            assertThat(service.replies.value("bad_input")).isEqualTo(1);
            assertThat(service.replies.value("scored")).isEqualTo(2);
        } finally {
            service.close();
        }
    }

    @Test
    void twoInstancesOfOneGroupShareTheRequests() throws Exception {
        String topic = "rpc-two";
        createTopic(topic, 4);
        createTopic(topic + ".replies", 1);
        KafkaScoringService a = serve(topic, "rpc-two-service");
        KafkaScoringService b = serve(topic, "rpc-two-service");
        try (KafkaScoringClient client = KafkaScoringClient.builder(client(), topic).build()) {
            await("both instances to have partitions", () -> !a.partitions().isEmpty() && !b.partitions().isEmpty()
                    && a.partitions().size() + b.partitions().size() == 4);
            List<Sent> sent = sendConcurrently(client, 100, 7);
            assertScoredInProcess(sent);
            await("the counters", () -> a.replies.value("scored") + b.replies.value("scored") == 100);
            assertThat(a.requests.value()).isPositive();
            assertThat(b.requests.value()).isPositive();
            assertThat(a.requests.value() + b.requests.value()).isEqualTo(100);
            assertThat(client.ignoredReplies()).isZero();
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void withNoServiceARequestTimesOutIsForgottenAndTheInFlightBoundHolds() throws Exception {
        String topic = "rpc-nobody";
        createTopic(topic, 1);
        FloatMatrix row = FloatMatrix.of(new float[n], 1, n);
        try (KafkaScoringClient client = KafkaScoringClient.builder(client(), topic).maxInFlight(2)
                .timeout(Duration.ofMillis(500)).build()) {
            long start = System.nanoTime();
            CompletableFuture<float[]> f = client.score(row);
            assertThatThrownBy(() -> f.get(WAIT.toSeconds(), TimeUnit.SECONDS)).cause()
                    .isInstanceOf(DeadlineExceededException.class).hasMessageContaining("within its timeout");
            assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(Duration.ofMillis(500).toNanos());
            assertThat(client.pending()).isZero();

            // two in flight (long timeouts) fill the client: a third fails at once
            CompletableFuture<float[]> one = client.score(row, Duration.ofMinutes(1));
            CompletableFuture<float[]> two = client.score(row, Duration.ofMinutes(1));
            CompletableFuture<float[]> three = client.score(row, Duration.ofMinutes(1));
            assertThat(three).isCompletedExceptionally();
            assertThatThrownBy(three::join).cause().isInstanceOf(CapacityExceededException.class);
            assertThat(client.pending()).isEqualTo(2);
            // a slot freed (here by cancelling) takes a request again
            one.cancel(false);
            CompletableFuture<float[]> four = client.score(row, Duration.ofMinutes(1));
            assertThat(four).isNotDone();

            client.close();
            for (CompletableFuture<float[]> pending : List.of(two, four)) {
                assertThatThrownBy(pending::join).cause().isInstanceOf(StreamingException.class)
                        .hasMessage("the Kafka scoring client was closed before the reply came");
            }
            assertThat(client.pending()).isZero();
            assertThatThrownBy(() -> client.score(row).join()).cause().hasMessage("the Kafka scoring client is closed");
        }
    }

    @Test
    void timeoutsFollowTheInjectedTicker() throws Exception {
        String topic = "rpc-ticker";
        createTopic(topic, 1);
        java.util.concurrent.atomic.AtomicLong now = new java.util.concurrent.atomic.AtomicLong();
        // the client reads the ticker once per look at its deadlines (after each poll of the reply topic)
        java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
        try (KafkaScoringClient client = KafkaScoringClient.builder(client(), topic).ticker(() -> {
                    reads.incrementAndGet();
                    return now.get();
                }).timeout(Duration.ofHours(1)).build()) {
            CompletableFuture<float[]> early = client.score(FloatMatrix.of(new float[n], 1, n), Duration.ofSeconds(10));
            CompletableFuture<float[]> late = client.score(FloatMatrix.of(new float[n], 1, n));
            // the client looks at its deadlines again and again while the ticker stands still: nothing expires
            int before = reads.get();
            await("three looks at the deadlines", () -> reads.get() >= before + 3);
            assertThat(early).isNotDone();
            // one nanosecond short of the deadline, looked at again: still waiting
            now.addAndGet(Duration.ofSeconds(10).toNanos() - 1);
            int short1 = reads.get();
            await("a look at the deadlines a nanosecond short", () -> reads.get() >= short1 + 2);
            assertThat(early).isNotDone();
            now.addAndGet(1);
            assertThatThrownBy(() -> early.get(WAIT.toSeconds(), TimeUnit.SECONDS)).cause()
                    .isInstanceOf(DeadlineExceededException.class);
            assertThat(late).isNotDone();
            assertThat(client.pending()).isEqualTo(1);
        }
    }

    @Test
    void everyCompletionFreesItsInFlightSlotUnderContention() throws Exception {
        String topic = "rpc-slots";
        createTopic(topic, 2);
        KafkaScoringService service = serve(topic, "rpc-slots-service");
        try (KafkaScoringClient client = KafkaScoringClient.builder(client(), topic).maxInFlight(4).build()) {
            FloatMatrix row = FloatMatrix.of(new float[n], 1, n);
            ExecutorService pool = Executors.newFixedThreadPool(8);
            java.util.concurrent.atomic.AtomicInteger scored = new java.util.concurrent.atomic.AtomicInteger();
            java.util.concurrent.atomic.AtomicInteger refused = new java.util.concurrent.atomic.AtomicInteger();
            try {
                List<Future<?>> workers = new ArrayList<>();
                for (int w = 0; w < 8; w++) {
                    long seed = w;
                    workers.add(pool.submit(() -> {
                        Random random = new Random(seed);
                        for (int i = 0; i < 25; i++) {
                            CompletableFuture<float[]> f = client.score(row);
                            if (random.nextInt(4) == 0) {
                                f.cancel(false); // a caller giving up frees its slot too
                                continue;
                            }
                            try {
                                f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                                scored.incrementAndGet();
                            } catch (ExecutionException e) {
                                assertThat(e.getCause()).isInstanceOf(CapacityExceededException.class);
                                refused.incrementAndGet();
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> w : workers) {
                    w.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(scored.get()).isPositive();
            assertThat(client.pending()).isZero();
            // all four slots are free again: four requests at once are taken and answered
            List<CompletableFuture<float[]>> four = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                four.add(client.score(row));
            }
            for (CompletableFuture<float[]> f : four) {
                assertThat(f.get(WAIT.toSeconds(), TimeUnit.SECONDS)).containsExactly(model.score(row));
            }
        } finally {
            service.close();
        }
    }
}
