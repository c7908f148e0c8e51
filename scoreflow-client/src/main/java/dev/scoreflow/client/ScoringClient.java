package dev.scoreflow.client;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.InferOutput;
import dev.scoreflow.api.InferenceResponse;
import dev.scoreflow.api.ScoreflowException;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.api.V2Codec;
import dev.scoreflow.api.internal.Json;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpMethod;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The scoring client: sends batches of rows to a set of scoring nodes and completes each batch's future with its
 * scores, in row order.
 *
 * <ul>
 *   <li><b>Balancing:</b> each attempt goes to the node with the fewest requests outstanding (power of two choices
 *       over larger sets). A node that fails without answering is ejected; health checks of
 *       {@code /v2/health/ready} every {@code healthInterval} re-admit it once it answers (and eject a node that
 *       says it is draining).</li>
 *   <li><b>Retries:</b> connection errors, timeouts, 429, 502, 503 and 504 are retried, on another node when there
 *       is one, after exponential backoff with jitter and never sooner than {@code Retry-After}; other 4xx and 500
 *       fail at once (sending the same rows again would get the same answer). A batch fails after
 *       {@code maxAttempts} or when its {@code deadline} would pass. A retried batch may have been scored by a node
 *       that died before answering; callers still get each batch's scores exactly once.</li>
 *   <li><b>Circuit breaker:</b> after {@code breakerThreshold} consecutive attempts without an answer, calls fail at
 *       once with {@link CircuitOpenException} for {@code breakerOpenTime}, then one trial decides.</li>
 *   <li><b>Concurrency:</b> an AIMD limit between {@code minConcurrency} and {@code maxConcurrency} decides how many
 *       requests are in flight; the rest wait in FIFO order, at most {@code maxWaiting} of them (beyond that a
 *       batch fails at once with {@link ClientQueueFullException}; see {@link AdaptiveLimit}).</li>
 * </ul>
 *
 * <p>Thread-safe; share one per JVM and configuration ({@link ScoringClients#shared}). Futures complete on the
 * client's event-loop thread: do not block in their callbacks.
 */
public final class ScoringClient implements BatchScorer, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ScoringClient.class);
    private static final long REFUSAL_LOG_INTERVAL = TimeUnit.SECONDS.toNanos(10);
    private static final String TIMEOUT_HEADER = "Scoreflow-Timeout-Ms";
    private static final String FEATURES_HEADER = "Scoreflow-Features";

    private final ClientConfig config;
    private final LongSupplier clock;
    private final HttpTransport transport;
    private final LeastOutstandingBalancer balancer;
    private final AdaptiveLimit limit;
    private final CircuitBreaker breaker;
    private final RetryPolicy retry;
    private final ClientMetrics metrics;
    private final boolean shared;
    private final String seedPath;
    private final RefusalLog circuitRefusals;
    private final RefusalLog queueRefusals;
    private volatile CompletableFuture<String> v2Input;
    private volatile boolean closed;

    ScoringClient(ClientConfig config, boolean shared) {
        this(config, shared, System::nanoTime);
    }

    /** With {@code clock} for deadlines, latencies and the breaker (tests drive it by hand). */
    ScoringClient(ClientConfig config, boolean shared, LongSupplier clock) {
        this.config = config;
        this.shared = shared;
        this.clock = clock;
        List<Node> nodes = new ArrayList<>();
        for (var uri : config.endpoints()) {
            nodes.add(new Node(uri));
        }
        balancer = new LeastOutstandingBalancer(nodes);
        limit = new AdaptiveLimit(config.minConcurrency(), config.initialConcurrency(), config.maxConcurrency(),
                config.maxWaiting(), config.latencyTolerance(), clock);
        breaker = new CircuitBreaker(config.breakerThreshold(), config.breakerOpenTime().toNanos(),
                trialTimeoutNanos(config), clock);
        retry = new RetryPolicy(config.backoffBase().toNanos(), config.backoffMax().toNanos());
        boolean https = config.endpoints().stream().anyMatch(u -> "https".equals(u.getScheme()));
        transport = new HttpTransport(config.ioThreads(), Math.min(config.requestTimeout().toMillis(), 10_000),
                https ? HttpTransport.tls(config.trustCertificates()) : null);
        metrics = new ClientMetrics(limit::inFlight, limit::waiting, limit::limit, transport::staleRetries);
        seedPath = config.model() == null ? "/score" : "/models/" + config.model() + "/score";
        circuitRefusals = new RefusalLog(LOG, "circuit open for " + config.endpoints(), REFUSAL_LOG_INTERVAL, clock);
        queueRefusals = new RefusalLog(LOG, "waiting queue full for " + config.endpoints(), REFUSAL_LOG_INTERVAL,
                clock);
        if (config.inputName() != null) {
            v2Input = CompletableFuture.completedFuture(config.inputName());
        }
        long health = config.healthInterval().toNanos();
        transport.every(this::checkHealth, health);
    }

    /**
     * How long a trial attempt may stay unresolved before the breaker counts it as failed: longer than any attempt
     * can take (the V2 metadata fetch and the request, each within the request timeout, plus the connect timeout),
     * so it only ever fires if an outcome was lost.
     */
    private static long trialTimeoutNanos(ClientConfig config) {
        return 2 * config.requestTimeout().toNanos() + TimeUnit.SECONDS.toNanos(10);
    }

    /** A client of its own (close it when done); most code wants {@link ScoringClients#shared}. */
    public static ScoringClient create(ClientConfig config) {
        return new ScoringClient(config, false);
    }

    public ClientConfig config() {
        return config;
    }

    public ClientMetrics metrics() {
        return metrics;
    }

    /**
     * Scores {@code rows} as an ordered, bounded stream: see {@link OrderedScoring}.
     *
     * @param batchRows   rows per request
     * @param maxInFlight requests this stream keeps out at once
     */
    public OrderedScoring<float[]> scoreAll(Iterator<float[]> rows, int batchRows, int maxInFlight) {
        return OrderedScoring.ofRows(rows, this, batchRows, maxInFlight);
    }

    /**
     * Scores one batch. The future completes with one score per row, or exceptionally with a
     * {@link ScoringFailedException} (or {@link CircuitOpenException}, or {@link ClientQueueFullException} at once
     * when {@code maxWaiting} batches already wait for a slot). Cancelling it drops the batch if it has not been
     * sent yet.
     */
    @Override
    public CompletableFuture<float[]> score(FloatMatrix rows) {
        CompletableFuture<float[]> result = new CompletableFuture<>();
        if (closed) {
            result.completeExceptionally(new ScoringFailedException("the client is closed", -1, 0, null));
            return result;
        }
        if (rows.rows() == 0) {
            result.complete(new float[0]);
            return result;
        }
        Call call = new Call(rows, body(rows), clock.getAsLong() + config.deadline().toNanos(), result);
        if (!limit.submit(() -> attempt(call), false)) {
            metrics.queueFull.increment();
            String why = "the client's waiting queue is full: " + limit.maxWaiting() + " batches wait for one of the "
                    + limit.limit() + " requests allowed in flight; slow down, or raise ClientConfig maxWaiting";
            queueRefusals.refused(why);
            fail(call, new ClientQueueFullException(why));
        }
        return result;
    }

    private static ByteBuffer body(FloatMatrix rows) {
        var direct = rows.littleEndianBytes();
        if (direct.isPresent()) {
            return direct.get();
        }
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(4 * rows.rows(), rows.cols()))
                .order(ByteOrder.LITTLE_ENDIAN);
        rows.copyRowsTo(0, rows.rows(), b);
        return b.flip();
    }

    /** One batch through its attempts. */
    private static final class Call {
        final FloatMatrix rows;
        final ByteBuffer body;
        final long deadline;
        final CompletableFuture<float[]> result;
        final Set<Node> tried = new HashSet<>(4);
        int attempts;
        private String v2Input;
        private byte[] v2Header;

        Call(FloatMatrix rows, ByteBuffer body, long deadline, CompletableFuture<float[]> result) {
            this.rows = rows;
            this.body = body;
            this.deadline = deadline;
            this.result = result;
        }

        /**
         * The V2 request's JSON header for these rows, made once per batch. Only the header: the binary tensor
         * that follows it is {@link #body} as it is ({@link V2Codec#encodeRequest} would copy the rows into a
         * buffer of its own, which the client would throw away on every attempt).
         */
        synchronized byte[] v2Header(String input, String output) {
            if (v2Header == null || !input.equals(v2Input)) {
                Map<String, Object> tensor = new LinkedHashMap<>();
                tensor.put("name", input);
                tensor.put("shape", List.of((long) rows.rows(), (long) rows.cols()));
                tensor.put("datatype", "FP32");
                tensor.put("parameters", Map.of("binary_data_size", (long) body.remaining()));
                Map<String, Object> root = new LinkedHashMap<>();
                root.put("parameters", Map.of("binary_data_output", true));
                root.put("inputs", List.of(tensor));
                root.put("outputs", List.of(Map.of("name", output)));
                v2Header = Json.write(root).getBytes(StandardCharsets.UTF_8);
                v2Input = input;
            }
            return v2Header;
        }
    }

    /** Sends one attempt; runs holding a concurrency slot, which {@link #finish} gives back. */
    private void attempt(Call c) {
        if (c.result.isDone()) { // cancelled while waiting
            limit.release(AdaptiveLimit.Signal.NEUTRAL, 0, 0);
            return;
        }
        if (closed) {
            limit.release(AdaptiveLimit.Signal.NEUTRAL, 0, 0);
            fail(c, new ScoringFailedException("the client was closed", -1, c.attempts, null));
            return;
        }
        long start = clock.getAsLong();
        long remaining = c.deadline - start;
        if (remaining <= 0) { // checked before the breaker: a call that is not sent must not take the trial
            limit.release(AdaptiveLimit.Signal.NEUTRAL, 0, 0);
            fail(c, new ScoringFailedException("deadline of " + config.deadline().toMillis() + " ms passed after "
                    + c.attempts + " attempts", -1, c.attempts, null));
            return;
        }
        CircuitBreaker.Permit permit = breaker.tryAcquire();
        if (permit == null) {
            limit.release(AdaptiveLimit.Signal.NEUTRAL, 0, 0);
            metrics.refused.increment();
            String why = breaker.describe();
            circuitRefusals.refused(why);
            fail(c, new CircuitOpenException(why + " (" + config.endpoints().size() + " endpoints: "
                    + config.endpoints() + ")"));
            return;
        }
        // from here on every path ends in finish(), which resolves the permit and gives the slot back
        Node node = balancer.pick(c.tried);
        c.tried.add(node);
        c.attempts++;
        metrics.attempts.increment();
        if (c.attempts > 1) {
            metrics.retries.increment();
        }
        node.outstanding.incrementAndGet();
        long timeout = Math.min(config.requestTimeout().toNanos(), remaining);
        CompletableFuture<float[]> scored;
        try {
            scored = config.protocol() == Protocol.SEED ? sendSeed(node, c, timeout) : sendV2(node, c, timeout);
        } catch (RuntimeException e) {
            scored = CompletableFuture.failedFuture(e);
        }
        scored.whenComplete((scores, err) -> finish(c, node, permit, start, scores, err));
    }

    private CompletableFuture<float[]> sendSeed(Node node, Call c, long timeoutNanos) {
        Map<String, String> headers = headers(timeoutNanos);
        headers.put(FEATURES_HEADER, Integer.toString(c.rows.cols()));
        return transport.send(node, HttpMethod.PUT, seedPath, () -> Unpooled.wrappedBuffer(c.body.duplicate()),
                SeedBinaryCodec.CONTENT_TYPE, headers,
                timeoutNanos).thenApply(reply -> {
                    if (reply.status() != 200) {
                        throw refusal(node, reply);
                    }
                    return SeedBinaryCodec.decodeScores(reply.body());
                });
    }

    private CompletableFuture<float[]> sendV2(Node node, Call c, long timeoutNanos) {
        return v2InputName(node, timeoutNanos).thenCompose(input -> {
            byte[] json = c.v2Header(input, config.output());
            // the body is the JSON header and the batch's own bytes, wrapped: no copy of the rows, whatever the
            // number of attempts
            Supplier<ByteBuf> body = () -> Unpooled.wrappedBuffer(Unpooled.wrappedBuffer(json),
                    Unpooled.wrappedBuffer(c.body.duplicate()));
            Map<String, String> headers = headers(timeoutNanos);
            headers.put(V2Codec.HEADER_LENGTH, Integer.toString(json.length));
            return transport.send(node, HttpMethod.POST, "/v2/models/" + config.model() + "/infer", body,
                    "application/octet-stream", headers, timeoutNanos);
        }).thenApply(reply -> {
            if (reply.status() != 200) {
                throw refusal(node, reply);
            }
            InferenceResponse r = V2Codec.decodeResponse(reply.body(), reply.inferenceHeaderLength());
            for (InferOutput o : r.outputs()) {
                if (o.name().equals(config.output())) {
                    return scores(o);
                }
            }
            throw new ScoringFailedException(node + " answered without output '" + config.output() + "'", 200,
                    c.attempts, null);
        });
    }

    private static float[] scores(InferOutput o) {
        if (o.data() instanceof float[] f) {
            return f;
        }
        if (o.datatype().equals("BYTES")) {
            throw new ScoreflowException("output '" + o.name() + "' is BYTES; a score must be numeric");
        }
        return o.asFloats();
    }

    /** The V2 input name: configured, or read once from the model's metadata. */
    private CompletableFuture<String> v2InputName(Node node, long timeoutNanos) {
        CompletableFuture<String> known = v2Input;
        if (known != null) {
            return known;
        }
        CompletableFuture<String> fetched = transport.send(node, HttpMethod.GET, "/v2/models/" + config.model(),
                () -> Unpooled.EMPTY_BUFFER, null, headers(timeoutNanos), timeoutNanos).thenApply(reply -> {
                    if (reply.status() != 200) {
                        throw refusal(node, reply);
                    }
                    Map<String, Object> meta = Json.parseObject(reply.body(), "model metadata");
                    if (!(meta.get("inputs") instanceof List<?> ins) || ins.size() != 1
                            || !(ins.get(0) instanceof Map<?, ?> in) || !(in.get("name") instanceof String name)) {
                        throw new ScoringFailedException("model '" + config.model() + "' on " + node
                                + " does not have exactly one named input: " + meta.get("inputs"), 200, 0, null);
                    }
                    return name;
                });
        fetched.thenAccept(name -> v2Input = CompletableFuture.completedFuture(name));
        return fetched;
    }

    private Map<String, String> headers(long timeoutNanos) {
        Map<String, String> h = new java.util.HashMap<>(4);
        h.put(TIMEOUT_HEADER, Long.toString(Math.max(1, TimeUnit.NANOSECONDS.toMillis(timeoutNanos))));
        if (config.bearerToken() != null) {
            h.put("Authorization", "Bearer " + config.bearerToken());
        }
        return h;
    }

    private Refused refusal(Node node, HttpTransport.Reply reply) {
        String text = reply.bodyText().strip();
        if (text.length() > 500) {
            text = text.substring(0, 500) + "...";
        }
        if (reply.status() == 401) {
            text += config.bearerToken() == null
                    ? " (the server requires a bearer token and none was sent: set ClientConfig bearerToken, or "
                    + "ModelScorer authTokenFile / authTokenEnv, or scoreflow batch --auth-token-file / --auth-token-env)"
                    : " (the server refused the bearer token sent)";
        }
        return new Refused("HTTP " + reply.status() + " from " + node + ": " + text, reply.status(),
                RetryPolicy.retryAfterNanos(reply.retryAfter()));
    }

    /** A node answered with an error status; carries its {@code Retry-After} to the retry decision. */
    private static final class Refused extends ScoringFailedException {
        final long retryAfterNanos;

        Refused(String message, int status, long retryAfterNanos) {
            super(message, status, 0, null);
            this.retryAfterNanos = retryAfterNanos;
        }
    }

    /**
     * Ends one attempt: resolves its breaker permit (first, and on every path: a trial that is never resolved would
     * hold the circuit half-open), gives its concurrency slot back, then completes, fails or retries the batch.
     */
    private void finish(Call c, Node node, CircuitBreaker.Permit permit, long start, float[] scores, Throwable err) {
        node.outstanding.decrementAndGet();
        long latency = clock.getAsLong() - start;
        Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
        // an HTTP answer of any status, even one that cannot be decoded, proves the cluster reachable
        boolean answered = cause == null || cause instanceof ScoreflowException;
        String why = answered ? null : cause.getMessage() == null ? cause.toString() : cause.getMessage();
        if (answered) {
            permit.answered();
        } else {
            permit.noAnswer(why);
        }
        if (cause == null) {
            if (scores.length != c.rows.rows()) {
                limit.release(AdaptiveLimit.Signal.NEUTRAL, latency, c.rows.rows());
                fail(c, new ScoringFailedException(node + " answered " + scores.length + " scores for "
                        + c.rows.rows() + " rows", 200, c.attempts, null));
                return;
            }
            limit.release(AdaptiveLimit.Signal.OK, latency, c.rows.rows());
            metrics.latency(latency);
            metrics.requests.increment();
            metrics.rows.add(scores.length);
            c.result.complete(scores);
            return;
        }
        if (cause instanceof Refused refused) {
            int status = refused.status();
            if (!RetryPolicy.retryable(status)) {
                limit.release(AdaptiveLimit.Signal.NEUTRAL, latency, c.rows.rows());
                fail(c, new ScoringFailedException(refused.getMessage(), status, c.attempts, null));
                return;
            }
            limit.release(status == 429 || status == 503 ? AdaptiveLimit.Signal.OVERLOAD
                    : AdaptiveLimit.Signal.NEUTRAL, latency, c.rows.rows());
            retryOrFail(c, refused.retryAfterNanos, status, refused.getMessage(), null);
            return;
        }
        if (cause instanceof ScoreflowException bad) {
            // the answer could not be decoded (or the model has no such input): repeating would not help
            limit.release(AdaptiveLimit.Signal.NEUTRAL, latency, c.rows.rows());
            fail(c, bad instanceof ScoringFailedException f ? f : new ScoringFailedException("bad answer from "
                    + node + ": " + bad.getMessage(), 200, c.attempts, bad));
            return;
        }
        // no answer at all: the node is down or stuck
        eject(node, why);
        limit.release(cause instanceof TimeoutException ? AdaptiveLimit.Signal.OVERLOAD
                : AdaptiveLimit.Signal.NEUTRAL, latency, c.rows.rows());
        retryOrFail(c, 0, -1, why, cause);
    }

    private void retryOrFail(Call c, long retryAfterNanos, int status, String why, Throwable cause) {
        if (closed) {
            fail(c, new ScoringFailedException("the client was closed; last attempt: " + why, status, c.attempts,
                    cause));
            return;
        }
        if (c.attempts >= config.maxAttempts()) {
            fail(c, new ScoringFailedException("gave up after " + c.attempts + " attempts; last: " + why, status,
                    c.attempts, cause));
            return;
        }
        long delay = retry.delayNanos(c.attempts, retryAfterNanos);
        if (clock.getAsLong() + delay >= c.deadline) {
            fail(c, new ScoringFailedException("the deadline of " + config.deadline().toMillis()
                    + " ms would pass before attempt " + (c.attempts + 1) + "; last: " + why, status, c.attempts,
                    cause));
            return;
        }
        transport.schedule(() -> limit.submit(() -> attempt(c), true), delay);
    }

    private void fail(Call c, ScoringFailedException e) {
        metrics.failures.increment();
        c.result.completeExceptionally(e);
    }

    /** Asks every node whether it is ready: ejects the silent and the draining, re-admits the answering. */
    private void checkHealth() {
        if (closed) {
            return;
        }
        long timeout = Math.min(config.healthInterval().toNanos(), TimeUnit.SECONDS.toNanos(2));
        for (Node node : balancer.nodes()) {
            transport.send(node, HttpMethod.GET, "/v2/health/ready", () -> Unpooled.EMPTY_BUFFER, null, headers(timeout),
                    timeout).whenComplete((reply, err) -> {
                        if (err != null) {
                            eject(node, "health check: " + err.getMessage());
                        } else if (reply.status() == 503) { // draining: finish what it has, send nothing new
                            eject(node, "health check: not ready (503)");
                        } else if (reply.status() < 500) { // 404 too: a server without health endpoints is up
                            if (node.readmit()) {
                                LOG.info("node {} readmitted: it answers health checks again (HTTP {})", node,
                                        reply.status());
                            }
                        }
                    });
        }
    }

    private void eject(Node node, String why) {
        if (node.eject(why)) {
            metrics.ejections.increment();
            LOG.warn("node {} ejected: {}; health checks every {} ms re-admit it once it answers", node, why,
                    config.healthInterval().toMillis());
        }
    }

    /** Nodes out of rotation now. */
    public List<String> ejectedNodes() {
        List<String> out = new ArrayList<>();
        for (Node n : balancer.nodes()) {
            if (n.ejected()) {
                out.add(n + " (" + n.lastFailure() + ")");
            }
        }
        return out;
    }

    /**
     * Closes connections and fails waiting batches. A shared client ({@link ScoringClients#shared}) ignores this:
     * it lives until {@link ScoringClients#closeAll} or JVM exit, because other tasks in the JVM use it.
     */
    @Override
    public void close() {
        if (!shared) {
            closeNow();
        }
    }

    void closeNow() {
        if (closed) {
            return;
        }
        closed = true;
        for (Runnable r : limit.drain()) {
            r.run(); // each waiting attempt sees 'closed' and fails its batch
        }
        transport.close();
    }
}
