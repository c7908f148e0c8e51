package dev.scoreflow.server;

import dev.scoreflow.api.internal.Json;
import dev.scoreflow.jobs.Delivery;
import dev.scoreflow.jobs.Job;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Sends the callbacks of the jobs a worker finishes (the lecture's observer + callback), off the scoring threads:
 * each callback is tried on this component's own sender threads, retried with exponential backoff up to the
 * settings' attempts, and its outcome recorded with {@link JobQueue#noteCallbacks} one line per callback, so that
 * {@code GET /jobs/{id}} shows it.
 *
 * <p>Back-pressure: at most {@code capacity} callbacks are in progress (sending or waiting to retry); a job whose
 * callbacks would go beyond is not called back, and its status and the log say so: a slow receiver never holds up
 * scoring and a callback is never dropped silently. Waits between attempts are timer entries, not sleeping threads.
 *
 * <p>Jobs the queue dead-letters itself (every lease of theirs expired: no worker finished them) are announced by
 * {@link JobQueue#onFinished} only, without their callbacks; a worker that once took such a job remembers its
 * callbacks and sends them if, a moment later, nobody has ({@code callbacks} still the queue's initial
 * {@code pending}). Two such workers can both send: receivers drop the repeat by its {@code Idempotency-Key}. A job
 * whose every worker died is dead-lettered with its callbacks unsent (its status stays {@code pending}).
 *
 * <p>Thread-safe. {@link #close} stops at once: callbacks in progress keep their last recorded status.
 */
final class Callbacks implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Callbacks.class);
    /** The status the queue gives a job with callbacks at submission: nobody has taken them up yet. */
    static final String UNTOUCHED = "pending";
    /** How long after a queue-announced dead letter a worker waits for the one that finished it to speak first. */
    static final Duration SWEPT_GRACE = Duration.ofSeconds(2);
    /** Callbacks of deliveries this worker took and has not finished, at most this many jobs (oldest forgotten). */
    static final int REMEMBERED = 10_000;

    private final JobQueue queue;
    private final CallbackSettings settings;
    private final WebhookSender webhooks;
    private final MailSender mail;
    private final ThreadPoolExecutor senders;
    private final ScheduledThreadPoolExecutor scheduler;
    private final CallbackSettings.RetryTimer timer;
    private final AtomicInteger inProgress = new AtomicInteger();
    private final Map<String, List<String>> taken = new LinkedHashMap<>(256, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, List<String>> eldest) {
            return size() > REMEMBERED;
        }
    };
    private volatile boolean closed;

    Callbacks(JobQueue queue, CallbackSettings settings) {
        this.queue = queue;
        this.settings = settings;
        this.webhooks = new WebhookSender(settings);
        this.mail = new MailSender(settings);
        // unbounded in type, bounded in fact: every queued task holds one of the capacity's slots
        this.senders = new ThreadPoolExecutor(settings.threads, settings.threads, 0, TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), daemon("scoreflow-callbacks"));
        this.scheduler = new ScheduledThreadPoolExecutor(1, daemon("scoreflow-callbacks-timer"));
        scheduler.setRemoveOnCancelPolicy(true);
        this.timer = settings.timer != null ? settings.timer
                : (retry, delay) -> scheduler.schedule(retry, delay.toMillis(), TimeUnit.MILLISECONDS);
        if (settings.secret == null) {
            LOG.warn("job callbacks: no secret given (--callback-secret-file or SCOREFLOW_CALLBACK_SECRET): "
                    + "webhooks are sent without a {} header", CallbackSignature.HEADER);
        }
        queue.onFinished(this::announced);
    }

    /** Callbacks in progress now (sending or waiting to retry). */
    int inProgress() {
        return inProgress.get();
    }

    /** A delivery with callbacks was taken: remembered in case the queue, not this worker, ends the job. */
    void taken(Delivery d) {
        if (!d.request().callbacks().isEmpty()) {
            synchronized (taken) {
                taken.put(d.id(), d.request().callbacks());
            }
        }
    }

    /** This worker brought the job to a final state: call it back. Returns at once (never blocks scoring). */
    void finished(Delivery d) {
        synchronized (taken) {
            taken.remove(d.id());
        }
        if (!d.request().callbacks().isEmpty()) {
            dispatch(d.id(), d.request().callbacks());
        }
    }

    /** The queue says a job ended; one this worker took and did not end may have been dead-lettered by the queue. */
    private void announced(String id) {
        boolean mine;
        synchronized (taken) {
            mine = id != null && taken.containsKey(id);
        }
        if (mine && !closed) {
            timer.schedule(() -> run(() -> takeUpSwept(id)), SWEPT_GRACE);
        }
    }

    private void takeUpSwept(String id) {
        List<String> urls;
        synchronized (taken) {
            urls = taken.remove(id);
        }
        if (urls == null) {
            return;
        }
        Optional<Job> j = queue.get(id);
        if (j.isPresent() && j.get().state() == JobState.DEAD_LETTERED && UNTOUCHED.equals(j.get().callbacks())) {
            LOG.info("job {} was dead-lettered by the queue (its last lease expired); sending its callbacks", id);
            dispatch(id, urls);
        }
    }

    private void dispatch(String id, List<String> urls) {
        if (closed) {
            return;
        }
        int n = urls.size();
        if (inProgress.addAndGet(n) > settings.capacity) {
            inProgress.addAndGet(-n);
            String why = "not sent: the worker's callback queue is full (" + settings.capacity + " in progress)";
            LOG.warn("job {}: {} callbacks {}", id, n, why);
            StringBuilder status = new StringBuilder();
            for (String url : urls) {
                status.append(status.length() == 0 ? "" : "\n").append("failed ").append(url).append(": ").append(why);
            }
            // one write of the outcome on this thread, as the job's own outcome was: the overload is visible
            note(id, status.toString());
            return;
        }
        if (!run(() -> start(id, urls))) {
            inProgress.addAndGet(-n);
        }
    }

    /** Runs {@code task} on a sender thread; false if this is closed. */
    private boolean run(Runnable task) {
        try {
            senders.execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    private void start(String id, List<String> urls) {
        Job job;
        try {
            job = queue.get(id).orElse(null);
        } catch (RuntimeException e) {
            job = null;
            LOG.warn("job {}: cannot read it to send its callbacks: {}", id, e.getMessage());
        }
        if (job == null || !job.state().isFinal()) {
            inProgress.addAndGet(-urls.size());
            return;
        }
        Map<String, Object> document = JobsEndpoint.document(job);
        document.remove("callbacks"); // what becomes of this very delivery is not part of it
        String json = Json.write(document);
        Status status = new Status(job.id(), urls);
        status.noteAll();
        for (int i = 0; i < urls.size(); i++) {
            attempt(status, i, document, json, 1);
        }
    }

    private void attempt(Status status, int i, Map<String, Object> document, String json, int n) {
        String url = status.urls.get(i);
        try {
            if (url.regionMatches(true, 0, "mailto:", 0, 7)) {
                mail.send(url, document, json);
            } else {
                webhooks.send(url, status.id, json.getBytes(StandardCharsets.UTF_8), n);
            }
            LOG.info("job {}: callback {} delivered (attempt {})", status.id, url, n);
            status.set(i, "delivered " + url + " (attempt " + n + ")");
            inProgress.decrementAndGet();
        } catch (CallbackException e) {
            if (!e.retryable || n >= settings.attempts || closed) {
                LOG.warn("job {}: callback {} failed after {} attempts: {}", status.id, url, n, e.getMessage());
                status.set(i, "failed " + url + " after " + n + (n == 1 ? " attempt: " : " attempts: ")
                        + e.getMessage());
                inProgress.decrementAndGet();
                return;
            }
            Duration delay = settings.delayBefore(n + 1);
            status.set(i, "pending " + url + ": attempt " + n + " failed: " + e.getMessage() + "; next in "
                    + String.format(Locale.ROOT, "%.1f s", delay.toMillis() / 1000.0));
            timer.schedule(() -> {
                if (!run(() -> attempt(status, i, document, json, n + 1))) {
                    inProgress.decrementAndGet();
                }
            }, delay);
        }
    }

    private void note(String id, String status) {
        try {
            queue.noteCallbacks(id, status);
        } catch (RuntimeException e) {
            LOG.warn("job {}: cannot record its callback status '{}': {}", id, status, e.getMessage());
        }
    }

    /** A job's callback lines, written to the queue whole at each change (in order: one job's writes serialize). */
    private final class Status {
        final String id;
        final List<String> urls;
        final String[] lines;

        Status(String id, List<String> urls) {
            this.id = id;
            this.urls = urls;
            this.lines = urls.stream().map(u -> "pending " + u).toArray(String[]::new);
        }

        synchronized void noteAll() {
            note(id, String.join("\n", lines));
        }

        synchronized void set(int i, String line) {
            lines[i] = line;
            noteAll();
        }
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    @Override
    public void close() {
        closed = true;
        scheduler.shutdownNow();
        senders.shutdownNow();
        try {
            senders.awaitTermination(settings.timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
