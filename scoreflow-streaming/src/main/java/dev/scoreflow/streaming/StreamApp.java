package dev.scoreflow.streaming;

import dev.scoreflow.api.Model;
import dev.scoreflow.api.internal.Metrics;
import dev.scoreflow.streaming.internal.AlertThreshold;
import dev.scoreflow.streaming.internal.LagMonitor;
import dev.scoreflow.streaming.internal.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * The stream scorer as a library: a Kafka Streams application that scores every event of the input topic with
 * live per-entity features (see {@link ScoringTopology}), built with {@link #builder()}.
 *
 * <p>{@link #start} creates the output, dead-letter and late topics if they are missing (as many partitions as the
 * input) and starts the stream threads; {@link #close} stops them, committing what was processed. A stream thread
 * that fails stops the app (it does not loop on a poison record: bad records are dead letters, not exceptions);
 * {@link #failed} tells why. With alert actions configured ({@link Builder#alertWebhook}, {@link
 * Builder#alertCommand}), {@link #start} also starts {@link AlertActions} on its own thread and {@link #close} stops
 * it. With {@link Builder#udp}, it also takes events as UDP datagrams into the input topic (the one-way pattern,
 * counted on /metrics), from {@link #start} until {@link #close}. Thread-safe.
 */
public final class StreamApp implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StreamApp.class);
    private static final Set<String> GUARANTEES = Set.of(StreamsConfig.EXACTLY_ONCE_V2, StreamsConfig.AT_LEAST_ONCE);

    private final Builder b;
    private final StreamMetrics metrics = new StreamMetrics();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private KafkaStreams streams;
    private StreamHttp http;
    private String advertised;
    private LagMonitor lag;
    private RemoteScorer remote;
    private java.util.concurrent.ScheduledExecutorService lagPoller;
    private AlertActions alertActions;
    private UdpIngest udp;

    private StreamApp(Builder b) {
        this.b = b;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Creates missing topics and starts processing. @throws StreamingException if the input topic is missing */
    public synchronized void start() {
        int partitions;
        try (Admin admin = Topics.admin(b.client)) {
            partitions = Topics.partitions(admin, b.inputTopic);
            Topics.ensure(admin, b.outputTopic, partitions, Map.of());
            Topics.ensure(admin, b.deadLetterTopic, partitions, Map.of());
            if (b.lateTopic != null) {
                Topics.ensure(admin, b.lateTopic, partitions, Map.of());
            }
            if (b.repartition) {
                Topics.ensure(admin, byEntityTopic(), partitions, Map.of());
            }
            if (b.remote != null) {
                Topics.ensure(admin, remoteTopic(), partitions, Map.of());
            }
            if (b.statsWindowMs > 0) {
                // one partition: the one place that sums every task's statistics
                Topics.ensure(admin, partsTopic(), 1, Map.of());
                Topics.ensure(admin, b.windowStatsTopic, 1, Map.of());
                Topics.ensure(admin, b.alertsTopic, 1, Map.of());
            }
        }
        ScoringTopology.StatsSettings stats = b.statsWindowMs == 0 ? null : new ScoringTopology.StatsSettings(
                b.statsWindowMs, b.statsHopMs == 0 ? b.statsWindowMs : b.statsHopMs, b.rules, b.reference,
                b.referenceWindows, partsTopic(), b.windowStatsTopic, b.alertsTopic);
        ScoringTopology.Settings settings = new ScoringTopology.Settings(b.inputTopic, b.outputTopic,
                b.deadLetterTopic, b.lateTopic, b.repartition ? byEntityTopic() : null, b.spec, b.scorer, b.threshold,
                b.graceMs, b.maxHistory, metrics, b.clock, stats, b.remote == null ? null : remoteTopic(), b.inMemoryState,
                b.batchRows);
        Properties p = new Properties();
        p.putAll(b.client);
        if (!p.containsKey("linger.ms") && !p.containsKey(StreamsConfig.producerPrefix("linger.ms"))) {
            // Kafka Streams lets its producer wait up to 100 ms for a batch to fill: at least once, that is 100 ms
            // on every event's way out whenever the stream is not busy (exactly once, the commit sends anyway)
            p.put(StreamsConfig.producerPrefix("linger.ms"), "5");
        }
        if (b.httpPort != null) {
            try {
                http = new StreamHttp(this, b.httpBindHost, b.httpPort);
            } catch (java.io.IOException e) {
                throw new StreamingException("cannot listen on " + b.httpBindHost + ":" + b.httpPort + ": "
                        + e.getMessage(), e);
            }
            advertised = b.advertisedHost + ":" + http.port();
            // where other instances (and Kafka Streams' metadata) find this one's features
            p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, advertised);
        }
        if (b.udpPort != null) {
            // bound before the stream starts, so a port in use fails the start before the stream runs
            udp = new UdpIngest(b.client, b.inputTopic, b.udpHost, b.udpPort, metrics);
        }
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, b.applicationId);
        p.put(StreamsConfig.STATE_DIR_CONFIG, b.stateDir.toString());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, b.threads);
        p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, b.standbyReplicas);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, b.guarantee);
        // no global stores here; set so Kafka Streams does not warn about its future default on every start
        p.put("processing.exception.handler.global.enabled", "true");
        if (b.commitIntervalMs != null) {
            p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, b.commitIntervalMs);
        }
        if (b.alertActions != null) {
            // before the stream starts: a new actions group starts at the alerts topic's end, this run's alerts after
            alertActions = new AlertActions(b.alertActions, metrics, AlertActions.Sleeper.SYSTEM);
            alertActions.start(b.client, b.applicationId + "-alerts", b.alertsTopic);
        }
        streams = new KafkaStreams(ScoringTopology.build(settings), p);
        streams.setUncaughtExceptionHandler(e -> {
            LOG.error("a stream thread failed; stopping the stream app", e);
            failure.compareAndSet(null, e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        registerStoreBytes();
        streams.start();
        if (b.remote != null) {
            remote = new RemoteScorer(new RemoteScorer.Settings(b.client, b.applicationId + "-remote", remoteTopic(),
                    b.outputTopic, b.deadLetterTopic, b.lateTopic, b.batchRows, b.spec.names(), b.threshold,
                    b.remoteModel, "remote", metrics, b.clock), b.remote);
            remote.start();
        }
        startLagMonitor();
        if (udp != null) {
            udp.start();
        }
    }

    /**
     * The RocksDB stores' size on disk and in memtables, from Kafka Streams' own store metrics (recorded at its
     * default INFO level), summed by store; in-memory stores have no such metric (their entries are counted).
     */
    private void registerStoreBytes() {
        metrics.registry.gauge("scoreflow_stream_store_bytes", "bytes of this instance's RocksDB state stores, by "
                + "store and where (sst files on disk, memtables)", new String[]{"store", "where"}, sample -> {
                    Map<List<String>, Double> sums = new java.util.HashMap<>();
                    streams.metrics().forEach((name, metric) -> {
                        String where = switch (name.name()) {
                            case "total-sst-files-size" -> "sst";
                            case "size-all-mem-tables" -> "memtable";
                            default -> null;
                        };
                        String store = name.tags().get("rocksdb-state-id");
                        if (where != null && store != null && metric.metricValue() instanceof Number n) {
                            sums.merge(List.of(store, where), n.doubleValue(), Double::sum);
                        }
                    });
                    sums.forEach((labels, v) -> sample.call(v, labels.get(0), labels.get(1)));
                });
    }

    /**
     * Every 10 s, the group's lag per input partition and how long until unread records reach the topic's
     * retention (gauges on /metrics); a warning in the log when records are deleted unread or will be within 20 %
     * of the retention time: the lecture's warning about Kafka deleting what nobody has read yet.
     */
    private void startLagMonitor() {
        lag = LagMonitor.create(b.client, b.applicationId, b.inputTopic, System::currentTimeMillis);
        lag.register(metrics.registry);
        AlertThreshold threshold = AlertThreshold.parse("20%");
        lagPoller = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "stream-lag-monitor");
            t.setDaemon(true);
            return t;
        });
        lagPoller.scheduleWithFixedDelay(() -> {
            try {
                for (String alert : lag.alerts(lag.poll(), threshold)) {
                    LOG.warn("lag: {}", alert);
                }
            } catch (RuntimeException e) {
                // no offsets committed yet, or the cluster is away for a moment: the next look tries again
                LOG.debug("lag monitor: {}", e.toString());
            }
        }, 10, 10, java.util.concurrent.TimeUnit.SECONDS);
    }

    private String remoteTopic() {
        return b.applicationId + "-features";
    }

    private String partsTopic() {
        return b.applicationId + "-stats-parts";
    }

    private String byEntityTopic() {
        return b.applicationId + "-by-entity";
    }

    /** The app's counters (events in, scored, dead letters, late, ...). */
    StreamMetrics metrics() {
        return metrics;
    }

    /**
     * What the app has done so far, from its counters: each number is exact, the set is not one atomic snapshot
     * (a stream thread may count between two reads).
     */
    public Progress progress() {
        WindowStats w = metrics.lastWindow();
        double seconds = metrics.lastWindowMs() / 1000.0;
        return new Progress(metrics.eventsIn.value(), metrics.scored.value(), metrics.late.value(),
                metrics.alertsFired(), w == null ? Double.NaN : w.count / seconds,
                w == null ? Double.NaN : w.meanScore(), w == null ? Double.NaN : w.positiveRate());
    }

    /**
     * What a {@link StreamApp} has done so far ({@link #progress()}). Immutable.
     *
     * @param events                input records read: scored plus dead letters
     * @param scored                events scored and written to the output topic
     * @param late                  events later than the grace period (scored too, left out of the statistics)
     * @param alertsFired           rules that started firing, all rules together
     * @param windowEventsPerSecond event rate of the last closed statistics window; NaN before the first closes
     *                              (or without {@link Builder#statistics})
     * @param windowMeanScore       mean score of that window; NaN as above
     * @param windowPositiveRate    share of predictions = 1 in that window; NaN as above
     */
    public record Progress(long events, long scored, long late, long alertsFired, double windowEventsPerSecond,
                           double windowMeanScore, double windowPositiveRate) {
        /** Input records written to the dead-letter topic: {@code events - scored}. */
        public long deadLetters() {
            return events - scored;
        }
    }

    /** The Prometheus text of the app's metrics and the JVM's ({@link Metrics#CONTENT_TYPE}). */
    public String renderMetrics() {
        return metrics.registry.render();
    }

    /**
     * The partitions of the input this instance scores now (its active tasks), e.g. {@code [0, 2]}; empty while
     * it has none (before the first assignment, or during a rebalance).
     */
    public synchronized java.util.List<Integer> partitions() {
        if (streams == null) {
            return java.util.List.of();
        }
        java.util.TreeSet<Integer> out = new java.util.TreeSet<>();
        streams.metadataForLocalThreads().forEach(t -> t.activeTasks().forEach(task ->
                task.topicPartitions().forEach(tp -> {
                    if (tp.topic().equals(b.inputTopic) || tp.topic().equals(byEntityTopic())) {
                        out.add(tp.partition());
                    }
                })));
        return java.util.List.copyOf(out);
    }

    /**
     * The current features of {@code entity} from this instance's state (see {@link EntityHistory#snapshot}), as
     * of its latest event (or {@code asOf} if given), with {@code entity}, {@code as_of} and {@code events} (how
     * many events the history holds). Null if this instance does not hold the entity (another instance does, or
     * it has no events).
     */
    public Map<String, Object> features(String entity, Long asOf) {
        EntityHistory h = localHistory(entity);
        if (h == null || h.size() == 0) {
            return null;
        }
        long at = asOf != null ? asOf : h.newest();
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        out.put("entity", entity);
        out.put("as_of", at);
        out.put("events", h.size());
        Map<String, Object> f = new java.util.LinkedHashMap<>();
        h.snapshot(b.spec, at).forEach((k, v) -> f.put(k, Double.isFinite(v) ? v : null));
        out.put("features", f);
        return out;
    }

    /** Where an entity's state lives: this instance ({@code local}) or another one's HTTP port. */
    record Owner(String host, int port, boolean local) {
    }

    /** The instance that holds {@code entity}'s features, or null while the partitions are being reassigned. */
    Owner owner(String entity) {
        KafkaStreams s;
        synchronized (this) {
            s = streams;
        }
        if (s == null || s.state() != KafkaStreams.State.RUNNING) {
            return null;
        }
        org.apache.kafka.streams.KeyQueryMetadata md = s.queryMetadataForKey(ScoringTopology.HISTORY_STORE, entity,
                org.apache.kafka.common.serialization.Serdes.String().serializer());
        if (md == null || md.equals(org.apache.kafka.streams.KeyQueryMetadata.NOT_AVAILABLE)) {
            return null;
        }
        org.apache.kafka.streams.state.HostInfo h = md.activeHost();
        return new Owner(h.host(), h.port(), (h.host() + ":" + h.port()).equals(advertised));
    }

    /** This instance's HTTP address as other instances know it (null without an HTTP port). */
    public String advertised() {
        return advertised;
    }

    /** The UDP port events are taken on (0 without one; see {@link Builder#udp}). */
    public synchronized int udpPort() {
        return udp == null ? 0 : udp.port();
    }

    /** The HTTP port (0 without one). */
    public int httpPort() {
        return http == null ? 0 : http.port();
    }

    /**
     * Scores {@code e} at request time with its entity's live features from this instance's state, as the stream
     * would if the event arrived now, without adding it to the state: the output record's JSON, or null while
     * the state cannot be read.
     *
     * @throws Rejection if the event cannot be scored (what it would be dead-lettered for)
     */
    String scoreAtRequest(Event e) {
        EntityHistory h = localHistory(e.entity());
        if (h == null) {
            return null;
        }
        EntityHistory.Values values = EntityHistory.Values.of(e, b.spec);
        float[] x = h.features(b.spec, values);
        float score;
        try {
            score = b.scorer != null ? b.scorer.score(x, 1)[0]
                    : b.remote.score(dev.scoreflow.api.FloatMatrix.of(x, 1, x.length)).get(30, java.util.concurrent.TimeUnit.SECONDS)[0];
        } catch (RuntimeException | java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException failure) {
            throw new Rejection(Rejection.SCORING_FAILED, "the model failed: " + failure.getMessage());
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new Rejection(Rejection.SCORING_FAILED, "interrupted");
        }
        return ScoreProcessor.output(e.eventId(), e.entity(), e.ts(), b.spec.names(), x, score, b.threshold,
                b.scorer != null ? b.scorer.modelName() : b.remoteModel,
                b.scorer != null ? b.scorer.modelVersion() : "remote", false, b.clock.getAsLong());
    }

    /**
     * The entity's history in this instance's store (empty if it has no events there), or null while the store
     * cannot be read (not running, or the partitions are being reassigned).
     */
    private EntityHistory localHistory(String entity) {
        KafkaStreams s;
        synchronized (this) {
            s = streams;
        }
        if (s == null || s.state() != KafkaStreams.State.RUNNING) {
            return null;
        }
        byte[] bytes;
        try {
            bytes = s.store(org.apache.kafka.streams.StoreQueryParameters.fromNameAndType(ScoringTopology.HISTORY_STORE,
                    org.apache.kafka.streams.state.QueryableStoreTypes.<String, byte[]>keyValueStore())).get(entity);
        } catch (org.apache.kafka.streams.errors.InvalidStateStoreException e) {
            return null;
        }
        EntityHistory h = bytes == null ? null : EntityHistory.fromBytes(bytes, b.spec);
        return h != null ? h : EntityHistory.empty(b.spec);
    }

    /** Why the app stopped on its own, or null. */
    public Throwable failed() {
        Throwable remoteFailure = remote == null ? null : remote.failed();
        return failure.get() != null ? failure.get() : remoteFailure;
    }

    /** The Kafka Streams state (CREATED before {@link #start}). */
    public synchronized KafkaStreams.State state() {
        return streams == null ? KafkaStreams.State.CREATED : streams.state();
    }

    /** Stops processing within {@code timeout}, committing what was processed, and closes the scorer. */
    public synchronized void close(Duration timeout) {
        if (udp != null) {
            udp.close(timeout);
            udp = null;
        }
        if (alertActions != null) {
            alertActions.close();
            alertActions = null;
        }
        if (lagPoller != null) {
            lagPoller.shutdownNow();
            lag.close();
            lagPoller = null;
        }
        if (http != null) {
            http.close();
            http = null;
        }
        if (remote != null) {
            remote.close();
            remote = null;
        }
        if (streams != null) {
            streams.close(timeout);
            streams = null;
        }
        if (b.scorer != null) {
            b.scorer.close();
        }
        if (b.remote != null) {
            b.remote.close();
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }

    /** Settings of a {@link StreamApp}; {@link #build} checks that they fit together. */
    public static final class Builder {
        private Properties client = new Properties();
        private String inputTopic;
        private String outputTopic;
        private String deadLetterTopic;
        private String lateTopic;
        private FeatureSpec spec;
        private EventScorer scorer;
        private double threshold = 0.5;
        private long graceMs = 5_000;
        private int maxHistory = 10_000;
        private String applicationId = "scoreflow-stream";
        private Path stateDir = Path.of(System.getProperty("java.io.tmpdir"), "scoreflow-streams");
        private int threads = 1;
        private int standbyReplicas;
        private String guarantee = StreamsConfig.EXACTLY_ONCE_V2;
        private Long commitIntervalMs;
        private boolean repartition;
        private LongSupplier clock = System::currentTimeMillis;
        private long statsWindowMs;
        private long statsHopMs;
        private Rules rules = Rules.none();
        private int referenceWindows = 3;
        private WindowStats reference;
        private String windowStatsTopic;
        private String alertsTopic;
        private Integer httpPort;
        private dev.scoreflow.client.ScoringClient remote;
        private String remoteModel;
        private int batchRows = 256;
        private boolean inMemoryState;
        private String httpBindHost = "0.0.0.0";
        private String advertisedHost = "127.0.0.1";
        private String udpHost;
        private Integer udpPort;
        private final java.util.List<java.net.URI> alertWebhooks = new java.util.ArrayList<>();
        private String alertCommand;
        private int alertAttempts = AlertActions.DEFAULT_ATTEMPTS;
        private Duration alertTimeout = AlertActions.DEFAULT_TIMEOUT;
        private boolean alertFiringOnly;
        private AlertActions.Settings alertActions;

        private Builder() {
        }

        /** Kafka client properties; {@code bootstrap.servers} is required. */
        public Builder client(Properties properties) {
            this.client = new Properties();
            this.client.putAll(properties);
            return this;
        }

        /** The input, output and dead-letter topics, and the late topic (null: none). */
        public Builder topics(String input, String output, String deadLetters, String late) {
            this.inputTopic = Objects.requireNonNull(input, "input");
            this.outputTopic = Objects.requireNonNull(output, "output");
            this.deadLetterTopic = Objects.requireNonNull(deadLetters, "deadLetters");
            this.lateTopic = late;
            return this;
        }

        public Builder features(FeatureSpec spec) {
            this.spec = spec;
            return this;
        }

        /** Scores in-process with {@code model}; the app closes it. */
        public Builder model(Model model, String name, String version) {
            return scorer(new InProcessScorer(model, name, version));
        }

        /**
         * Scores through Scoreflow (or any Open Inference Protocol) servers with {@code client} (the app closes it),
         * {@code batchRows} events per request, at least once: a features stage (Kafka Streams) writes each event
         * with its vector to an internal topic, and a remote stage scores those in batches and writes the outputs
         * in each partition's order. {@code modelName} is written with every score.
         */
        public Builder remote(dev.scoreflow.client.ScoringClient client, String modelName, int batchRows) {
            batchRows(batchRows);
            this.remote = Objects.requireNonNull(client, "client");
            this.remoteModel = Objects.requireNonNull(modelName, "modelName");
            this.scorer = null;
            return this;
        }

        /**
         * Events per model call (default 256): in-process, a task queues at most this many events (for at most a
         * few milliseconds) and scores them in one ONNX Runtime call; remote, events per request.
         */
        public Builder batchRows(int batchRows) {
            if (batchRows < 1 || batchRows > 100_000) {
                throw new IllegalArgumentException("batch rows must be in [1, 100000], was " + batchRows);
            }
            this.batchRows = batchRows;
            return this;
        }

        Builder scorer(EventScorer scorer) {
            this.scorer = scorer;
            return this;
        }

        public Builder threshold(double threshold) {
            if (!Double.isFinite(threshold)) {
                throw new IllegalArgumentException("threshold must be finite, was " + threshold);
            }
            this.threshold = threshold;
            return this;
        }

        public Builder graceMs(long graceMs) {
            if (graceMs < 0) {
                throw new IllegalArgumentException("grace must be >= 0 ms, was " + graceMs);
            }
            this.graceMs = graceMs;
            return this;
        }

        public Builder maxHistory(int maxHistory) {
            if (maxHistory < 1 || maxHistory > 1_000_000) {
                throw new IllegalArgumentException("max history must be in [1, 1000000], was " + maxHistory);
            }
            this.maxHistory = maxHistory;
            return this;
        }

        public Builder applicationId(String id) {
            this.applicationId = Objects.requireNonNull(id, "applicationId");
            return this;
        }

        public Builder stateDir(Path dir) {
            this.stateDir = Objects.requireNonNull(dir, "stateDir");
            return this;
        }

        public Builder threads(int threads) {
            if (threads < 1 || threads > 64) {
                throw new IllegalArgumentException("threads must be in [1, 64], was " + threads);
            }
            this.threads = threads;
            return this;
        }

        public Builder standbyReplicas(int n) {
            if (n < 0 || n > 10) {
                throw new IllegalArgumentException("standby replicas must be in [0, 10], was " + n);
            }
            this.standbyReplicas = n;
            return this;
        }

        /** {@code exactly_once_v2} (default) or {@code at_least_once}. */
        public Builder guarantee(String guarantee) {
            if (!GUARANTEES.contains(guarantee)) {
                throw new IllegalArgumentException("guarantee must be one of " + GUARANTEES + ", was " + guarantee);
            }
            this.guarantee = guarantee;
            return this;
        }

        public Builder commitIntervalMs(long ms) {
            if (ms < 1) {
                throw new IllegalArgumentException("commit interval must be >= 1 ms, was " + ms);
            }
            this.commitIntervalMs = ms;
            return this;
        }

        /** The input is not keyed by entity: repartition it by entity first. */
        public Builder repartition(boolean repartition) {
            this.repartition = repartition;
            return this;
        }

        /**
         * Windowed statistics of the stream and the model over windows of {@code windowMs} every {@code hopMs}
         * (0: tumbling), written to {@code statsTopic} as each window closes; {@code rulesFile} (may be null)
         * declares triggers whose transitions go to {@code alertsTopic}. PSI compares with the first
         * {@code referenceWindows} closed windows that have events.
         */
        public Builder statistics(long windowMs, long hopMs, Path rulesFile, int referenceWindows, String statsTopic,
                                  String alertsTopic) {
            if (spec == null) {
                throw new IllegalStateException("set the features before the statistics (rules name features)");
            }
            new ScoringTopology.StatsSettings(windowMs, hopMs == 0 ? windowMs : hopMs, Rules.none(), null,
                    referenceWindows, "check", statsTopic, alertsTopic); // validates
            this.statsWindowMs = windowMs;
            this.statsHopMs = hopMs;
            this.rules = rulesFile == null ? Rules.none() : Rules.read(rulesFile, spec);
            this.referenceWindows = referenceWindows;
            this.windowStatsTopic = Objects.requireNonNull(statsTopic, "statsTopic");
            this.alertsTopic = Objects.requireNonNull(alertsTopic, "alertsTopic");
            return this;
        }

        /**
         * PSI compares with the distribution of a file of scored events (JSON lines as on the output topic, or as
         * {@code scoreflow consume} prints them) instead of the first closed windows; read now, so a bad file fails
         * here, naming its line.
         */
        public Builder reference(Path scoredEvents) {
            if (statsWindowMs == 0) {
                throw new IllegalStateException("set the statistics before their reference");
            }
            this.reference = ReferenceFile.read(scoredEvents, spec);
            return this;
        }

        /**
         * Serves {@code /features/{entity}}, {@code POST /score}, {@code /metrics} and {@code /health} on
         * {@code port} (0: a free one) of {@code bindHost}; other instances reach this one at
         * {@code advertisedHost} and the port.
         */
        public Builder http(String bindHost, int port, String advertisedHost) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("HTTP port must be in [0, 65535], was " + port);
            }
            this.httpBindHost = Objects.requireNonNull(bindHost, "bindHost");
            this.httpPort = port;
            this.advertisedHost = Objects.requireNonNull(advertisedHost, "advertisedHost");
            return this;
        }

        /**
         * The one-way pattern: takes events as UDP datagrams on {@code port} (0: a free one, see {@link #udpPort})
         * of {@code bindHost}, one JSON event per datagram, and writes each to the input topic keyed by its
         * {@code entity}, the datagram's bytes as the value. Fire and forget: nothing answers the sender, and
         * nothing waits for Kafka; datagrams read are counted on {@code /metrics} as received, then refused (by
         * reason: not_json, no_entity, too_large), dropped (Kafka slower than the senders, or failing) or written
         * (acknowledged). Datagrams lost in the network or the kernel are not seen (the kernel's count for the
         * socket is {@code scoreflow_udp_kernel_drops} on Linux).
         */
        public Builder udp(String bindHost, int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("UDP port must be in [0, 65535], was " + port);
            }
            this.udpHost = Objects.requireNonNull(bindHost, "bindHost");
            this.udpPort = port;
            return this;
        }

        /**
         * Keeps the state stores in the heap instead of RocksDB: faster, but the entities' histories must fit in
         * memory, and a restarted instance restores all of them from the changelogs before it scores again.
         */
        public Builder inMemoryState(boolean inMemory) {
            this.inMemoryState = inMemory;
            return this;
        }

        /**
         * On every alert (see {@link #statistics}), POSTs its JSON to {@code url} (http or https) with the headers
         * {@code Content-Type: application/json} and {@code Idempotency-Key: <alert_id>}; a 2xx answer is success.
         * Repeatable: each URL is posted to, in the order given. See {@link #alertActionAttempts} for retries.
         */
        public Builder alertWebhook(java.net.URI url) {
            alertWebhooks.add(AlertAction.Webhook.checkUrl(url));
            return this;
        }

        /**
         * On every alert, after the webhooks, runs {@code /bin/sh -c command} with the alert's JSON on its standard
         * input and {@code SCOREFLOW_ALERT_ID}, {@code SCOREFLOW_ALERT_RULE}, {@code SCOREFLOW_ALERT_STATE} and
         * {@code SCOREFLOW_ALERT_VALUE} in its environment; exit code 0 is success.
         */
        public Builder alertCommand(String command) {
            this.alertCommand = AlertAction.Command.checkCommand(command);
            return this;
        }

        /**
         * How many times an alert action is attempted (default 6): a failure waits 0.5 s, then 1, 2, 4 ... s (at
         * most 30 s) before the next attempt; after the last one it is logged as an error and counted, and the
         * next alert goes ahead.
         */
        public Builder alertActionAttempts(int attempts) {
            if (attempts < 1 || attempts > 100) {
                throw new IllegalArgumentException("alert action attempts must be in [1, 100], was " + attempts);
            }
            this.alertAttempts = attempts;
            return this;
        }

        /**
         * How long one attempt of an alert action may take (default 30 s): a webhook's connection and its answer
         * each, a command until it is destroyed.
         */
        public Builder alertActionTimeout(Duration timeout) {
            if (timeout.toMillis() < 1 || timeout.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("the alert action timeout must be in [1 ms, 1 h], was " + timeout);
            }
            this.alertTimeout = timeout;
            return this;
        }

        /**
         * Which alerts the actions run for: {@code all} (default: {@code firing} and {@code resolved}, the state
         * is in the payload) or {@code firing} (e.g. a retrain hook).
         */
        public Builder alertOn(String states) {
            if (!states.equals("all") && !states.equals("firing")) {
                throw new IllegalArgumentException("alert actions run on 'firing' or 'all' alerts, was '" + states
                        + "'");
            }
            this.alertFiringOnly = states.equals("firing");
            return this;
        }

        Builder clock(LongSupplier clock) {
            this.clock = clock;
            return this;
        }

        /** @throws IllegalArgumentException if something is missing or the model does not take the features */
        public StreamApp build() {
            if (client.getProperty("bootstrap.servers") == null) {
                throw new IllegalArgumentException("client properties need bootstrap.servers");
            }
            if (inputTopic == null) {
                throw new IllegalArgumentException("topics are not set");
            }
            if (spec == null || (scorer == null && remote == null)) {
                throw new IllegalArgumentException("features and a model (or servers) are needed");
            }
            if (scorer != null && scorer.featureCount() != spec.size()) {
                throw new IllegalArgumentException("the model " + scorer.modelName() + " takes "
                        + scorer.featureCount() + " features, but " + spec.source() + " declares " + spec.size()
                        + ": " + spec.names());
            }
            alertActions = null;
            if (!alertWebhooks.isEmpty() || alertCommand != null) {
                if (statsWindowMs == 0) {
                    throw new IllegalArgumentException("alert actions (a webhook or a command) need statistics: "
                            + "alerts come from rules over windowed statistics (--stats-window > 0 and --rules)");
                }
                if (rules.rules().isEmpty()) {
                    throw new IllegalArgumentException("alert actions (a webhook or a command) need rules: without "
                            + "them no alert is ever written (--rules FILE)");
                }
                alertActions = new AlertActions.Settings(alertWebhooks, alertCommand, alertAttempts, alertTimeout,
                        alertFiringOnly);
            }
            return new StreamApp(this);
        }
    }
}
