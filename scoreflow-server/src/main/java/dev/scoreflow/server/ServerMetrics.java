package dev.scoreflow.server;

import dev.scoreflow.api.internal.Metrics;
import dev.scoreflow.runtime.BatchObserver;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.ModelStatus;
import dev.scoreflow.runtime.ServedModel;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The scoring service's metrics, exposed at {@code /metrics} in the Prometheus text format with the JVM's families
 * beside them. Thread-safe. What is recorded on the event loop or per batch goes to labelled children kept in fields
 * or per model, so a request costs adder increments and a map lookup by model name.
 */
final class ServerMetrics {
    private static final double[] SECONDS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
            5, 10};
    private static final double[] ROWS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 16384, 65536};

    private final Metrics registry = Metrics.withJvm();
    final Metrics.Counter requests = registry.counter("scoreflow_requests_total",
            "HTTP requests answered, by model, protocol (seed, v2, other) and status code", "model", "protocol",
            "code");
    final Metrics.Counter rows = registry.counter("scoreflow_rows_total",
            "Rows received in scoring requests, by model and status code", "model", "code");
    final Metrics.Counter rejections = registry.counter("scoreflow_rejections_total",
            "Requests refused before scoring because of load: queue_full, deadline, memory", "model", "reason");
    final Metrics.Counter timeouts = registry.counter("scoreflow_connection_timeouts_total",
            "Connections ended by a timeout, by phase: header, body, idle, write, drain", "phase");
    final Metrics.Counter bodyBytes = registry.counter("scoreflow_request_body_bytes_total",
            "Request body bytes received, by how: in_place (read from the socket straight into the body's buffer)"
            + " or copied (gathered from the connection's read buffers)", "read");
    final Metrics.Counter connectionsRefused = registry.counter("scoreflow_connections_refused_total",
            "Connections answered 503 and closed because --max-connections were open");
    final Metrics.Histogram latency = registry.histogram("scoreflow_request_duration_seconds",
            "Time from a full scoring request to its answer, successful requests only", SECONDS, "model");
    private final Metrics.Histogram queueTime = registry.histogram("scoreflow_queue_duration_seconds",
            "Time a request part waited in the queue before its batch started", SECONDS, "model");
    private final Metrics.Histogram batchRows = registry.histogram("scoreflow_batch_rows",
            "Rows per model call", ROWS, "model");
    private final Metrics.Histogram batchTime = registry.histogram("scoreflow_batch_duration_seconds",
            "Duration of one model call", SECONDS, "model");
    final CounterDataPoint bodyBytesInPlace = bodyBytes.labels("in_place");
    final CounterDataPoint bodyBytesCopied = bodyBytes.labels("copied");
    final CounterDataPoint memoryRejections = rejections.labels("", "memory");
    final CounterDataPoint headerTimeouts = timeouts.labels("header");
    final CounterDataPoint bodyTimeouts = timeouts.labels("body");
    final CounterDataPoint idleTimeouts = timeouts.labels("idle");
    final CounterDataPoint writeTimeouts = timeouts.labels("write");
    final CounterDataPoint drainTimeouts = timeouts.labels("drain");
    private final Map<String, BatchObserver> observers = new ConcurrentHashMap<>();
    /** Per model label, then per protocol: the series a successful request adds to. */
    private final Map<String, Map<String, Answered>> answeredOk = new ConcurrentHashMap<>();
    final AtomicLong connections = new AtomicLong();
    /** Model names seen in the repository: the only values the model label takes besides "" and "unknown". */
    private final Set<String> knownModels = ConcurrentHashMap.newKeySet();
    private final ModelRepository repository;
    final AtomicLong inflightBodyBytes = new AtomicLong();

    ServerMetrics(ModelRepository repository) {
        this.repository = repository;
        registry.gauge("scoreflow_queue_rows", "Rows waiting in each model's queue", new String[]{"model", "version"},
                sample -> {
                    for (ServedModel m : repository.served()) {
                        sample.call(m.queuedRows(), m.name(), m.version());
                    }
                });
        registry.gauge("scoreflow_model_ready", "1 for each model version that is serving, 0 if it failed to load",
                new String[]{"model", "version"}, sample -> repository.index().forEach(m -> sample.call(
                        m.state() == ModelStatus.State.READY ? 1 : 0, m.name(), m.version())));
        registry.gauge("scoreflow_open_connections", "Open HTTP connections", connections::get);
        registry.gauge("scoreflow_inflight_body_bytes", "Bytes of request bodies held in memory",
                inflightBodyBytes::get);
    }

    /** Requests waiting on jobs (long polling) now: a gauge, for a server with the jobs API. */
    void jobsWaiting(LongSupplier waiting) {
        registry.gauge("scoreflow_jobs_waiting", "Requests waiting for jobs to finish (long polling)",
                waiting::getAsLong);
    }

    /** The observer that records one model's batches (one instance per model, kept). */
    BatchObserver observer(String model) {
        return observers.computeIfAbsent(model, this::newObserver);
    }

    private BatchObserver newObserver(String model) {
        DistributionDataPoint rowsPerBatch = batchRows.labels(model);
        DistributionDataPoint batchSeconds = batchTime.labels(model);
        DistributionDataPoint queueSeconds = queueTime.labels(model);
        return new BatchObserver() {
            @Override
            public void batch(int n, int parts, long nanos) {
                rowsPerBatch.observe(n);
                batchSeconds.observe(nanos / 1e9);
            }

            @Override
            public void queued(long nanos) {
                queueSeconds.observe(nanos / 1e9);
            }
        };
    }

    void answered(String name, String protocol, int code, long rowCount, long startNanos) {
        String model = label(name);
        if (code == 200) {
            Answered ok = answeredOk.computeIfAbsent(model, m -> new ConcurrentHashMap<>())
                    .computeIfAbsent(protocol, p -> new Answered(model, p));
            ok.requests.inc();
            if (rowCount > 0) {
                ok.rows().inc(rowCount);
            }
            ok.latency.observe((System.nanoTime() - startNanos) / 1e9);
            return;
        }
        String c = Integer.toString(code);
        requests.inc(1, model, protocol, c);
        if (rowCount > 0) {
            rows.inc(rowCount, model, c);
        }
        if (code == 503) {
            rejections.inc(1, model, "queue_full");
        } else if (code == 504) {
            rejections.inc(1, model, "deadline");
        }
    }

    /** The series a successful request of one model and protocol adds to; rows only once it has some. */
    private final class Answered {
        final CounterDataPoint requests;
        final DistributionDataPoint latency;
        private final String model;
        private volatile CounterDataPoint rowsOk;

        Answered(String model, String protocol) {
            this.model = model;
            requests = ServerMetrics.this.requests.labels(model, protocol, "200");
            latency = ServerMetrics.this.latency.labels(model);
        }

        CounterDataPoint rows() {
            CounterDataPoint r = rowsOk;
            if (r == null) {
                r = rows.labels(model, "200"); // the same child whoever asks first
                rowsOk = r;
            }
            return r;
        }
    }

    /**
     * The model label for a name that may come from a URL: only names the repository knows (or knew) are kept, so
     * random names cannot grow the metrics without bound.
     */
    private String label(String name) {
        if (name.isEmpty() || knownModels.contains(name)) {
            return name;
        }
        for (ModelStatus s : repository.index()) {
            if (s.name().equals(name)) {
                knownModels.add(name);
                return name;
            }
        }
        return "unknown";
    }

    /** Scoreflow's families and the JVM's, sorted by name. */
    String render() {
        return registry.render();
    }
}
