package dev.scoreflow.cli;

import dev.scoreflow.api.internal.Log;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.ModelStatus;
import dev.scoreflow.runtime.ThreadBudget;
import dev.scoreflow.server.Readiness;
import dev.scoreflow.server.ScoringServer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code scoreflow serve}: the HTTP scoring service. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Serve ONNX models over HTTP: the seed binary protocol (PUT /score, float32 rows in, float32"
                + " scores out) and the Open Inference Protocol (/v2, with the binary tensor extension).",
                "Prints 'listening on http://HOST:PORT' when ready. Ctrl-C (SIGTERM) stops accepting, answers what"
                        + " was accepted, then exits.", ""},
        footer = {"", "Examples:",
                "  scoreflow serve --model models/example/1/model.onnx --port 8080",
                "  curl -X PUT -H 'Content-Type: application/octet-stream' --data-binary @rows.f32 "
                        + "http://127.0.0.1:8080/score",
                "  scoreflow serve --models models --port 0 --auth-token-file token.txt"})
final class ServeCommand implements Callable<Integer> {

    static final class Source {
        @Option(names = "--model", paramLabel = "FILE", description = "One model file (.onnx) to serve.")
        Path model;

        @Option(names = "--models", paramLabel = "DIR", description = "A model repository: DIR/<name>/<version>/"
                + "model.onnx, each with an optional model.json. Changes are picked up while serving.")
        Path models;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--name", paramLabel = "NAME", description = "Name of the --model (default: the file name"
            + " without .onnx, or the directory above <version>/model.onnx).")
    String name;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE};"
            + " 0.0.0.0 for every interface).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Port (default: ${DEFAULT-VALUE}; 0 picks a free"
            + " one).")
    int port;

    @Option(names = "--default-model", paramLabel = "NAME", description = "Model that PUT /score uses (default:"
            + " the only model).")
    String defaultModel;

    @Option(names = "--threads", paramLabel = "N", description = "Inference threads: batches that run at once over"
            + " all models (default: available cores).")
    Integer threads;

    @Option(names = "--intra-op-threads", paramLabel = "N", defaultValue = "1", description = "ONNX Runtime threads"
            + " per batch (default: ${DEFAULT-VALUE}; threads x intra-op threads should not exceed the cores).")
    int intraOpThreads;

    @Option(names = "--io-threads", paramLabel = "N", description = "Network threads (default: available cores).")
    Integer ioThreads;

    @Option(names = "--max-batch-rows", paramLabel = "N", defaultValue = "" + ModelConfig.DEFAULT_MAX_BATCH_ROWS,
            description = "Rows per model call; larger requests are split and run in parallel (default:"
                    + " ${DEFAULT-VALUE}; model.json maxBatchRows wins).")
    int maxBatchRows;

    @Option(names = "--max-batch-delay-us", paramLabel = "US", defaultValue = "0", description = "How long a"
            + " partial batch may wait for more rows (default: ${DEFAULT-VALUE} = never; batches form from what"
            + " queues while threads are busy).")
    long maxBatchDelayMicros;

    @Option(names = "--queue-rows", paramLabel = "N", defaultValue = "" + ModelConfig.DEFAULT_QUEUE_ROWS,
            description = "Rows that may wait per model; beyond, 503 with Retry-After (default: ${DEFAULT-VALUE}).")
    int queueRows;

    @Option(names = "--max-queue-ms", paramLabel = "MS", defaultValue = "" + ModelConfig.DEFAULT_MAX_QUEUE_MILLIS,
            description = "Work that may wait per model, in milliseconds at the measured speed; beyond, 503 with"
                    + " Retry-After (default: ${DEFAULT-VALUE}; 0 = bound by --queue-rows only).")
    long maxQueueMillis;

    @Option(names = "--allow-non-finite", description = "Accept NaN and infinite features (default: 400 unless"
            + " model.json allows them).")
    boolean allowNonFinite;

    @Option(names = "--max-body-bytes", paramLabel = "BYTES", defaultValue = ""
            + ScoringServer.Builder.DEFAULT_MAX_BODY_BYTES, description = "Largest request body; larger gets 413"
            + " (default: ${DEFAULT-VALUE}).")
    int maxBodyBytes;

    @Option(names = "--body-budget-bytes", paramLabel = "BYTES", defaultValue = ""
            + ScoringServer.Builder.DEFAULT_BODY_BUDGET_BYTES, description = "Request bodies held in memory at once,"
            + " over all connections; beyond, 503 (default: ${DEFAULT-VALUE}).")
    long bodyBudgetBytes;

    @Option(names = "--auth-token-file", paramLabel = "FILE", description = "Require 'Authorization: Bearer"
            + " <token>' (the file's first line) on everything but /v2/health.")
    Path authTokenFile;

    @Option(names = "--admin-token-file", paramLabel = "FILE", description = "Require 'Authorization: Bearer"
            + " <token>' (the file's first line) on the model repository API (load, unload, index). Without it, a"
            + " server with --auth-token-file refuses that API (403), so a scoring token cannot unload models.")
    Path adminTokenFile;

    @Option(names = "--no-repository-api", description = "Refuse the model repository API (load, unload, index)"
            + " with 403.")
    boolean noRepositoryApi;

    @Option(names = "--max-connections", paramLabel = "N", description = "Connections open at once; beyond, a new"
            + " one is answered 503 and closed (default: 10000, or fewer if the process may open fewer files:"
            + " here ${DEFAULT-VALUE}).")
    int maxConnections = ScoringServer.Builder.DEFAULT_MAX_CONNECTIONS;

    @Option(names = "--header-timeout-ms", paramLabel = "MS", description = "From a request's first byte (or a new"
            + " connection) to the end of its header; beyond, 408 and close (default: ${DEFAULT-VALUE}).")
    long headerTimeoutMs = ScoringServer.Builder.DEFAULT_HEADER_TIMEOUT.toMillis();

    @Option(names = "--body-timeout-ms", paramLabel = "MS", description = "Longest pause between two reads of a"
            + " request body; beyond, 408 and close (default: ${DEFAULT-VALUE}).")
    long bodyTimeoutMs = ScoringServer.Builder.DEFAULT_BODY_TIMEOUT.toMillis();

    @Option(names = "--body-min-rate", paramLabel = "BYTES_PER_S", description = "Bytes per second a body must"
            + " average once --body-timeout-ms has passed; slower, 408 and close (default: ${DEFAULT-VALUE}; 0 ="
            + " no minimum).")
    long bodyMinRate = ScoringServer.Builder.DEFAULT_BODY_MIN_RATE;

    @Option(names = "--idle-timeout-ms", paramLabel = "MS", description = "How long a kept-alive connection may"
            + " wait for its next request (default: ${DEFAULT-VALUE}).")
    long idleTimeoutMs = ScoringServer.Builder.DEFAULT_IDLE_TIMEOUT.toMillis();

    @Option(names = "--write-timeout-ms", paramLabel = "MS", description = "How long writing one answer may take;"
            + " a client that does not read is disconnected after it (default: ${DEFAULT-VALUE}).")
    long writeTimeoutMs = ScoringServer.Builder.DEFAULT_WRITE_TIMEOUT.toMillis();

    @Option(names = "--max-requests-per-connection", paramLabel = "N", description = "Requests served on one"
            + " connection; the last answer says 'Connection: close' (default: ${DEFAULT-VALUE}).")
    int maxRequestsPerConnection = ScoringServer.Builder.DEFAULT_MAX_REQUESTS_PER_CONNECTION;

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "Serve HTTPS with this certificate chain.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "The PKCS#8 private key for --tls-cert.")
    Path tlsKey;

    @Option(names = "--poll-seconds", paramLabel = "S", defaultValue = "2", description = "With --models, look"
            + " for added, changed and removed model files this often (default: ${DEFAULT-VALUE}; 0 = never).")
    int pollSeconds;

    @Option(names = "--readiness", paramLabel = "strict|lenient", defaultValue = "strict", description = "When"
            + " /v2/health/ready answers 200: strict (default) only while every model version is ready, as in"
            + " Triton; lenient while at least one model is. The 503 names the models not ready and why.")
    String readiness;

    @Option(names = "--drain-seconds", paramLabel = "S", defaultValue = "30", description = "On shutdown, wait"
            + " this long for requests received or being uploaded; readiness answers 503 at once (default:"
            + " ${DEFAULT-VALUE}).")
    int drainSeconds;

    @Option(names = "--jobs", paramLabel = "URL", arity = "0..1", fallbackValue = "embedded",
            description = "Also accept scoring jobs (request-acknowledge: "
            + "PUT /models/{m}/jobs, POST /v2/models/{m}/jobs, GET|DELETE /jobs/{id}) on this queue: "
            + "postgresql://[user@]host[:port]/database[?queue=NAME&visibility=30s&max-receives=5&fifo=true], "
            + "kafka://host:port[?queue=NAME&...&partitions=6], "
            + "amqp://[user:password@]host[:port][/vhost]?store=postgresql://...[&queue=NAME&...&prefetch=8] "
            + "(RabbitMQ, with PostgreSQL as the store of states and results), or embedded[?port=19092&dir=DIR] (the default "
            + "of a bare --jobs: a Kafka broker in this process; it prints the kafka:// URL for the workers).")
    String jobs;

    @Option(names = "--job-workers", paramLabel = "N", defaultValue = "0", description = "With --jobs: also score "
            + "jobs here, with N worker threads (default: ${DEFAULT-VALUE}: 'scoreflow worker' processes do).")
    int jobWorkers;

    @picocli.CommandLine.Mixin
    CallbackOptions callbacks = new CallbackOptions();

    @Override
    public Integer call() throws Exception {
        if (jobs == null && jobWorkers > 0) {
            throw new IllegalArgumentException("--job-workers needs --jobs");
        }
        dev.scoreflow.server.CallbackSettings callbackSettings = jobWorkers > 0 ? callbacks.settings() : null;
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        ScoringServer.MetricsHook hook = new ScoringServer.MetricsHook();
        ModelRepository.Builder rb = ModelRepository.builder()
                .threads(new ThreadBudget(threads != null ? threads : Runtime.getRuntime().availableProcessors(),
                        intraOpThreads))
                .defaults(ModelConfig.builder().maxBatchRows(maxBatchRows).maxBatchDelayMicros(maxBatchDelayMicros)
                        .queueRows(queueRows).maxQueueMillis(maxQueueMillis).allowNonFinite(allowNonFinite).build())
                .observers(hook::observer);
        if (source.model != null) {
            rb.model(name != null ? name : modelName(source.model), source.model);
        } else {
            rb.root(source.models).pollInterval(Duration.ofSeconds(pollSeconds));
        }
        ModelRepository repository = rb.build();
        for (ModelStatus s : repository.index()) {
            if (s.state() != ModelStatus.State.READY) {
                Log.info("model " + s.name() + " version " + s.version() + " is not serving: " + s.reason());
            }
        }
        if (repository.readyNames().isEmpty()) {
            repository.close();
            throw new IllegalStateException("no model could be loaded; see the messages above");
        }
        ScoringServer.Builder sb = ScoringServer.builder(repository).host(host).port(port)
                .maxBodyBytes(maxBodyBytes).bodyBudgetBytes(bodyBudgetBytes).defaultModel(defaultModel)
                .metricsHook(hook).readiness(readiness(readiness));
        if (ioThreads != null) {
            sb.ioThreads(ioThreads);
        }
        sb.maxConnections(maxConnections).headerTimeout(Duration.ofMillis(headerTimeoutMs))
                .bodyTimeout(Duration.ofMillis(bodyTimeoutMs)).bodyMinRate(bodyMinRate)
                .idleTimeout(Duration.ofMillis(idleTimeoutMs)).writeTimeout(Duration.ofMillis(writeTimeoutMs))
                .maxRequestsPerConnection(maxRequestsPerConnection).repositoryApi(!noRepositoryApi);
        if (authTokenFile != null) {
            sb.authToken(readToken(authTokenFile, "--auth-token-file"));
        }
        if (adminTokenFile != null) {
            sb.adminToken(readToken(adminTokenFile, "--admin-token-file"));
        }
        if (tlsCert != null) {
            sb.tls(tlsCert, tlsKey);
        }
        EmbeddedQueue embedded = jobs != null && EmbeddedQueue.is(jobs) ? EmbeddedQueue.start(jobs) : null;
        dev.scoreflow.jobs.JobQueue queue = embedded != null ? embedded.queue
                : jobs == null ? null : dev.scoreflow.jobs.JobQueues.open(jobs);
        if (queue != null) {
            sb.jobs(queue);
        }
        ScoringServer server = sb.start();
        dev.scoreflow.server.JobWorker worker = jobWorkers > 0
                ? dev.scoreflow.server.JobWorker.start(sb, queue, jobWorkers, callbackSettings) : null;
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Log.info("shutting down: finishing accepted requests (up to " + drainSeconds + " s)");
            if (worker != null) {
                worker.close();
            }
            server.shutdown(Duration.ofSeconds(drainSeconds));
            if (embedded != null) {
                embedded.close();
            } else if (queue != null) {
                queue.close();
            }
            stopped.countDown();
        }, "scoreflow-shutdown"));
        System.out.println("listening on " + server.uri());
        if (embedded != null) {
            System.out.println("jobs queue " + embedded.kafkaUrl);
        }
        System.out.flush();
        stopped.await();
        return 0;
    }

    static Readiness readiness(String value) {
        return switch (value.toLowerCase(java.util.Locale.ROOT)) {
            case "strict" -> Readiness.STRICT;
            case "lenient" -> Readiness.LENIENT;
            default -> throw new IllegalArgumentException("--readiness must be strict or lenient, got '" + value + "'");
        };
    }

    static String modelName(Path file) {
        String f = file.getFileName().toString();
        if (f.equals("model.onnx") && file.toAbsolutePath().getParent() != null
                && file.toAbsolutePath().getParent().getParent() != null) {
            return file.toAbsolutePath().getParent().getParent().getFileName().toString();
        }
        return f.endsWith(".onnx") ? f.substring(0, f.length() - 5) : f;
    }

    static String readToken(Path file, String option) throws IOException {
        String t = Files.readAllLines(file, StandardCharsets.UTF_8).stream().findFirst().orElse("").trim();
        if (t.isEmpty()) {
            throw new IllegalArgumentException(option + " " + file + " is empty");
        }
        return t;
    }
}
