package dev.scoreflow.server;

import dev.scoreflow.jobs.Delivery;
import dev.scoreflow.jobs.PostgresJobQueue;
import dev.scoreflow.jobs.QueueSettings;

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.locks.LockSupport;

/**
 * A worker process caught mid-job, for tests that kill it: takes one job from the queue (args: JDBC URL, queue,
 * lease ms), says {@code holding <id>}, and never finishes it.
 */
public final class LeaseHolder {
    private LeaseHolder() {
    }

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("user", "postgres");
        PostgresJobQueue q = PostgresJobQueue.open(args[0], p, args[1],
                QueueSettings.defaults().withVisibilityTimeout(Duration.ofMillis(Long.parseLong(args[2]))));
        List<Delivery> got = q.receive(1, Duration.ofSeconds(60));
        System.out.println(got.isEmpty() ? "nothing" : "holding " + got.get(0).id());
        System.out.flush();
        while (true) {
            LockSupport.park();
        }
    }
}
