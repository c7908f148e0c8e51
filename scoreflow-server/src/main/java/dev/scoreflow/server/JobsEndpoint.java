package dev.scoreflow.server;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.api.V2Codec;
import dev.scoreflow.api.internal.Json;
import dev.scoreflow.jobs.Job;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobRequest;
import dev.scoreflow.jobs.JobState;
import dev.scoreflow.jobs.QueueUnavailableException;
import dev.scoreflow.jobs.Submitted;
import dev.scoreflow.runtime.ServedModel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Request-acknowledge scoring (the lecture's pattern): a scoring request is submitted as a job and answered
 * {@code 202 Accepted} with the job's id and {@code Location} once the job is durably queued, never before; a
 * worker ({@link JobWorker}) scores it later; {@code GET /jobs/{id}} tells its state and result,
 * {@code GET /jobs/{id}/result} gives the result as the synchronous call would have, {@code DELETE /jobs/{id}}
 * cancels a queued job. A submission is checked as far as it can be without scoring (model, body shape), so a job
 * that is accepted can run.
 *
 * <p>The queue is a database or a broker: its calls block, so they run on this endpoint's own bounded pool, never
 * on an event loop; when the pool is full, or the queue is down, the answer is a fast 503.
 */
final class JobsEndpoint {
    private static final Logger LOG = LoggerFactory.getLogger(JobsEndpoint.class);
    static final String IDEMPOTENCY_KEY = "Idempotency-Key";
    static final String GROUP = "Scoreflow-Job-Group";
    /** Where to send the finished job: repeatable, or several comma-separated; http(s) URLs and mailto: addresses. */
    static final String CALLBACK = "Scoreflow-Callback";
    private static final int THREADS = 8;
    private static final int WAITING = 512;

    private final JobQueue queue;
    private final dev.scoreflow.runtime.ModelRepository repository;
    private final String defaultModel;
    private final ExecutorService io;
    /** Long polling: at most this many requests wait at once, each at most this long. */
    static final int MAX_WAITERS = 100_000;
    static final int MAX_WAIT_SECONDS = 120;
    private static final java.util.regex.Pattern WAIT = java.util.regex.Pattern.compile("(\\d{1,9})(ms|s|m)?");
    private final ConcurrentHashMap<String, Set<Waiter>> waiters = new ConcurrentHashMap<>();
    private final AtomicLong waiting = new AtomicLong();
    private final ScheduledThreadPoolExecutor timer;
    /** Looks up the jobs waiters wait for: at most one lookup per waiter is ever queued, so MAX_WAITERS bounds it. */
    private final ExecutorService lookups;
    /** The server is stopping: no new long polls (they answer at once). */
    private volatile boolean stopping;

    JobsEndpoint(JobQueue queue, dev.scoreflow.runtime.ModelRepository repository, String defaultModel) {
        this.queue = queue;
        this.repository = repository;
        this.defaultModel = defaultModel;
        this.io = new ThreadPoolExecutor(THREADS, THREADS, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(WAITING), r -> {
            Thread t = new Thread(r, "scoreflow-jobs-io");
            t.setDaemon(true);
            return t;
        });
        this.lookups = new ThreadPoolExecutor(2, 2, 0, TimeUnit.MILLISECONDS,
                new java.util.concurrent.LinkedBlockingQueue<>(MAX_WAITERS + 1000), r -> {
            Thread t = new Thread(r, "scoreflow-jobs-waiters");
            t.setDaemon(true);
            return t;
        });
        this.timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "scoreflow-jobs-timer");
            t.setDaemon(true);
            return t;
        });
        timer.setRemoveOnCancelPolicy(true);
        queue.onFinished(this::finished);
    }

    /** {@code PUT|POST /models/{m}[/versions/{v}]/jobs} (seed rows) and {@code POST /v2/models/...}/jobs (V2). */
    CompletableFuture<Answer> submit(Exchange ex, String name, String version, String protocol) {
        JobRequest request;
        try {
            request = request(ex, name, version, protocol);
        } catch (RuntimeException e) {
            return done(Answer.error(e));
        }
        return blocking(() -> {
            Submitted s = queue.submit(request);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", s.id());
            body.put("state", JobState.QUEUED.wireName());
            body.put("created", s.created());
            body.put("location", location(s.id()));
            FullHttpResponse r = Answer.json(HttpResponseStatus.ACCEPTED, body);
            r.headers().set(HttpHeaderNames.LOCATION, location(s.id()));
            return r;
        });
    }

    /** What the job will run, checked now: the model exists, the body has the shape the model takes. */
    private JobRequest request(Exchange ex, String name, String version, String protocol) {
        String encoding = RequestDecompressor.refusal(ex.request.headers());
        if (encoding != null) {
            throw new BadInputException(encoding);
        }
        if (ex.bodyLength() == 0) {
            throw new BadInputException("empty body: a job needs the request it will run");
        }
        String model = name != null ? name : defaultModel != null ? defaultModel : "";
        ServedModel served = name == null && defaultModel == null ? null : repository.get(model, version);
        String type = ex.mediaType();
        long headerLength = -1;
        if (protocol.equals(JobRequest.SEED)) {
            if (type != null && !SeedEndpoint.BINARY_TYPES.contains(type)) {
                throw new BadInputException("unsupported content type '" + type + "'; send raw little-endian "
                        + "float32 rows as " + SeedBinaryCodec.CONTENT_TYPE);
            }
            if (served == null) {
                throw new BadInputException("no model named and no default model: submit to /models/{name}/jobs");
            }
            SeedBinaryCodec.rows(ex.bodyLength(), served.signature().featureCount()); // throws naming the problem
            type = SeedBinaryCodec.CONTENT_TYPE;
        } else {
            String h = ex.request.headers().get(V2Codec.HEADER_LENGTH);
            if (h != null) {
                try {
                    headerLength = Long.parseLong(h.trim());
                } catch (NumberFormatException e) {
                    throw new BadInputException(V2Codec.HEADER_LENGTH + " must be a non-negative integer, got '"
                            + h + "'");
                }
            }
            V2Codec.decodeRequest(ex.body(), headerLength); // refuses a malformed body now, not in the worker
            type = type == null ? "application/json" : type;
        }
        byte[] body = new byte[(int) ex.bodyLength()];
        ex.request.content().getBytes(ex.request.content().readerIndex(), body);
        String key = ex.request.headers().get(IDEMPOTENCY_KEY);
        String group = ex.request.headers().get(GROUP);
        try {
            return new JobRequest(model, version, protocol, type, headerLength, body, blankToNull(group),
                    blankToNull(key), callbacks(ex.request.headers().getAll(CALLBACK)));
        } catch (IllegalArgumentException e) {
            throw new BadInputException(e.getMessage());
        }
    }

    /** Every {@value #CALLBACK} header, each split at commas (a URL with a comma in it must be %2C-encoded). */
    static java.util.List<String> callbacks(java.util.List<String> headers) {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (String h : headers) {
            for (String one : h.split(",")) {
                if (!one.isBlank()) {
                    out.add(one.trim());
                }
            }
        }
        return out;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }

    /**
     * {@code GET /jobs/{id}[?wait=30s]}: the state, attempts, error, and the result (inline if JSON) or where to get
     * it. With {@code wait} (at most {@value #MAX_WAIT_SECONDS} s), long polling: the answer comes as soon as the job
     * is finished, or with its state when the wait is over. A waiter is an entry in a map and a timer, not a thread.
     */
    CompletableFuture<Answer> status(String id, String uri) {
        long waitMs;
        try {
            waitMs = waitMillis(uri);
        } catch (BadInputException e) {
            return done(Answer.error(e));
        }
        if (waitMs <= 0 || stopping) {
            return blocking(() -> describe(id, queue.get(id)));
        }
        if (waiting.get() >= MAX_WAITERS) {
            FullHttpResponse r = Answer.error(HttpResponseStatus.SERVICE_UNAVAILABLE, MAX_WAITERS + " requests are "
                    + "already waiting for jobs; try again later, or without ?wait");
            r.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
            return done(r);
        }
        Waiter w = new Waiter(id);
        waiting.incrementAndGet();
        // registered before the first look, so that a job finishing in between is not missed
        waiters.computeIfAbsent(id, k -> ConcurrentHashMap.newKeySet()).add(w);
        w.timeout = timer.schedule(() -> wake(w), waitMs, TimeUnit.MILLISECONDS);
        try {
            lookups.execute(() -> {
                Optional<Job> j = lookup(id);
                if (j != null && (j.isEmpty() || j.get().state().isFinal())) {
                    answer(w, j);
                }
            });
        } catch (RejectedExecutionException e) {
            answer(w, null);
        }
        return w.answer;
    }

    /** A request waiting for job {@code id}; answered once, by the job finishing or by its timeout. */
    private static final class Waiter {
        final String id;
        final CompletableFuture<Answer> answer = new CompletableFuture<>();
        final AtomicBoolean answered = new AtomicBoolean();
        volatile ScheduledFuture<?> timeout;

        Waiter(String id) {
            this.id = id;
        }
    }

    /** The queue says job {@code id} finished (null: any may have): answer its waiters with its state now. */
    private void finished(String id) {
        Set<String> ids = id == null ? Set.copyOf(waiters.keySet()) : Set.of(id);
        for (String one : ids) {
            Set<Waiter> ws = waiters.get(one);
            if (ws == null || ws.isEmpty()) {
                continue;
            }
            try {
                lookups.execute(() -> {
                    Optional<Job> j = lookup(one);
                    Set<Waiter> now = waiters.get(one);
                    if (now != null && (j == null || j.isEmpty() || j.get().state().isFinal())) {
                        now.forEach(w -> answer(w, j));
                    }
                });
            } catch (RejectedExecutionException e) {
                ws.forEach(w -> answer(w, null));
            }
        }
    }

    /** The wait is over: answer with the state as it is. */
    private void wake(Waiter w) {
        try {
            lookups.execute(() -> answer(w, lookup(w.id)));
        } catch (RejectedExecutionException e) {
            answer(w, null);
        }
    }

    /** The job, or null if the queue could not be asked (then the waiter is answered 503). */
    private Optional<Job> lookup(String id) {
        try {
            return queue.get(id);
        } catch (RuntimeException e) {
            LOG.warn("jobs: cannot read job {}: {}", id, e.getMessage());
            return null;
        }
    }

    private void answer(Waiter w, Optional<Job> job) {
        if (!w.answered.compareAndSet(false, true)) {
            return;
        }
        waiting.decrementAndGet();
        ScheduledFuture<?> t = w.timeout;
        if (t != null) {
            t.cancel(false);
        }
        Set<Waiter> ws = waiters.get(w.id);
        if (ws != null) {
            ws.remove(w);
            if (ws.isEmpty()) {
                waiters.remove(w.id, ws);
            }
        }
        FullHttpResponse r;
        if (job == null) {
            r = Answer.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "the job queue is unavailable, or this server "
                    + "is stopping; ask again");
            r.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
        } else {
            r = describe(w.id, job);
        }
        w.answer.complete(Answer.of(r).about("", "jobs", 0));
    }

    /** Requests waiting now (a gauge of long polling). */
    long waiting() {
        return waiting.get();
    }

    static long waitMillis(String uri) {
        java.util.List<String> v = new QueryStringDecoder(uri).parameters().get("wait");
        if (v == null || v.isEmpty()) {
            return 0;
        }
        String w = v.get(0).trim();
        java.util.regex.Matcher m = WAIT.matcher(w);
        if (!m.matches()) {
            throw new BadInputException("wait must be a duration like 30s, 500ms or 1m, got '" + w + "'");
        }
        long n = Long.parseLong(m.group(1));
        long ms = m.group(2) == null || m.group(2).equals("s") ? n * 1000 : m.group(2).equals("ms") ? n : n * 60_000;
        if (ms > MAX_WAIT_SECONDS * 1000L) {
            throw new BadInputException("wait is at most " + MAX_WAIT_SECONDS + " s, got '" + w + "'");
        }
        return ms;
    }

    private FullHttpResponse describe(String id, Optional<Job> found) {
        if (found.isEmpty()) {
            return unknown(id);
        }
        return Answer.json(HttpResponseStatus.OK, document(found.get()));
    }

    /**
     * The job as {@code GET /jobs/{id}} shows it, and as a webhook callback is POSTed it: one rendering for both.
     * {@code callbacks} is the outcome of each callback, one line each, as the worker that sends them recorded it.
     */
    static Map<String, Object> document(Job j) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", j.id());
        body.put("model", j.model());
        body.put("state", j.state().wireName());
        body.put("receives", j.receives());
        if (j.error() != null) {
            body.put("error", j.error());
        }
        body.put("submitted", j.submitted().toString());
        body.put("updated", j.updated().toString());
        if (j.state() == JobState.DONE) {
            body.put("result_type", j.resultType());
            if (j.resultType() != null && j.resultType().startsWith("application/json")) {
                body.put("result", Json.parse(ByteBuffer.wrap(j.result())));
            }
            body.put("result_url", location(j.id()) + "/result");
        }
        if (j.callbacks() != null) {
            body.put("callbacks", java.util.List.of(j.callbacks().split("\n")));
        }
        return body;
    }

    /** {@code GET /jobs/{id}/result}: exactly the body the synchronous call would have answered. */
    CompletableFuture<Answer> result(String id) {
        return blocking(() -> {
            Optional<Job> found = queue.get(id);
            if (found.isEmpty()) {
                return unknown(id);
            }
            Job j = found.get();
            if (j.state() != JobState.DONE) {
                return Answer.error(HttpResponseStatus.CONFLICT, "job " + id + " is " + j.state().wireName()
                        + (j.error() != null ? " (" + j.error() + ")" : "") + "; it has no result");
            }
            FullHttpResponse r = Answer.bytes(HttpResponseStatus.OK, j.result(), mediaType(j.resultType()));
            String headerLength = parameter(j.resultType(), V2Codec.HEADER_LENGTH);
            if (headerLength != null) {
                r.headers().set(V2Codec.HEADER_LENGTH, headerLength);
            }
            return r;
        });
    }

    /** {@code DELETE /jobs/{id}}: cancels a job that is still queued. */
    CompletableFuture<Answer> cancel(String id) {
        return blocking(() -> {
            if (queue.cancel(id)) {
                return Answer.json(HttpResponseStatus.OK, Map.of("id", id, "state", JobState.CANCELLED.wireName()));
            }
            Optional<Job> found = queue.get(id);
            if (found.isEmpty()) {
                return unknown(id);
            }
            return Answer.error(HttpResponseStatus.CONFLICT, "job " + id + " is " + found.get().state().wireName()
                    + "; only a queued job can be cancelled");
        });
    }

    /** Result types carry the V2 header length as a parameter: {@code application/octet-stream; name=value}. */
    static String resultType(String contentType, String headerLength) {
        return headerLength == null ? contentType : contentType + "; " + V2Codec.HEADER_LENGTH + "=" + headerLength;
    }

    private static String mediaType(String type) {
        int semi = type.indexOf(';');
        return semi < 0 ? type : type.substring(0, semi).trim();
    }

    private static String parameter(String type, String name) {
        for (String part : type.split(";")) {
            int eq = part.indexOf('=');
            if (eq > 0 && part.substring(0, eq).trim().equalsIgnoreCase(name)) {
                return part.substring(eq + 1).trim();
            }
        }
        return null;
    }

    private static FullHttpResponse unknown(String id) {
        return Answer.error(HttpResponseStatus.NOT_FOUND, "no job " + id + " (unknown, or finished long ago and "
                + "cleaned up)");
    }

    private static String location(String id) {
        return "/jobs/" + id;
    }

    private CompletableFuture<Answer> blocking(Supplier<FullHttpResponse> call) {
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return Answer.of(call.get()).about("", "jobs", 0);
                } catch (QueueUnavailableException e) {
                    FullHttpResponse r = Answer.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "the job queue is "
                            + "unavailable: " + e.getMessage());
                    r.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
                    return Answer.of(r);
                } catch (RuntimeException e) {
                    LOG.warn("jobs: {}", e.toString());
                    return Answer.of(Answer.error(e));
                }
            }, io);
        } catch (RejectedExecutionException e) {
            FullHttpResponse r = Answer.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "too many job requests are "
                    + "waiting for the queue; try again later");
            r.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
            return done(r);
        }
    }

    private static CompletableFuture<Answer> done(FullHttpResponse r) {
        return CompletableFuture.completedFuture(Answer.of(r));
    }

    /** Answers every waiting request at once (503: ask again), as the server stops. */
    void release() {
        stopping = true;
        for (Set<Waiter> ws : waiters.values()) {
            for (Waiter w : ws) {
                answer(w, null);
            }
        }
    }

    void close() {
        release();
        io.shutdownNow();
        lookups.shutdownNow();
        timer.shutdownNow();
    }
}
