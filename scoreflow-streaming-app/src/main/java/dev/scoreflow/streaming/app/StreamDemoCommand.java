package dev.scoreflow.streaming.app;

import dev.scoreflow.api.internal.Json;
import dev.scoreflow.api.internal.Log;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.ModelLoaders;
import dev.scoreflow.streaming.EmbeddedBroker;
import dev.scoreflow.streaming.FeatureSpec;
import dev.scoreflow.streaming.StreamApp;
import dev.scoreflow.streaming.TransactionGenerator;
import dev.scoreflow.streaming.internal.Durations;
import dev.scoreflow.streaming.internal.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code scoreflow demo stream}: the streaming job on embedded defaults, from an empty machine to alerts.
 */
@Command(name = "stream", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The streaming job on embedded defaults: start a Kafka broker, write a stream of card "
                + "transactions that starts drifting halfway (with some late and malformed events), score every "
                + "event with the bundled fraud model and live per-card features (exactly once), show progress and "
                + "the alerts as the drift sets in, and look up one card's features at the end.", ""})
public final class StreamDemoCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault());

    @Option(names = "--seconds", defaultValue = "40", paramLabel = "S", description = "How long the stream runs "
            + "(default: ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--rate", defaultValue = "1000", paramLabel = "R", description = "Events per second "
            + "(default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--stats-window", defaultValue = "5s", paramLabel = "DURATION", description = "Statistics "
            + "windows (default: ${DEFAULT-VALUE}).")
    String statsWindow;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "Broker data and state (default: a new "
            + "temporary directory).")
    Path workDir;

    @Override
    public Integer call() throws Exception {
        Path home = Path.of(System.getProperty("scoreflow.home", "."));
        Path dir = workDir != null ? workDir : Files.createTempDirectory("scoreflow-demo-stream");
        long count = (long) seconds * rate;
        long windowMs = Durations.parseMs(statsWindow, "--stats-window");
        Log.info("starting a Kafka broker in " + dir.resolve("kafka"));
        try (EmbeddedBroker broker = EmbeddedBroker.start(dir.resolve("kafka"), "127.0.0.1", 0, Map.of())) {
            String bs = broker.bootstrapServers();
            Log.info("kafka ready on " + bs);
            Properties client = new Properties();
            client.put("bootstrap.servers", bs);
            try (Admin admin = Topics.admin(client)) {
                Topics.ensure(admin, "transactions", 3, Map.of());
            }
            FeatureSpec spec = FeatureSpec.read(home.resolve("models/fraud/features.txt"));
            StreamApp app = StreamApp.builder().client(client)
                    .topics("transactions", "scores", "transactions.dlq", "transactions.late")
                    .features(spec)
                    .model(ModelLoaders.load(home.resolve("models/fraud/1/model.onnx"), ModelConfig.defaults(), 1),
                            "fraud", "1")
                    .statistics(windowMs, 0,
                            home.resolve("models/fraud/rules.txt"), 3, "transactions.stats", "transactions.alerts")
                    .applicationId("scoreflow-demo").stateDir(dir.resolve("state"))
                    .build();
            app.start();
            Log.info("scoring transactions -> scores with the bundled fraud model, " + spec.size()
                    + " features per event (models/fraud/features.txt), rules from models/fraud/rules.txt");
            AtomicBoolean done = new AtomicBoolean();
            Thread alerts = new Thread(() -> printAlerts(bs, done), "demo-alerts");
            alerts.setDaemon(true);
            alerts.start();
            long driftAfter = count * 2 / 5;
            Log.info(String.format("producing %,d transactions at %,d/s for %d s; the drift begins after %,d", count,
                    rate, seconds, driftAfter));
            produce(bs, count, driftAfter, app);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (app.progress().events() < count && app.failed() == null && System.nanoTime() < deadline) {
                LockSupport.parkNanos(200_000_000L);
            }
            // one more window and its grace, so the last windows close (and the silence rule sees the stream stop)
            long settle = windowMs * 3 + 5_000;
            Log.info("all events in; waiting " + settle / 1000 + " s for the last windows to close");
            LockSupport.parkNanos(settle * 1_000_000L);
            StreamApp.Progress m = app.progress();
            Map<String, Object> lookup = app.features("card-000042", null);
            System.out.println();
            System.out.printf("events %,d: scored %,d, dead letters %,d (malformed), late %,d; alerts fired %d%n",
                    m.events(), m.scored(), m.deadLetters(), m.late(), m.alertsFired());
            System.out.println("features of card-000042 now (GET /features/card-000042 would answer this):");
            System.out.println("  " + (lookup == null ? "(no events for it)" : Json.write(lookup)));
            done.set(true);
            alerts.join(5_000); // before the broker stops, so the reader does not complain about it
            app.close(Duration.ofSeconds(30));
            return app.failed() == null && m.events() == count ? 0 : 1;
        }
    }

    private void produce(String bs, long count, long driftAfter, StreamApp app) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("linger.ms", "5");
        TransactionGenerator gen = new TransactionGenerator(1, 2000, System::currentTimeMillis, 0.005, 0.005, 20_000,
                driftAfter);
        long start = System.nanoTime();
        long lastReport = start;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            for (long i = 0; i < count; i++) {
                long wait = start + (long) (i * 1e9 / rate) - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                }
                TransactionGenerator.Txn t = gen.next();
                producer.send(new ProducerRecord<>("transactions", null, System.currentTimeMillis(),
                        t.entity().getBytes(StandardCharsets.UTF_8), t.value()));
                long now = System.nanoTime();
                if (now - lastReport > 2_000_000_000L) {
                    lastReport = now;
                    StreamApp.Progress m = app.progress();
                    Log.info(String.format("produced %,d%s, scored %,d, dead letters %,d, late %,d%s", i + 1,
                            i + 1 > driftAfter ? " (drifting)" : "", m.scored(), m.deadLetters(), m.late(),
                            Double.isNaN(m.windowEventsPerSecond()) ? ""
                                    : String.format("; last window: %,.0f events/s, mean score %.3f, positive %.1f %%",
                                    m.windowEventsPerSecond(), m.windowMeanScore(), 100 * m.windowPositiveRate())));
                }
            }
        }
    }

    private static void printAlerts(String bs, AtomicBoolean done) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "scoreflow-demo-alerts");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            c.subscribe(List.of("transactions.alerts"));
            while (!done.get()) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    Map<String, Object> a = Json.parseObject(ByteBuffer.wrap(r.value().getBytes(StandardCharsets.UTF_8)),
                            "alert");
                    Log.info(String.format("ALERT %s %s: %s (value %s) in the window %s-%s", a.get("rule"),
                            String.valueOf(a.get("state")).toUpperCase(java.util.Locale.ROOT), a.get("condition"),
                            a.get("value") instanceof Double d ? String.format("%.3f", d) : "none",
                            TIME.format(Instant.ofEpochMilli(((Double) a.get("window_start")).longValue())),
                            TIME.format(Instant.ofEpochMilli(((Double) a.get("window_end")).longValue()))));
                }
            }
        } catch (RuntimeException e) {
            Log.info("the alerts reader stopped: " + e);
        }
    }
}
