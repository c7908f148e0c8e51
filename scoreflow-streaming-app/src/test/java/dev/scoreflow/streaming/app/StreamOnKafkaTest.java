package dev.scoreflow.streaming.app;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.internal.Json;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.OnnxModel;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.streaming.EmbeddedBroker;
import dev.scoreflow.streaming.TransactionGenerator;
import dev.scoreflow.streaming.internal.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The stream scorer on a real Kafka broker (the embedded one), in real processes: every event scored or
 * dead-lettered exactly once through a SIGKILL and a restart, two instances splitting the partitions with one
 * killed, and a broker restart; and the scores and features equal an independent offline recomputation.
 */
@Tag("slow")
class StreamOnKafkaTest {
    /** The header naming the instance that answered a feature lookup (the library's StreamHttp.SERVED_BY). */
    static final String SERVED_BY = "X-Scoreflow-Served-By";
    static final long T0 = 1_767_225_600_000L;
    static final int EVENTS = 12_000;

    @TempDir
    static Path dir;
    static EmbeddedBroker broker;

    @BeforeAll
    static void startBroker() {
        // the events' time starts at T0 (2026-01-01) and alerts carry their window's event time: with the default 7-day
        // retention the broker's first retention check (30 s after start) deleted the alerts mid-test
        broker = EmbeddedBroker.start(dir.resolve("kafka"), "127.0.0.1", 0, Map.of("log.retention.ms", "-1"));
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    /** Client settings for the children: a killed member leaves the group in seconds, not 45 s. */
    static Path clientConfig(String bootstrap) throws Exception {
        Path f = Files.createTempFile(dir, "client", ".properties");
        Files.writeString(f, "bootstrap.servers=" + bootstrap + "\nsession.timeout.ms=6000\n"
                + "heartbeat.interval.ms=1500\n");
        return f;
    }

    static String[] streamArgs(String bootstrap, String prefix, Path state) throws Exception {
        Path rules = Files.createTempFile(dir, "rules", ".txt");
        // fires in the first window; it may resolve if the statistics' idle clock closes a window early (a stall of
        // a window's length on a loaded machine), so the test checks that each transition is written once
        Files.writeString(rules, "busy: count > 10\n");
        return new String[]{"--client-config", clientConfig(bootstrap).toString(), "--bootstrap-servers", bootstrap,
            "--rules", rules.toString(), "--stats-window", "2s",
            "--input-topic", prefix + "-tx", "--output-topic", prefix + "-scores", "--model",
            TestModels.fraud().toString(), "--features", TestModels.fraudFeatures().toString(), "--application-id",
            prefix + "-app", "--state-dir", state.toString()};
    }

    /** Writes {@code n} generated transactions (1,000 a second of event time from T0), keyed by card, in order. */
    static List<TransactionGenerator.Txn> produce(String bootstrap, String topic, int n, long seed) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        try (Admin admin = Topics.admin(p)) {
            Topics.ensure(admin, topic, 3, Map.of());
        }
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        AtomicLong clock = new AtomicLong(T0);
        TransactionGenerator gen = new TransactionGenerator(seed, 300, () -> clock.addAndGet(1), 0.02, 0.02, 20_000, 0);
        List<TransactionGenerator.Txn> out = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            for (int i = 0; i < n; i++) {
                TransactionGenerator.Txn t = gen.next();
                out.add(t);
                producer.send(new ProducerRecord<>(topic, t.entity().getBytes(StandardCharsets.UTF_8), t.value()));
            }
            producer.flush();
        }
        return out;
    }

    /** A read_committed reader of a topic from its beginning, that keeps what it has read. */
    static final class Reader implements AutoCloseable {
        final KafkaConsumer<byte[], byte[]> consumer;
        final List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        final List<TopicPartition> partitions;

        Reader(String bootstrap, String topic) {
            Properties p = new Properties();
            p.put("bootstrap.servers", bootstrap);
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
            partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
        }

        int poll() {
            consumer.poll(Duration.ofMillis(100)).forEach(records::add);
            return records.size();
        }

        /** Reads up to the last committed record of every partition (the app must have stopped). */
        List<ConsumerRecord<byte[], byte[]>> readToEnd(Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    fail("did not reach the end of " + partitions + " in " + timeout);
                }
                poll();
            }
            return records;
        }

        @Override
        public void close() {
            consumer.close();
        }
    }

    /** The last count a condition passed to {@link #progress}, for the failure message. */
    private static final AtomicLong PROGRESS = new AtomicLong(-1);

    static long progress(long count) {
        PROGRESS.set(count);
        return count;
    }

    /**
     * Waits for {@code condition}; fails at once if an app died, and on either failure says how far things got and
     * shows the end of every app's log (where a stall shows; a whole log is cut short by the CI's report).
     */
    static void await(String what, Duration timeout, BooleanSupplier condition, StreamProcess... apps) {
        PROGRESS.set(-1);
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
            StreamProcess dead = java.util.Arrays.stream(apps).filter(a -> !a.alive()).findFirst().orElse(null);
            if (dead != null || System.nanoTime() > deadline) {
                StringBuilder logs = new StringBuilder();
                for (StreamProcess a : apps) {
                    List<String> lines = a.logText().lines().toList();
                    logs.append("\n--- last lines of ").append(a.log).append(" (").append(lines.size())
                            .append(" lines, ").append(a.alive() ? "running" : "exited").append("):\n")
                            .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size())));
                }
                fail((dead != null ? "an app exited after " : "timed out after ")
                        + Duration.ofNanos(System.nanoTime() - start).toSeconds() + " s waiting for " + what
                        + (PROGRESS.get() >= 0 ? "; got to " + PROGRESS.get() : "") + logs);
            }
        }
    }

    static Map<String, Object> json(byte[] value) {
        return Json.parseObject(ByteBuffer.wrap(value), "record");
    }

    /** Every input record is exactly one output or one dead letter; returns the outputs by event id. */
    static Map<String, Map<String, Object>> assertExactlyOnce(List<TransactionGenerator.Txn> in,
                                                                List<ConsumerRecord<byte[], byte[]>> scores,
                                                                List<ConsumerRecord<byte[], byte[]>> dead) {
        assertThat(scores.size() + dead.size()).as("outputs + dead letters").isEqualTo(in.size());
        Map<String, Map<String, Object>> byId = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : scores) {
            Map<String, Object> s = json(r.value());
            assertThat(byId.put((String) s.get("event_id"), s)).as("scored twice: %s", s.get("event_id")).isNull();
            assertThat(new String(r.key(), StandardCharsets.UTF_8)).isEqualTo(s.get("entity"));
        }
        long malformed = in.stream().filter(t -> t.malformed() != null).count();
        assertThat(dead).hasSize((int) malformed);
        Set<String> deadSources = new HashSet<>();
        for (ConsumerRecord<byte[], byte[]> d : dead) {
            String src = header(d, "scoreflow.dlq.partition") + "/" + header(d, "scoreflow.dlq.offset");
            assertThat(deadSources.add(src)).as("dead-lettered twice: %s", src).isTrue();
        }
        for (TransactionGenerator.Txn t : in) {
            if (t.malformed() == null) {
                assertThat(byId).containsKey((String) json(t.value()).get("event_id"));
            }
        }
        return byId;
    }

    static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        return new String(r.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    @Test
    void scoresEveryEventExactlyOnceThroughASigkillAndARestartWithTheFeaturesAndScoresOfAnOfflineRecomputation()
            throws Exception {
        String bs = broker.bootstrapServers();
        List<TransactionGenerator.Txn> in = produce(bs, "a-tx", EVENTS, 11);
        Path state = dir.resolve("a-state");
        try (StreamProcess first = new StreamProcess(dir.resolve("a1.log"), streamArgs(bs, "a", state))) {
            try (Reader out = new Reader(bs, waitForTopic(bs, "a-scores", first))) {
                await("a third of the events scored", Duration.ofSeconds(120), () -> out.poll() >= EVENTS / 3, first);
            }
            first.kill();
        }
        try (StreamProcess second = new StreamProcess(dir.resolve("a2.log"), streamArgs(bs, "a", state));
             Reader out = new Reader(bs, "a-scores"); Reader dead = new Reader(bs, "a-tx.dlq")) {
            await("every event scored or dead-lettered (" + EVENTS + ")", Duration.ofSeconds(180),
                    () -> progress(out.poll() + dead.poll()) >= EVENTS, second);
            assertThat(second.stop()).as("clean stop on SIGTERM:\n%s", second.logText()).isTrue();
            Map<String, Map<String, Object>> byId = assertExactlyOnce(in, out.readToEnd(Duration.ofSeconds(30)),
                    dead.readToEnd(Duration.ofSeconds(30)));
            assertParity(in, byId);
            try (Reader alerts = new Reader(bs, "a-tx.alerts")) {
                List<String> ids = alerts.readToEnd(Duration.ofSeconds(30)).stream()
                        .map(r -> (String) json(r.value()).get("alert_id")).toList();
                assertThat(ids).as("each transition written once, across the kill and restart; the restarted app's "
                        + "log:\n%s", second.logText()).isNotEmpty().doesNotHaveDuplicates();
                assertThat(ids.get(0)).as("the rule fired first").endsWith(":firing");
            }
        }
    }

    @Test
    void scoresThroughARealServerAtLeastOnceInOrderPerPartitionThroughASigkill() throws Exception {
        String bs = broker.bootstrapServers();
        List<TransactionGenerator.Txn> in = produce(bs, "d-tx", EVENTS, 14);
        dev.scoreflow.runtime.ModelRepository repo = dev.scoreflow.runtime.ModelRepository.builder()
                .threads(new dev.scoreflow.runtime.ThreadBudget(1, 1)).model("fraud", TestModels.fraud()).build();
        try (dev.scoreflow.server.ScoringServer server = dev.scoreflow.server.ScoringServer.builder(repo).port(0)
                .host("127.0.0.1").start()) {
            String[] args = remote(streamArgs(bs, "d", dir.resolve("d")), server.uri().toString());
            try (StreamProcess first = new StreamProcess(dir.resolve("d1.log"), args)) {
                try (Reader out = new Reader(bs, waitForTopic(bs, "d-scores", first))) {
                    await("a third of the events scored", Duration.ofSeconds(120), () -> out.poll() >= EVENTS / 3,
                            first);
                }
                first.kill();
            }
            try (StreamProcess second = new StreamProcess(dir.resolve("d2.log"), args);
                 Reader out = new Reader(bs, "d-scores"); Reader dead = new Reader(bs, "d-tx.dlq")) {
                Set<String> seen = new HashSet<>();
                int[] read = {0, 0};
                await("every event scored or dead-lettered at least once", Duration.ofSeconds(180), () -> {
                    out.poll();
                    dead.poll();
                    for (; read[0] < out.records.size(); read[0]++) {
                        seen.add((String) json(out.records.get(read[0]).value()).get("event_id"));
                    }
                    return seen.size() + dead.records.size() >= EVENTS;
                }, second);
                assertThat(second.stop()).as("clean stop on SIGTERM:\n%s", second.logText()).isTrue();
                List<ConsumerRecord<byte[], byte[]>> scored = out.readToEnd(Duration.ofSeconds(30));
                // at least once: duplicates may follow the kill; the first of each is in its partition's order
                Map<String, Map<String, Object>> byId = new HashMap<>();
                Map<String, List<String>> orderPerEntity = new HashMap<>();
                for (ConsumerRecord<byte[], byte[]> r : scored) {
                    Map<String, Object> s = json(r.value());
                    if (byId.putIfAbsent((String) s.get("event_id"), s) == null) {
                        orderPerEntity.computeIfAbsent((String) s.get("entity"), k -> new ArrayList<>())
                                .add((String) s.get("event_id"));
                    }
                }
                Map<String, List<String>> expectedOrder = new HashMap<>();
                for (TransactionGenerator.Txn t : in) {
                    if (t.malformed() == null) {
                        Map<String, Object> e = json(t.value());
                        expectedOrder.computeIfAbsent((String) e.get("entity"), k -> new ArrayList<>())
                                .add((String) e.get("event_id"));
                    }
                }
                assertThat(orderPerEntity).isEqualTo(expectedOrder);
                assertThat(dead.records).hasSize((int) in.stream().filter(t -> t.malformed() != null).count());
                assertParity(in, byId);
            }
        }
    }

    static String[] remote(String[] args, String endpoint) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--model")) {
                i++; // scored by the server instead
                continue;
            }
            out.add(args[i]);
        }
        out.addAll(List.of("--endpoint", endpoint, "--server-model", "fraud", "--batch-rows", "100"));
        return out.toArray(String[]::new);
    }

    @Test
    void twoInstancesSplitThePartitionsAndOneTakesOverWhenTheOtherIsKilled() throws Exception {
        String bs = broker.bootstrapServers();
        produce(bs, "b-tx", 0, 12);
        try (StreamProcess one = new StreamProcess(dir.resolve("b1.log"), withHttp(streamArgs(bs, "b", dir.resolve("b1"))));
             StreamProcess two = new StreamProcess(dir.resolve("b2.log"), withHttp(streamArgs(bs, "b", dir.resolve("b2"))))) {
            // both hold partitions before any event arrives, so both score
            await("both instances scoring some partitions", Duration.ofSeconds(120),
                    () -> assigned(one) && assigned(two), one, two);
            List<TransactionGenerator.Txn> in = produce(bs, "b-tx", EVENTS, 12);
            try (Reader out = new Reader(bs, "b-scores")) {
                await("a quarter of the events scored", Duration.ofSeconds(120), () -> out.poll() >= EVENTS / 4,
                        one, two);
            }
            // either instance answers any card's features: the one that holds it, or through it
            int p1 = httpPort(one);
            int p2 = httpPort(two);
            for (String card : List.of("card-000007", "card-000100", "card-000222")) {
                HttpResponse<String> a = get(p1, "/features/" + card);
                HttpResponse<String> b = get(p2, "/features/" + card);
                assertThat(a.statusCode()).as(a.body()).isEqualTo(200);
                assertThat(b.statusCode()).as(b.body()).isEqualTo(200);
                assertThat(a.headers().firstValue(SERVED_BY))
                        .isEqualTo(b.headers().firstValue(SERVED_BY)).isPresent();
                assertThat(json(a.body().getBytes(StandardCharsets.UTF_8))).containsEntry("entity", card)
                        .containsKey("features");
            }
            Set<String> servers = new HashSet<>();
            for (int c = 0; c < 30; c++) {
                HttpResponse<String> r = get(p1, "/features/" + String.format("card-%06d", c));
                if (r.statusCode() == 200) {
                    servers.add(r.headers().firstValue(SERVED_BY).orElseThrow());
                }
            }
            assertThat(servers).as("the cards live on both instances").hasSize(2);
            String metrics = get(p1, "/metrics").body();
            assertThat(metrics).containsPattern("scoreflow_stream_store_entries\\{store=\"entity-history\"} [1-9]")
                    .contains("scoreflow_stream_store_bytes{store=\"entity-history\",where=\"memtable\"}");
            HttpResponse<String> scored = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + p2 + "/score")).POST(HttpRequest.BodyPublishers.ofString(
                    "{\"event_id\":\"q1\",\"entity\":\"card-000007\",\"ts\":" + (T0 + 5_000) + ",\"amount\":99.5,"
                            + "\"merchant\":\"m-0001\",\"country\":\"DE\",\"merchant_risk\":0.1,\"foreign\":0}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(scored.statusCode()).as(scored.body()).isEqualTo(200);
            assertThat(json(scored.body().getBytes(StandardCharsets.UTF_8))).containsKeys("score", "features");
            one.kill();
            try (Reader out = new Reader(bs, "b-scores"); Reader dead = new Reader(bs, "b-tx.dlq")) {
                await("every event scored or dead-lettered (" + EVENTS + ")", Duration.ofSeconds(180),
                        () -> progress(out.poll() + dead.poll()) >= EVENTS, two);
                await("the survivor scoring all three partitions", Duration.ofSeconds(30),
                        () -> two.logText().contains("scoring partitions [0, 1, 2]"), two);
                assertThat(two.stop()).as("clean stop on SIGTERM:\n%s", two.logText()).isTrue();
                assertExactlyOnce(in, out.readToEnd(Duration.ofSeconds(30)), dead.readToEnd(Duration.ofSeconds(30)));
            }
        }
    }

    static String[] withHttp(String[] args) {
        String[] out = java.util.Arrays.copyOf(args, args.length + 2);
        out[args.length] = "--http-port";
        out[args.length + 1] = "0";
        return out;
    }

    /** The HTTP port the instance logged. */
    static int httpPort(StreamProcess app) {
        await("the HTTP port", Duration.ofSeconds(60), () -> app.logText().contains("http on port "), app);
        String log = app.logText();
        int i = log.indexOf("http on port ") + "http on port ".length();
        return Integer.parseInt(log.substring(i, log.indexOf(':', i)));
    }

    static HttpResponse<String> get(int port, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The instance's latest assignment (as it logs it) is not empty. */
    static boolean assigned(StreamProcess app) {
        String log = app.logText();
        int i = log.lastIndexOf("scoring partitions [");
        return i >= 0 && log.charAt(i + "scoring partitions [".length()) != ']';
    }

    @Test
    void survivesABrokerRestartMidStream(@TempDir Path own) throws Exception {
        EmbeddedBroker b = EmbeddedBroker.start(own.resolve("kafka"), "127.0.0.1", 0, Map.of());
        String bs = b.bootstrapServers();
        int port = Integer.parseInt(bs.substring(bs.lastIndexOf(':') + 1));
        try {
            List<TransactionGenerator.Txn> in = produce(bs, "c-tx", EVENTS, 13);
            try (StreamProcess app = new StreamProcess(own.resolve("c.log"), streamArgs(bs, "c", own.resolve("c")))) {
                try (Reader out = new Reader(bs, waitForTopic(bs, "c-scores", app))) {
                    await("a third of the events scored", Duration.ofSeconds(120), () -> out.poll() >= EVENTS / 3, app);
                }
                b.close();
                b = EmbeddedBroker.start(own.resolve("kafka"), "127.0.0.1", port, Map.of());
                try (Reader out = new Reader(bs, "c-scores"); Reader dead = new Reader(bs, "c-tx.dlq")) {
                    await("every event scored or dead-lettered (" + EVENTS + ")", Duration.ofSeconds(180),
                            () -> progress(out.poll() + dead.poll()) >= EVENTS, app);
                    assertThat(app.stop()).as("clean stop on SIGTERM:\n%s", app.logText()).isTrue();
                    assertExactlyOnce(in, out.readToEnd(Duration.ofSeconds(30)), dead.readToEnd(Duration.ofSeconds(30)));
                }
            }
        } finally {
            b.close();
        }
    }

    /** The output topic exists once the app has started. */
    static String waitForTopic(String bs, String topic, StreamProcess... apps) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        try (Admin admin = Topics.admin(p)) {
            await("topic " + topic, Duration.ofSeconds(60), () -> {
                try {
                    return admin.listTopics().names().get().contains(topic);
                } catch (Exception e) {
                    return false;
                }
            }, apps);
        }
        return topic;
    }

    /**
     * Recomputes every event's features from the raw events, straightforwardly (every earlier event of the entity
     * in a list, no eviction; independent of {@link EntityHistory}), scores them with ONNX Runtime in-process, and
     * compares with the stream's: features within 1e-6 relative, scores within 1e-5.
     */
    static void assertParity(List<TransactionGenerator.Txn> in, Map<String, Map<String, Object>> byId) {
        String[] names = {"amount", "merchant_risk", "foreign", "txn_count_1m", "amount_sum_1m", "amount_mean_1h",
            "amount_max_1h", "amount_ratio_1h", "countries_1h", "merchants_10m", "secs_since_prev"};
        Map<String, List<Map<String, Object>>> seen = new HashMap<>();
        List<String> ids = new ArrayList<>();
        List<float[]> vectors = new ArrayList<>();
        for (TransactionGenerator.Txn t : in) {
            if (t.malformed() != null) {
                continue;
            }
            Map<String, Object> e = json(t.value());
            List<Map<String, Object>> earlier = seen.computeIfAbsent((String) e.get("entity"), k -> new ArrayList<>());
            long ts = ((Double) e.get("ts")).longValue();
            double amount = (Double) e.get("amount");
            int n1m = 1;
            double sum1m = amount;
            int n1h = 1;
            double sum1h = amount;
            double max1h = amount;
            Set<Object> countries = new HashSet<>(List.of(e.get("country")));
            Set<Object> merchants = new HashSet<>(List.of(e.get("merchant")));
            long prev = Long.MIN_VALUE;
            for (Map<String, Object> o : earlier) {
                long ots = ((Double) o.get("ts")).longValue();
                double oa = (Double) o.get("amount");
                if (ots > ts) {
                    continue;
                }
                prev = Math.max(prev, ots);
                if (ts - ots < 60_000) {
                    n1m++;
                    sum1m += oa;
                }
                if (ts - ots < 600_000) {
                    merchants.add(o.get("merchant"));
                }
                if (ts - ots < 3_600_000) {
                    n1h++;
                    sum1h += oa;
                    max1h = Math.max(max1h, oa);
                    countries.add(o.get("country"));
                }
            }
            double mean1h = sum1h / n1h;
            double[] x = {amount, (Double) e.get("merchant_risk"), (Double) e.get("foreign"), n1m, sum1m, mean1h, max1h,
                mean1h == 0 ? 0 : amount / mean1h, countries.size(), merchants.size(),
                prev == Long.MIN_VALUE ? -1 : (ts - prev) / 1000.0};
            float[] f = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                f[i] = (float) x[i];
            }
            earlier.add(e);
            ids.add((String) e.get("event_id"));
            vectors.add(f);
        }
        assertThat(ids.size()).isGreaterThanOrEqualTo(EVENTS * 9 / 10);
        float[] all = new float[vectors.size() * names.length];
        for (int i = 0; i < vectors.size(); i++) {
            System.arraycopy(vectors.get(i), 0, all, i * names.length, names.length);
        }
        float[] expected;
        try (OnnxModel model = OnnxModel.load(TestModels.fraud(), ModelConfig.defaults(), 1)) {
            expected = model.score(FloatMatrix.of(all, vectors.size(), names.length));
        }
        for (int i = 0; i < ids.size(); i++) {
            Map<String, Object> s = byId.get(ids.get(i));
            @SuppressWarnings("unchecked")
            Map<String, Object> features = (Map<String, Object>) s.get("features");
            for (int k = 0; k < names.length; k++) {
                double got = (Double) features.get(names[k]);
                double want = vectors.get(i)[k];
                assertThat(Math.abs(got - want)).as("%s of %s: stream %s, offline %s", names[k], ids.get(i), got, want)
                        .isLessThanOrEqualTo(1e-6 * Math.max(1, Math.abs(want)));
            }
            assertThat(Math.abs((Double) s.get("score") - expected[i])).as("score of %s", ids.get(i))
                    .isLessThanOrEqualTo(1e-5);
        }
    }
}
