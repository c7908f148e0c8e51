package dev.scoreflow.server;

import dev.scoreflow.jobs.Delivery;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobQueues;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * A worker process caught mid-job on any queue, for tests that kill it: opens the queue URL (args[0]), takes one job,
 * says {@code holding <id>}, and never finishes it.
 */
public final class QueueLeaseHolder {
    private QueueLeaseHolder() {
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
