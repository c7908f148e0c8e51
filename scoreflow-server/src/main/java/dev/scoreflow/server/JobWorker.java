package dev.scoreflow.server;

import dev.scoreflow.api.V2Codec;
import dev.scoreflow.api.internal.Json;
import dev.scoreflow.jobs.Delivery;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobRequest;
import dev.scoreflow.jobs.QueueUnavailableException;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Takes jobs from a {@link JobQueue} and scores them with the runtime, each exactly as the synchronous endpoint would
 * have answered it: the job's request goes through the same router, validation and codecs as an HTTP request, in
 * memory, and the answer's body is the job's result. An answer that says the request itself is wrong (4xx) fails the
 * job for good with that error; an overloaded or failing model (429, 5xx, no answer within the lease) fails the
 * attempt, retried with backoff until the queue's maximum of receives dead-letters it. A worker killed mid-job
 * loses its lease: the queue delivers the job again. Run more workers (here or in other processes) to scale.
 *
 * <p>A thread hands each outcome to the queue ({@link JobQueue#completeAsync}, {@link JobQueue#failAsync}) and scores
 * on while the queue stores it, with at most {@link #MAX_PENDING_OUTCOMES} not yet stored: a queue that commits
 * outcomes in batches (Kafka's transactions) then commits many at once. A job counts as done, and its callbacks go
 * out, only once its outcome is stored.
 *
 * <p>When this worker brings a job to a final state (done, failed, dead-lettered), it calls the job's callbacks back
 * with {@link Callbacks}, on threads of their own: see {@link CallbackSettings}.
 */
public final class JobWorker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobWorker.class);
    /** How long an idle worker thread waits on the queue per call (it sleeps on the broker, not in a loop). */
    static final Duration RECEIVE_WAIT = Duration.ofSeconds(5);
    /**
     * Outcomes one thread has handed to the queue ({@link JobQueue#completeAsync}) and not yet seen stored, at most:
     * a queue that commits them in batches (Kafka's) stores them while the thread scores the next jobs. At the bound
     * the thread waits for the oldest before it takes more jobs, so a queue that stops storing stops the worker.
     */
    static final int MAX_PENDING_OUTCOMES = 64;
    /** How long a thread waits for one outcome to be stored before it gives up on it (its lease decides then). */
    static final Duration OUTCOME_WAIT = Duration.ofSeconds(30);
    /** How long a closing thread waits for its pending outcomes, all together. */
    static final Duration OUTCOME_WAIT_AT_CLOSE = Duration.ofSeconds(5);

    private final JobQueue queue;
    private final Service service;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLong done = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final Callbacks callbacks;
    private volatile boolean closed;

    private JobWorker(JobQueue queue, Service service, CallbackSettings callbackSettings) {
        this.queue = queue;
        this.service = service;
        this.callbacks = new Callbacks(queue, callbackSettings);
    }

    /**
     * Starts {@code concurrency} worker threads on {@code queue}, scoring with the models of {@code config}'s
     * repository (its server settings apply as they would to HTTP requests; nothing listens on a port).
     */
    public static JobWorker start(ScoringServer.Builder config, JobQueue queue, int concurrency) {
        return start(config, queue, concurrency, CallbackSettings.defaults());
    }

    /** As {@link #start(ScoringServer.Builder, JobQueue, int)}, sending the jobs' callbacks as {@code callbacks} says. */
    public static JobWorker start(ScoringServer.Builder config, JobQueue queue, int concurrency,
                                  CallbackSettings callbacks) {
        if (concurrency < 1 || concurrency > 1024) {
            throw new IllegalArgumentException("concurrency must be in [1, 1024], was " + concurrency);
        }
        JobWorker w = new JobWorker(queue, config.workerService(), callbacks);
        for (int i = 0; i < concurrency; i++) {
            Thread t = new Thread(w::run, "scoreflow-job-worker-" + i);
            t.setDaemon(true);
            w.threads.add(t);
            t.start();
        }
        LOG.info("job worker: {} threads on the queue (lease {}, {} receives at most)", concurrency,
                queue.settings().visibilityTimeout(), queue.settings().maxReceives());
        return w;
    }

    /** Jobs this worker finished with a result, and jobs whose attempt failed (retried or failed for good). */
    public long done() {
        return done.get();
    }

    public long failed() {
        return failed.get();
    }

    /**
     * One worker thread: receives jobs (as many as {@link ReceiveSize} says), scores them one after the other and
     * hands their outcomes to the queue without waiting for each to be stored; what follows an outcome (the done
     * count, the callbacks) happens once the queue says it is stored. With outcomes in flight it receives without
     * waiting, and when nothing comes it waits for them all before it waits on the queue.
     */
    private void run() {
        ReceiveSize size = new ReceiveSize(System::nanoTime);
        ArrayDeque<Outcome> pending = new ArrayDeque<>();
        long backoffMs = 100;
        try {
            while (!closed) {
                if (!settle(pending, MAX_PENDING_OUTCOMES - size.size())) {
                    return;
                }
                List<Delivery> got;
                try {
                    got = queue.receive(size.size(), pending.isEmpty() ? RECEIVE_WAIT : Duration.ZERO);
                    backoffMs = 100;
                } catch (InterruptedException e) {
                    return;
                } catch (QueueUnavailableException e) {
                    LOG.warn("job worker: the queue is unavailable ({}); trying again in {} ms", e.getMessage(),
                            backoffMs);
                    if (!pause(backoffMs)) {
                        return;
                    }
                    backoffMs = Math.min(10_000, backoffMs * 2);
                    continue;
                }
                size.received(got.size());
                if (got.isEmpty() && !settle(pending, 0)) {
                    return;
                }
                for (Delivery d : got) {
                    callbacks.taken(d);
                    Outcome o = handle(d);
                    if (o != null) {
                        pending.add(o);
                    }
                    reap(pending);
                }
            }
        } finally {
            // closing: what the queue stores within a few seconds still calls back; the rest is left to the leases
            boolean interrupted = Thread.interrupted();
            settle(pending, 0, OUTCOME_WAIT_AT_CLOSE);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** An outcome handed to the queue, and what to do once it is stored ({@code true}) or refused ({@code false}). */
    record Outcome(Delivery delivery, CompletableFuture<Boolean> stored, java.util.function.Consumer<Boolean> then) {
    }

    /** Acts on the outcomes at the head of {@code pending} that are stored already, without waiting. */
    private void reap(ArrayDeque<Outcome> pending) {
        while (!pending.isEmpty() && pending.peek().stored().isDone()) {
            settled(pending.poll());
        }
    }

    /**
     * Waits, oldest first, until at most {@code max} outcomes are pending. @return false if interrupted (closing)
     */
    private boolean settle(ArrayDeque<Outcome> pending, int max) {
        return settle(pending, max, null);
    }

    /**
     * As {@link #settle(ArrayDeque, int)}, giving up on the outcomes not stored within {@code total} (null: within
     * {@link #OUTCOME_WAIT} each).
     */
    private boolean settle(ArrayDeque<Outcome> pending, int max, Duration total) {
        reap(pending);
        long deadline = System.nanoTime() + (total == null ? 0 : total.toNanos());
        while (pending.size() > Math.max(0, max)) {
            Outcome o = pending.peek();
            long wait = total == null ? OUTCOME_WAIT.toNanos() : Math.max(0, deadline - System.nanoTime());
            try {
                o.stored().get(wait, TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } catch (ExecutionException | TimeoutException e) {
                // settled below: logged, and the lease decides
            }
            settled(pending.poll());
        }
        return true;
    }

    private void settled(Outcome o) {
        Boolean stored;
        try {
            stored = o.stored().getNow(null);
        } catch (CompletionException | java.util.concurrent.CancellationException e) {
            // not stored: the lease runs out and the job comes again
            Throwable why = e.getCause() != null ? e.getCause() : e;
            LOG.warn("job worker: could not record the outcome of job {}: {}", o.delivery().id(), why.getMessage());
            return;
        }
        if (stored == null) {
            LOG.warn("job worker: the outcome of job {} was not stored in time; its lease decides", o.delivery().id());
            return;
        }
        o.then().accept(stored);
    }

    /**
     * How many jobs a worker thread asks for per receive: from {@link #MIN} to {@link #MAX}. It doubles while
     * receives come back full (a backlog: fewer round trips, bigger batches of outcomes) and halves when one comes
     * back empty or none has come back full for {@link #SHRINK_AFTER} (little work: a thread should not lease jobs
     * that another, idle one could score, nor spend the last one's lease behind the others). Not thread-safe: one per
     * worker thread.
     */
    static final class ReceiveSize {
        static final int MIN = 4;
        static final int MAX = 32;
        static final Duration SHRINK_AFTER = Duration.ofSeconds(1);
        private final java.util.function.LongSupplier ticker;
        private int size = MIN;
        private long since; // the ticker when size last changed or a receive came back full

        ReceiveSize(java.util.function.LongSupplier ticker) {
            this.ticker = ticker;
            this.since = ticker.getAsLong();
        }

        int size() {
            return size;
        }

        /** A receive for {@link #size()} jobs gave {@code got}. */
        void received(int got) {
            long now = ticker.getAsLong();
            if (got >= size) {
                size = Math.min(MAX, size * 2);
                since = now;
            } else if (got == 0 || now - since >= SHRINK_AFTER.toNanos()) {
                size = Math.max(MIN, size / 2);
                since = now;
            }
        }
    }

    private boolean pause(long ms) {
        try {
            Thread.sleep(ms);
            return !closed;
        } catch (InterruptedException e) {
            return false;
        }
    }

    /** Runs one job through the router and hands its outcome to the queue; null if there is nothing to wait for. */
    Outcome handle(Delivery d) {
        JobRequest r = d.request();
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1,
                r.protocol().equals(JobRequest.SEED) ? HttpMethod.PUT : HttpMethod.POST, uri(r),
                Unpooled.wrappedBuffer(r.body()));
        request.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
        request.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.body().length);
        if (r.headerLength() >= 0) {
            request.headers().set(V2Codec.HEADER_LENGTH, r.headerLength());
        }
        List<String> path = HttpConnection.segments(request.uri());
        Exchange ex = new Exchange(request, path, false, service.budget.open(), ByteBufAllocator.DEFAULT,
                System.nanoTime());
        FullHttpResponse answer;
        try {
            answer = service.router.route(ex).get(queue.settings().visibilityTimeout().toMillis(),
                    TimeUnit.MILLISECONDS).response();
        } catch (TimeoutException e) {
            return failAttempt(d, "no answer from the model within the lease ("
                    + queue.settings().visibilityTimeout() + ")");
        } catch (Exception e) {
            return failAttempt(d, "scoring failed: " + e);
        } finally {
            ex.release();
        }
        try {
            int code = answer.status().code();
            byte[] body = ByteBufUtil.getBytes(answer.content());
            if (code == 200) {
                String type = JobsEndpoint.resultType(answer.headers().get(HttpHeaderNames.CONTENT_TYPE),
                        answer.headers().get(V2Codec.HEADER_LENGTH));
                CompletableFuture<Boolean> result = async(d, () -> queue.completeAsync(d, body, type));
                // counted as the queue stores it, so that done() is never behind what GET /jobs/{id} shows
                result.thenAccept(stored -> {
                    if (stored) {
                        done.incrementAndGet();
                    }
                });
                return new Outcome(d, result, stored -> {
                    if (stored) {
                        callbacks.finished(d);
                    } else {
                        LOG.info("job {}: its lease passed to another delivery before the result; that one counts",
                                d.id());
                    }
                });
            } else if (code >= 400 && code < 500 && code != 408 && code != 429) {
                failed.incrementAndGet();
                // the request is wrong: no retry helps
                return new Outcome(d, async(d, () -> queue.failAsync(d, "HTTP " + code + ": " + message(body), null)),
                        stored -> {
                            if (stored) {
                                callbacks.finished(d);
                            }
                        });
            } else {
                return failAttempt(d, "HTTP " + code + ": " + message(body));
            }
        } finally {
            answer.release();
        }
    }

    private Outcome failAttempt(Delivery d, String error) {
        failed.incrementAndGet();
        // 0.5 s, 1 s, 2 s ... for the next attempts, at most a minute
        long ms = Math.min(60_000, 500L << Math.min(16, Math.max(0, d.receives() - 1)));
        LOG.warn("job {} attempt {} failed: {}; again in {} ms", d.id(), d.receives(), error, ms);
        return new Outcome(d, async(d, () -> queue.failAsync(d, error, Duration.ofMillis(ms))), stored -> {
            if (stored && d.receives() >= queue.settings().maxReceives()) {
                callbacks.finished(d); // that was its last receive: the queue dead-lettered it
            }
        });
    }

    /** The queue's future for an outcome; a queue that throws instead of failing the future fails it here. */
    private static CompletableFuture<Boolean> async(Delivery d,
                                                    java.util.function.Supplier<CompletableFuture<Boolean>> call) {
        try {
            return call.get();
        } catch (QueueUnavailableException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static String message(byte[] body) {
        try {
            if (Json.parse(ByteBuffer.wrap(body)) instanceof Map<?, ?> m && m.get("error") instanceof String s) {
                return s;
            }
        } catch (RuntimeException e) {
            // not our JSON error: say what it was
        }
        return new String(body, 0, Math.min(body.length, 500), java.nio.charset.StandardCharsets.UTF_8);
    }

    private static String uri(JobRequest r) {
        String version = r.version() == null ? "" : "/versions/" + encode(r.version());
        return r.protocol().equals(JobRequest.SEED)
                ? "/models/" + encode(r.model()) + version + "/score"
                : "/v2/models/" + encode(r.model()) + version + "/infer";
    }

    private static String encode(String s) {
        return java.net.URLEncoder.encode(s, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** Stops taking jobs; a job in hand is finished or, if it takes too long, left to its lease. */
    @Override
    public void close() {
        closed = true;
        for (Thread t : threads) {
            t.interrupt();
        }
        try {
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(10));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } finally {
            callbacks.close();
        }
        service.close();
    }
}
