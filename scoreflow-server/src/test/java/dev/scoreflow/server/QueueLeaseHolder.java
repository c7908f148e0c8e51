package dev.scoreflow.server;

import dev.scoreflow.jobs.Delivery;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobQueues;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * A worker process caught mid-job on any queue, for tests that kill it: opens the queue URL (args[0]), takes one job,
 * says {@code holding <id>}, and never finishes it.
 */
public final class QueueLeaseHolder {
    private QueueLeaseHolder() {
    }

    /**
     * What a holder process said: {@code holding <id>}, {@code nothing}, or {@code exited} if it ended first; at most
     * {@code limit} waited for.
     */
    static String said(Process holder, Duration limit) throws InterruptedException, ExecutionException,
            TimeoutException {
        return CompletableFuture.supplyAsync(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(holder.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.startsWith("holding ") || line.equals("nothing")) {
                        return line;
                    }
                }
                return "exited";
            } catch (java.io.IOException e) {
                return e.toString();
            }
        }).get(limit.toMillis(), TimeUnit.MILLISECONDS);
    }

    public static void main(String[] args) throws Exception {
        JobQueue q = JobQueues.open(args[0]);
        List<Delivery> got = q.receive(1, Duration.ofSeconds(60));
        System.out.println(got.isEmpty() ? "nothing" : "holding " + got.get(0).id());
        System.out.flush();
        while (true) {
            LockSupport.park();
        }
    }
}
