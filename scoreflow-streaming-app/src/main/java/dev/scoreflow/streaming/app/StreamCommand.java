package dev.scoreflow.streaming.app;

import dev.scoreflow.api.Model;
import dev.scoreflow.api.internal.Log;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.ModelLoaders;
import dev.scoreflow.streaming.FeatureSpec;
import dev.scoreflow.streaming.StreamApp;
import dev.scoreflow.streaming.internal.Durations;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code scoreflow stream}: score every event of a topic with live per-entity features. */
@Command(name = "stream", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Score every event of a Kafka topic with Kafka Streams: parse it (bad records go to the "
                + "dead-letter topic with the reason), compute its entity's features from the events seen so far "
                + "(declared in --features; kept in fault-tolerant state stores), score them in-process with ONNX "
                + "Runtime, and write one record per event to the output topic: event_id, entity, ts, score, "
                + "prediction, model, model_version, features, scored_at. Exactly-once by default.",
                "Without --model, the bundled fraud model and its features score the transactions that "
                        + "'scoreflow produce' writes.", ""})
public final class StreamCommand implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka;

    @Option(names = "--input-topic", required = true, paramLabel = "TOPIC", description = "Events to score.")
    String inputTopic;

    @Option(names = "--output-topic", required = true, paramLabel = "TOPIC", description = "Scores (created with "
            + "the input's partition count if missing).")
    String outputTopic;

    @Option(names = "--dlq-topic", paramLabel = "TOPIC", description = "Dead letters (default: <input>.dlq).")
    String dlqTopic;

    @Option(names = "--late-topic", paramLabel = "TOPIC", description = "Copies of events later than the grace "
            + "period (default: <input>.late; they are scored too).")
    String lateTopic;

    @Option(names = "--model", paramLabel = "FILE", description = "ONNX model, scored in-process (default: the "
            + "bundled fraud model, models/fraud/1/model.onnx).")
    Path model;

    @Option(names = "--endpoint", paramLabel = "URL[,URL...]", description = "Score through these Scoreflow (or "
            + "Open Inference Protocol) servers instead, in batches, balanced, retried, at least once.")
    String endpoints;

    @Option(names = "--server-model", paramLabel = "NAME", description = "With --endpoint: the model's name on the "
            + "servers (default: the servers' default model).")
    String serverModel;

    @Option(names = "--protocol", defaultValue = "seed", paramLabel = "seed|v2", description = "With --endpoint: "
            + "the protocol (default: ${DEFAULT-VALUE}).")
    String protocol;

    @Option(names = "--batch-rows", defaultValue = "256", paramLabel = "N", description = "Events per model call: "
            + "in-process, a task scores up to N queued events (queued for at most 5 ms) in one call; with "
            + "--endpoint, events per request (default: ${DEFAULT-VALUE}).")
    int batchRows;

    @Option(names = "--features", paramLabel = "FILE", description = "The model's inputs, declared (default: with "
            + "the bundled model, models/fraud/features.txt; see the README for the format).")
    Path features;

    @Option(names = "--threshold", defaultValue = "0.5", paramLabel = "T", description = "prediction = score >= T "
            + "(default: ${DEFAULT-VALUE}).")
    double threshold;

    @Option(names = "--grace-ms", defaultValue = "5000", paramLabel = "MS", description = "Events up to this far "
            + "behind the stream time are on time; later ones are counted late (default: ${DEFAULT-VALUE}).")
    long graceMs;

    @Option(names = "--max-history", defaultValue = "10000", paramLabel = "N", description = "Events kept per "
            + "entity at most; older ones beyond are dropped and counted (default: ${DEFAULT-VALUE}).")
    int maxHistory;

    @Option(names = "--application-id", defaultValue = "scoreflow-stream", paramLabel = "ID", description = "Kafka "
            + "Streams application id: the consumer group and the prefix of its internal topics; instances with "
            + "the same id share the partitions (default: ${DEFAULT-VALUE}).")
    String applicationId;

    @Option(names = "--state-dir", paramLabel = "DIR", description = "Where the local state stores live (default: "
            + "<tmp>/scoreflow-streams).")
    Path stateDir;

    @Option(names = "--threads", defaultValue = "1", paramLabel = "N", description = "Stream threads (default: "
            + "${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--standby-replicas", defaultValue = "0", paramLabel = "N", description = "Warm copies of each "
            + "state store on other instances, for fast failover (default: ${DEFAULT-VALUE}).")
    int standbyReplicas;

    @Option(names = "--guarantee", defaultValue = "exactly_once_v2", paramLabel = "G", description =
            "exactly_once_v2 or at_least_once (default: ${DEFAULT-VALUE}).")
    String guarantee;

    @Option(names = "--commit-interval-ms", paramLabel = "MS", description = "How often progress is committed "
            + "(default: Kafka Streams': 100 with exactly-once, 30000 at-least-once).")
    Long commitIntervalMs;

    @Option(names = "--state-store", defaultValue = "rocksdb", paramLabel = "rocksdb|memory", description = "Where "
            + "the features and statistics state lives: RocksDB (state larger than memory) or the heap (faster; "
            + "restored in full from the changelogs after a restart) (default: ${DEFAULT-VALUE}).")
    String stateStore;

    @Option(names = "--repartition", description = "The input is not keyed by entity: repartition it through an "
            + "internal topic first (default: the input is keyed by entity, as 'scoreflow produce' writes it).")
    boolean repartition;

    @Option(names = "--stats-window", defaultValue = "10s", paramLabel = "DURATION", description = "Windowed "
            + "statistics (rate, mean score, positive rate, feature means, PSI) over windows this long, e.g. 10s, "
            + "1m (default: ${DEFAULT-VALUE}; 0: none).")
    String statsWindow;

    @Option(names = "--stats-hop", paramLabel = "DURATION", description = "Hopping windows: a new one every "
            + "DURATION (default: the window, i.e. tumbling).")
    String statsHop;

    @Option(names = "--rules", paramLabel = "FILE", description = "Triggers over the statistics, e.g. "
            + "'drift: psi(score) > 0.2 for 2 windows' (see the README).")
    Path rules;

    @Option(names = "--reference-windows", defaultValue = "3", paramLabel = "N", description = "PSI compares with "
            + "the first N closed windows that have events (default: ${DEFAULT-VALUE}).")
    int referenceWindows;

    @Option(names = "--reference", paramLabel = "FILE", description = "PSI compares with the scores and features of "
            + "this file instead: JSON lines of scored events as the output topic holds them (e.g. saved with "
            + "'scoreflow consume --topic OUT --from-beginning --max 50000 > FILE').")
    Path reference;

    @Option(names = "--stats-topic", paramLabel = "TOPIC", description = "Closed windows' statistics (default: "
            + "<input>.stats).")
    String statsTopic;

    @Option(names = "--alerts-topic", paramLabel = "TOPIC", description = "Alerts: a record when a rule starts "
            + "firing and when it resolves (default: <input>.alerts).")
    String alertsTopic;

    @Option(names = "--alert-webhook", paramLabel = "URL", description = "On every alert, POST its JSON to this "
            + "http(s) URL with 'Idempotency-Key: <alert_id>'; a 2xx answer is success, anything else is retried. "
            + "Repeatable. Needs --rules.")
    java.util.List<java.net.URI> alertWebhooks = new java.util.ArrayList<>();

    @Option(names = "--alert-command", paramLabel = "CMD", description = "On every alert, after the webhooks, run "
            + "/bin/sh -c CMD with the alert's JSON on stdin and SCOREFLOW_ALERT_ID, SCOREFLOW_ALERT_RULE, "
            + "SCOREFLOW_ALERT_STATE, SCOREFLOW_ALERT_VALUE set; exit code 0 is success. Needs --rules.")
    String alertCommand;

    @Option(names = "--alert-on", defaultValue = "all", paramLabel = "firing|all", description = "Run the alert "
            + "actions on every transition, firing and resolved (all), or on firing alerts only (firing; e.g. a "
            + "retrain hook) (default: ${DEFAULT-VALUE}).")
    String alertOn;

    @Option(names = "--alert-attempts", defaultValue = "6", paramLabel = "N", description = "Attempts per alert "
            + "action, 0.5 s apart then doubling up to 30 s; after the last, an error is logged and counted and the "
            + "next alert goes ahead (default: ${DEFAULT-VALUE}).")
    int alertAttempts;

    @Option(names = "--alert-timeout", defaultValue = "30s", paramLabel = "DURATION", description = "How long one "
            + "attempt of an alert action may take: a webhook's connection and its answer each, a command before "
            + "it is killed (default: ${DEFAULT-VALUE}).")
    String alertTimeout;

    @Option(names = "--http-port", paramLabel = "PORT", description = "Serve GET /features/{entity}, POST /score "
            + "(an event scored with the live features), /metrics and /health on this port (0: a free one; "
            + "default: no HTTP).")
    Integer httpPort;

    @Option(names = "--http-host", defaultValue = "0.0.0.0", paramLabel = "HOST", description = "Address the HTTP "
            + "port binds (default: ${DEFAULT-VALUE}).")
    String httpHost;

    @Option(names = "--advertised-host", defaultValue = "127.0.0.1", paramLabel = "HOST", description = "How the "
            + "other instances reach this one's HTTP port to fetch features it holds (default: ${DEFAULT-VALUE}).")
    String advertisedHost;

    @Option(names = "--udp-port", paramLabel = "PORT", description = "One-way: also take events as UDP datagrams "
            + "on this port (0: a free one), one JSON event per datagram, each written to the input topic keyed by "
            + "its entity, as sent. Fire and forget: nothing answers and nothing waits for Kafka. On /metrics: "
            + "datagrams received, refused (not_json, no_entity, too_large), dropped (Kafka slower than the "
            + "senders) and written; what the network or the kernel loses is not seen (default: no UDP).")
    Integer udpPort;

    @Option(names = "--udp-host", defaultValue = "0.0.0.0", paramLabel = "HOST", description = "Address the UDP "
            + "port binds (default: ${DEFAULT-VALUE}).")
    String udpHost;

    @Option(names = "--max-events", paramLabel = "N", description = "Stop once N input records are scored or "
            + "dead-lettered (default: run until stopped).")
    Long maxEvents;

    @Override
    public Integer call() throws InterruptedException {
        Path home = Path.of(System.getProperty("scoreflow.home", "."));
        Path modelFile = model != null ? model : home.resolve("models/fraud/1/model.onnx");
        Path featuresFile = features != null ? features
                : model == null ? home.resolve("models/fraud/features.txt") : null; // the servers' fraud model too
        if (featuresFile == null) {
            throw new IllegalArgumentException("--features is needed with --model: it declares the model's inputs");
        }
        if (model != null && endpoints != null) {
            throw new IllegalArgumentException("give --model (in-process) or --endpoint (servers), not both");
        }
        FeatureSpec spec = FeatureSpec.read(featuresFile);
        StreamApp.Builder b = StreamApp.builder();
        String name;
        if (endpoints != null) {
            name = serverModel != null ? serverModel : "default";
            dev.scoreflow.client.ClientConfig.Builder cc = dev.scoreflow.client.ClientConfig.builder(endpoints)
                    .protocol(dev.scoreflow.client.Protocol.valueOf(protocol.toUpperCase(java.util.Locale.ROOT)));
            if (serverModel != null) {
                cc.model(serverModel);
            }
            b.features(spec).remote(dev.scoreflow.client.ScoringClient.create(cc.build()), name, batchRows);
        } else {
            Model onnx = ModelLoaders.load(modelFile, ModelConfig.defaults(), 1);
            name = modelName(modelFile);
            b.features(spec).model(onnx, name, version(modelFile)).batchRows(batchRows);
        }
        b
                .client(kafka.properties())
                .topics(inputTopic, outputTopic, dlqTopic != null ? dlqTopic : inputTopic + ".dlq",
                        lateTopic != null ? lateTopic : inputTopic + ".late")
                .threshold(threshold).graceMs(graceMs).maxHistory(maxHistory)
                .applicationId(applicationId)
                .stateDir(stateDir != null ? stateDir : Path.of(System.getProperty("java.io.tmpdir"), "scoreflow-streams"))
                .threads(threads).standbyReplicas(standbyReplicas).guarantee(guarantee).repartition(repartition);
        if (!stateStore.equals("rocksdb") && !stateStore.equals("memory")) {
            throw new IllegalArgumentException("--state-store must be rocksdb or memory, was " + stateStore);
        }
        b.inMemoryState(stateStore.equals("memory"));
        if (commitIntervalMs != null) {
            b.commitIntervalMs(commitIntervalMs);
        }
        long window = Durations.parseMs(statsWindow, "--stats-window");
        if (window > 0) {
            b.statistics(window, statsHop == null ? 0 : Durations.parseMs(statsHop, "--stats-hop"), rules,
                    referenceWindows, statsTopic != null ? statsTopic : inputTopic + ".stats",
                    alertsTopic != null ? alertsTopic : inputTopic + ".alerts");
            if (reference != null) {
                b.reference(reference);
            }
        } else if (rules != null || reference != null) {
            throw new IllegalArgumentException("--rules and --reference need statistics: --stats-window must be > 0");
        }
        if (httpPort != null) {
            b.http(httpHost, httpPort, advertisedHost);
        }
        if (udpPort != null) {
            b.udp(udpHost, udpPort);
        }
        alertWebhooks.forEach(b::alertWebhook);
        if (alertCommand != null) {
            b.alertCommand(alertCommand);
        }
        b.alertOn(alertOn).alertActionAttempts(alertAttempts)
                .alertActionTimeout(Duration.ofMillis(Durations.parseMs(alertTimeout, "--alert-timeout")));
        StreamApp app = b.build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Log.info("stopping: committing what was processed");
            app.close(Duration.ofSeconds(30));
            Log.info(String.format("stopped cleanly after %,d events", app.progress().events()));
            stopped.countDown();
        }, "stream-shutdown"));
        app.start();
        Log.info("scoring " + inputTopic + " -> " + outputTopic + " with " + name + " (" + spec.size()
                + " features from " + spec.source() + "), " + guarantee);
        if (httpPort != null) {
            Log.info("http on port " + app.httpPort() + ": /features/{entity}, POST /score, /metrics, /health");
        }
        if (udpPort != null) {
            Log.info("udp on port " + app.udpPort() + ": one JSON event per datagram to " + inputTopic);
        }
        long last = 0;
        long lastAt = System.nanoTime();
        java.util.List<Integer> assigned = java.util.List.of();
        while (!stopped.await(2, java.util.concurrent.TimeUnit.SECONDS)) {
            java.util.List<Integer> now0 = app.partitions();
            if (!now0.equals(assigned)) {
                Log.info("scoring partitions " + now0 + " of " + inputTopic);
                assigned = now0;
            }
            StreamApp.Progress m = app.progress();
            long in = m.events();
            long now = System.nanoTime();
            if (in != last) {
                Log.info(String.format("events %,d: scored %,d, dead letters %,d, late %,d (%,.0f/s)", in,
                        m.scored(), in - m.scored(), m.late(), (in - last) / ((now - lastAt) / 1e9)));
            }
            last = in;
            lastAt = now;
            if (app.failed() != null) {
                Log.info("the stream app failed: " + app.failed());
                return 1;
            }
            if (maxEvents != null && in >= maxEvents) {
                app.close(Duration.ofSeconds(30));
                return 0;
            }
        }
        return 0;
    }

    /** models/NAME/VERSION/model.onnx gives NAME; a lone file its name without the extension. */
    static String modelName(Path file) {
        Path version = file.toAbsolutePath().getParent();
        if (version != null && version.getFileName().toString().matches("\\d+") && version.getParent() != null) {
            return version.getParent().getFileName().toString();
        }
        return file.getFileName().toString().replaceFirst("\\.onnx$", "");
    }

    static String version(Path file) {
        Path version = file.toAbsolutePath().getParent();
        if (version != null && version.getFileName().toString().matches("\\d+")) {
            return version.getFileName().toString();
        }
        try {
            return Long.toString(Files.getLastModifiedTime(file).toMillis());
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
