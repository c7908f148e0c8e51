package dev.scoreflow.benchmarks;

import dev.scoreflow.client.ClientConfig;
import dev.scoreflow.client.ScoringClient;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.ModelLoaders;
import dev.scoreflow.runtime.ThreadBudget;
import dev.scoreflow.server.ScoringServer;
import dev.scoreflow.streaming.FeatureSpec;
import dev.scoreflow.streaming.StreamApp;
import dev.scoreflow.streaming.TransactionGenerator;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.locks.LockSupport;

/**
 * Stream scoring against its ceilings, side by side in one run on one broker: Kafka's own producer and consumer
 * throughput of the same records, a pass-through Kafka Streams app (exactly once and at least once), the stream
 * scorer with features, statistics and rules on, in-process (exactly once) and through a Scoreflow server (at
 * least once); then each scorer's event-to-score latency at half its measured rate, as a read_committed consumer
 * of the outputs sees it (from the input record's timestamp to the output's arrival).
 *
 * <p>The stream comes from {@link TransactionGenerator} with {@code CARDS} cards (default 50,000: a few events per
 * card in the run, as card streams are; far fewer cards crowd hundreds of events into each card's history).
 *
 * <pre>java -cp ... dev.scoreflow.benchmarks.StreamBench BOOTSTRAP REPO_ROOT [EVENTS] [LATENCY_SECONDS] [CARDS]</pre>
 */
public final class StreamBench {
    private static final int PARTITIONS = 3;
    private static int cards = 50_000;

    private StreamBench() {
    }

    public static void main(String[] args) throws Exception {
        String bs = args[0];
        Path root = Path.of(args[1]);
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 600_000;
        int latencySeconds = args.length > 3 ? Integer.parseInt(args[3]) : 20;
        cards = args.length > 4 ? Integer.parseInt(args[4]) : 50_000;
        System.out.printf("events %,d, cards %,d%n", n, cards);
        String run = Long.toString(System.currentTimeMillis() % 1_000_000);
        Properties client = new Properties();
        client.put("bootstrap.servers", bs);
        Path work = Files.createTempDirectory("stream-bench");
        List<String> rows = new ArrayList<>();

        String in = "sb-in-" + run;
        createTopics(client, in);
        double produced = produce(client, in, n, 0, 0);
        rows.add(row("Kafka producer (acks=all, idempotent)", produced, "-"));
        // ONLY=remote (or inproc): just that scorer, its throughput and latency (to look into one of them)
        String only = System.getenv().getOrDefault("ONLY", "");
        if (only.isEmpty()) {
            rows.add(row("Kafka consumer (read_committed)", consume(client, in, n), "-"));
            rows.add(row("pass-through Kafka Streams, exactly once", passThrough(client, in, n, work, true, run), "-"));
            rows.add(row("pass-through Kafka Streams, at least once", passThrough(client, in, n, work, false, run),
                    "-"));
        }

        FeatureSpec spec = FeatureSpec.read(root.resolve("models/fraud/features.txt"));
        Path rules = root.resolve("models/fraud/rules.txt");
        Path model = root.resolve("models/fraud/1/model.onnx");
        double inProcess = 0;
        if (only.isEmpty() || only.equals("inproc")) {
            inProcess = scorer(client, in, n, work, run + "-inproc", spec, rules, model, null, false);
            rows.add(row("scorer in-process (features, stats, rules), exactly once, RocksDB state", inProcess, "-"));
        }
        if (only.isEmpty()) {
            double inMemory = scorer(client, in, n, work, run + "-inmem", spec, rules, model, null, true);
            rows.add(row("scorer in-process (features, stats, rules), exactly once, in-memory state", inMemory, "-"));
        }
        ModelRepository repo = ModelRepository.builder().threads(new ThreadBudget(1, 1)).model("fraud", model).build();
        try (ScoringServer server = ScoringServer.builder(repo).host("127.0.0.1").port(0).start()) {
            String endpoint = server.uri().toString();
            double remote = 0;
            if (only.isEmpty() || only.equals("remote")) {
                remote = scorer(client, in, n, work, run + "-remote", spec, rules, model, endpoint, false);
                rows.add(row("scorer through a Scoreflow server, at least once", remote, "-"));
            }
            System.out.println("\nthroughput (events/s over the second half of the outputs, as a read_committed consumer "
                    + "sees them):");
            rows.forEach(System.out::println);

            System.out.println("\nevent-to-score latency at half the measured rate (" + latencySeconds + " s): rate, "
                    + "outputs, p50, p99, max, p99 after the first 2 s (ms):");
            if (inProcess > 0) {
                System.out.println(latency(client, work, run + "-lat-inproc", spec, rules, model, null,
                        inProcess / 2, latencySeconds));
            }
            if (remote > 0) {
                System.out.println(latency(client, work, run + "-lat-remote", spec, rules, model, endpoint,
                        remote / 2, latencySeconds));
            }
        }
    }

    static String row(String what, double perSecond, String note) {
        return String.format("| %s | %,.0f | %s |", what, perSecond, note);
    }

    static void createTopics(Properties client, String... topics) throws Exception {
        try (Admin admin = Admin.create(client)) {
            List<NewTopic> t = Arrays.stream(topics).map(x -> new NewTopic(x, PARTITIONS, (short) 1)).toList();
            admin.createTopics(t).all().get();
        }
    }

    /** Writes {@code n} generated transactions; at {@code rate} per second if > 0. @return events/s */
    static double produce(Properties client, String topic, int n, double rate, long seed) {
        Properties p = new Properties();
        p.putAll(client);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "5");
        TransactionGenerator gen = new TransactionGenerator(seed + 3, cards, System::currentTimeMillis, 0, 0, 1, 0);
        long start;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            // the topic's metadata before the clock starts: a record's timestamp is taken when it is sent, so a
            // producer still looking up its topic would add its own start-up to the first events' latency
            producer.partitionsFor(topic);
            start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                if (rate > 0) {
                    long wait = start + (long) (i * 1e9 / rate) - System.nanoTime();
                    if (wait > 0) {
                        LockSupport.parkNanos(wait);
                    }
                }
                TransactionGenerator.Txn t = gen.next();
                producer.send(new ProducerRecord<>(topic, null, System.currentTimeMillis(),
                        t.entity().getBytes(StandardCharsets.UTF_8), t.value()));
            }
            producer.flush();
        }
        return n / ((System.nanoTime() - start) / 1e9);
    }

    static KafkaConsumer<byte[], byte[]> reader(Properties client, String topic) {
        Properties p = new Properties();
        p.putAll(client);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < PARTITIONS; i++) {
            tps.add(new TopicPartition(topic, i));
        }
        c.assign(tps);
        c.seekToBeginning(tps);
        return c;
    }

    /** Reads {@code n} records of {@code topic} from the start. @return records/s from the first to the last */
    static double consume(Properties client, String topic, int n) {
        try (KafkaConsumer<byte[], byte[]> c = reader(client, topic)) {
            return timeOutputs(c, n, Duration.ofMinutes(10));
        }
    }

    /**
     * Reads {@code n} outputs; the rate is that of the second half (the first half warms the JIT: the scorer's
     * first 200,000 events on this machine run at half its later speed while C2 compiles).
     */
    static double timeOutputs(KafkaConsumer<byte[], byte[]> c, int n, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long half = 0;
        int seen = 0;
        while (seen < n) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("only " + seen + " of " + n + " outputs within " + timeout);
            }
            int got = c.poll(Duration.ofMillis(100)).count();
            if (seen < n / 2 && seen + got >= n / 2) {
                half = System.nanoTime();
                seen += got;
                continue;
            }
            seen += got;
        }
        return (n - n / 2) / ((System.nanoTime() - half) / 1e9);
    }

    static double passThrough(Properties client, String in, int n, Path work, boolean eos, String run) throws Exception {
        String out = "sb-pass-" + (eos ? "eos-" : "alo-") + run;
        createTopics(client, out);
        Topology t = new Topology();
        t.addSource("in", new ByteArrayDeserializer(), new ByteArrayDeserializer(), in);
        t.addSink("out", out, new ByteArraySerializer(), new ByteArraySerializer(), "in");
        Properties p = new Properties();
        p.putAll(client);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, out);
        p.put(StreamsConfig.STATE_DIR_CONFIG, work.resolve(out).toString());
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, eos ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        try (KafkaStreams streams = new KafkaStreams(t, p); KafkaConsumer<byte[], byte[]> c = reader(client, out)) {
            streams.start();
            return timeOutputs(c, n, Duration.ofMinutes(10));
        }
    }

    static StreamApp app(Properties client, String in, String out, Path work, String id, FeatureSpec spec, Path rules,
                         Path model, String endpoint, boolean inMemory) {
        StreamApp.Builder b = StreamApp.builder().client(client).topics(in, out, out + ".dlq", out + ".late")
                .features(spec).applicationId(id).stateDir(work.resolve(id))
                .guarantee(endpoint == null ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE)
                .inMemoryState(inMemory);
        if (endpoint == null) {
            b.model(ModelLoaders.load(model, ModelConfig.defaults(), 1), "fraud", "1");
        } else {
            b.remote(ScoringClient.create(ClientConfig.builder(endpoint).model("fraud").build()), "fraud", 256);
        }
        b.statistics(10_000, 0, rules, 3, out + ".stats", out + ".alerts");
        return b.build();
    }

    static double scorer(Properties client, String in, int n, Path work, String id, FeatureSpec spec, Path rules,
                         Path model, String endpoint, boolean inMemory) throws Exception {
        String out = "sb-scores-" + id;
        createTopics(client, out);
        Properties c = new Properties();
        c.putAll(client);
        c.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        try (StreamApp app = app(c, in, out, work, id, spec, rules, model, endpoint, inMemory);
             KafkaConsumer<byte[], byte[]> reader = reader(client, out)) {
            app.start();
            return timeOutputs(reader, n, Duration.ofMinutes(15));
        }
    }

    static String latency(Properties client, Path work, String id, FeatureSpec spec, Path rules, Path model,
                          String endpoint, double rate, int seconds) throws Exception {
        String in = "sb-lat-in-" + id;
        String out = "sb-lat-out-" + id;
        createTopics(client, in, out);
        int n = (int) (rate * seconds);
        long[] lat = new long[n];
        try (StreamApp app = app(client, in, out, work, id, spec, rules, model, endpoint, false);
             KafkaConsumer<byte[], byte[]> reader = reader(client, out)) {
            app.start();
            // the app joins its group and gets every partition before the first event: start-up is not latency
            long ready = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!(app.state() == org.apache.kafka.streams.KafkaStreams.State.RUNNING
                    && app.partitions().size() == PARTITIONS) && System.nanoTime() < ready) {
                LockSupport.parkNanos(Duration.ofMillis(100).toNanos());
            }
            LockSupport.parkNanos(Duration.ofSeconds(2).toNanos()); // and its producers have their transactions
            Thread producer = new Thread(() -> produce(client, in, n, rate, 7));
            producer.start();
            int seen = 0;
            long deadline = System.nanoTime() + Duration.ofSeconds(seconds + 120L).toNanos();
            while (seen < n && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : reader.poll(Duration.ofMillis(50))) {
                    if (seen < n) {
                        lat[seen++] = System.currentTimeMillis() - r.timestamp();
                    }
                }
            }
            producer.join();
            // the latency second by second of arrival (stderr): a backlog that grows shows as a rising p50
            for (int from = 0; from < seen; from += (int) rate) {
                long[] sec = Arrays.copyOfRange(lat, from, Math.min(seen, from + (int) rate));
                Arrays.sort(sec);
                System.err.printf("latency %s second %d: p50 %d ms, p99 %d ms%n", id, from / (int) rate,
                        pct(sec, 0.5), pct(sec, 0.99));
            }
            long[] got = Arrays.copyOf(lat, seen);
            long[] after2s = Arrays.copyOfRange(lat, Math.min(seen, (int) (2 * rate)), seen);
            Arrays.sort(got);
            Arrays.sort(after2s);
            return String.format("| %s | %,.0f | %,d of %,d | %d | %d | %d | %d |", endpoint == null
                    ? "in-process, exactly once (commit interval 100 ms)" : "remote, at least once", rate, seen, n,
                    pct(got, 0.5), pct(got, 0.99), got.length == 0 ? -1 : got[got.length - 1], pct(after2s, 0.99));
        }
    }

    static long pct(long[] sorted, double q) {
        return sorted.length == 0 ? -1 : sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }
}
