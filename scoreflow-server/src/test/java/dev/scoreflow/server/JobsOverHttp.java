package dev.scoreflow.server;

import dev.scoreflow.jobs.Delivery;
import dev.scoreflow.jobs.JobQueue;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.scoreflow.server.JobsFailuresTest.get;
import static dev.scoreflow.server.JobsFailuresTest.put;
import static dev.scoreflow.server.JobsOnPostgresTest.json;
import static dev.scoreflow.server.JobsOnPostgresTest.sampleRows;
import static org.assertj.core.api.Assertions.assertThat;

/** What the per-broker jobs tests do over a server's HTTP jobs API, on any queue. */
final class JobsOverHttp {
    private JobsOverHttp() {
    }

    /** Submits the sample rows as a job of model {@code example}; asserts 202 and returns the id. */
    static String submit(ServerFixture fx) throws Exception {
        HttpResponse<String> r = put(fx, "/models/example/jobs", sampleRows());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        return (String) json(r.body()).get("id");
    }

    /** Three submissions while the queue's broker is down: each a 503 with Retry-After naming the queue. */
    static void assertRefusedWhileDown(ServerFixture fx) throws Exception {
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> refused = put(fx, "/models/example/jobs", sampleRows());
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
            assertThat(refused.headers().firstValue("Retry-After")).isPresent();
            assertThat(refused.body()).contains("the job queue is unavailable");
        }
    }

    /** Submits until the queue accepts again (within 60 s); every answer must be 503 or 202. */
    static String submitOnceAccepting(ServerFixture fx) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            HttpResponse<String> r = put(fx, "/models/example/jobs", sampleRows());
            assertThat(r.statusCode()).as(r.body()).isIn(202, 503);
            if (r.statusCode() == 202) {
                return (String) json(r.body()).get("id");
            }
            assertThat(System.nanoTime()).as("accepting again within 60 s").isLessThan(deadline);
            Thread.sleep(100); // the queue's client reconnects on its own schedule
        }
    }

    static String jobState(ServerFixture fx, String id) {
        try {
            return (String) json(get(fx, "/jobs/" + id).body()).get("state");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Receives job {@code id} from {@code q} and fails each attempt ("model exploded on attempt N", retried after
     * 100 ms) until the server shows it dead-lettered (within 60 s). @return the receives of the attempts
     */
    static List<Integer> failUntilDeadLettered(JobQueue q, ServerFixture fx, String id) throws Exception {
        List<Integer> attempts = new ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!"dead_lettered".equals(jobState(fx, id))) {
            assertThat(System.nanoTime()).as("dead-lettered within 60 s").isLessThan(deadline);
            for (Delivery d : q.receive(1, Duration.ofMillis(500))) {
                attempts.add(d.receives());
                assertThat(q.fail(d, "model exploded on attempt " + d.receives(), Duration.ofMillis(100))).isTrue();
            }
        }
        return attempts;
    }
}
