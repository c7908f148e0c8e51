package dev.scoreflow.cli;

import dev.scoreflow.jobs.Job;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobQueues;
import dev.scoreflow.jobs.QueueUnavailableException;
import dev.scoreflow.server.JobDocument;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code scoreflow subscribe}: the publish-subscribe side of a job queue — every job that finishes (whichever worker
 * finished it) and every event published on the queue (such as {@code watch}'s "file scored"), one JSON line each,
 * for as long as it runs. Any number of subscribers each see everything.
 */
@Command(name = "subscribe", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Print every job of a queue that finishes (done, failed, dead-lettered, cancelled), as "
                + "GET /jobs/{id} renders it, and every event published on the queue, one JSON line each "
                + "({\"finished\": {...}} or {\"event\": ...}), until stopped. Live: what finished while no "
                + "subscriber ran is read from the jobs' states, not replayed.", ""},
        footer = {"", "Example:", "  scoreflow subscribe --queue postgresql://postgres@127.0.0.1:5432/test | jq ."})
final class SubscribeCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--queue", required = true, paramLabel = "URL", description = "The job queue: postgresql://..., "
            + "amqp://..., or kafka://host:port (for a server's embedded queue, the kafka:// URL it printed).")
    String queue;

    @Option(names = "--count", paramLabel = "N", description = "Stop after N lines (default: run until stopped).")
    Long count;

    @Option(names = "--max-seconds", paramLabel = "S", description = "Stop after S seconds (default: never).")
    Long maxSeconds;

    @Override
    public Integer call() throws InterruptedException {
        PrintStream out = System.out;
        CountDownLatch done = new CountDownLatch(1);
        AtomicLong left = new AtomicLong(count == null ? Long.MAX_VALUE : count);
        try (JobQueue q = JobQueues.open(queue)) {
            q.onFinished(id -> {
                if (id == null) {
                    System.err.println("subscribe: the connection to the queue was lost for a while; jobs that "
                            + "finished meanwhile were not announced");
                    return;
                }
                Optional<Job> job;
                try {
                    job = q.get(id);
                } catch (QueueUnavailableException e) {
                    System.err.println("subscribe: job " + id + " finished, but reading it failed: " + e.getMessage());
                    return;
                }
                job.ifPresent(j -> emit(out, "{\"finished\": " + JobDocument.json(j) + "}", left, done));
            });
            q.onEvent(event -> emit(out, "{\"event\": " + event + "}", left, done));
            // on standard error, so that the lines on standard output stay JSON; a script may wait for it
            System.err.println("subscribed to " + queue);
            Runtime.getRuntime().addShutdownHook(new Thread(done::countDown, "scoreflow-subscribe-stop"));
            if (maxSeconds == null) {
                done.await();
            } else {
                done.await(maxSeconds, TimeUnit.SECONDS);
            }
        }
        return 0;
    }

    private static void emit(PrintStream out, String line, AtomicLong left, CountDownLatch done) {
        synchronized (out) {
            if (left.get() <= 0) {
                return;
            }
            out.println(line);
            out.flush();
            if (left.decrementAndGet() == 0) {
                done.countDown();
            }
        }
    }
}
