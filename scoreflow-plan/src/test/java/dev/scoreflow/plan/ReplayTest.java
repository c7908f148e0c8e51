package dev.scoreflow.plan;

import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobQueues;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.ThreadBudget;
import dev.scoreflow.server.JobWorker;
import dev.scoreflow.server.ScoringServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The lecture's case 3 replayed against a real Scoreflow server serving a deliberately slow ONNX model with one
 * inference thread, batches of one row and a short queue, so that the peak hour exceeds it: the ten hours in about a
 * minute. Synchronously, the server refuses roughly what the prediction says; as jobs on the real PostgreSQL queue
 * with one worker, the queue absorbs the peak and drains when the prediction says.
 */
@Tag("slow")
class ReplayTest {
    static final Path SLOW = Path.of("src/test/resources/models/slow/1/model.onnx");
    /**
     * Refusals within ±50 % and the backlog within a factor of 2: the peak exceeds the server by half its rate, so a
     * rate 10 % off moves the excess by 30 %, and on a 2-core machine the server, the load and the queue share the
     * cores (measured on a quiet machine: see README). The jobs' backlog is compared with the prediction at the rate
     * the worker achieved during the replay.
     */
    static final double TOLERANCE = 0.5;
    static final double FACTOR = 2;

    ModelRepository repository;
    ScoringServer server;
    JobQueue queue;
    JobWorker worker;

    ScoringServer start(int queueRows, JobQueue jobs) {
        repository = ModelRepository.builder().threads(new ThreadBudget(1, 1))
                .defaults(ModelConfig.builder().maxBatchRows(1).queueRows(queueRows).build())
                .model("slow", SLOW).build();
        ScoringServer.Builder b = ScoringServer.builder(repository).port(0);
        if (jobs != null) {
            b.jobs(jobs);
        }
        server = b.start();
        if (jobs != null) {
            worker = JobWorker.start(b, jobs, 1);
        }
        return server;
    }

    @AfterEach
    void stop() {
        if (worker != null) {
            worker.close();
        }
        if (server != null) {
            server.close();
        }
        if (queue != null) {
            queue.close();
        }
        if (repository != null) {
            repository.close();
        }
    }

    @Test
    void aSynchronousServerRefusesInThePeakHourWhatThePlanPredicts() throws Exception {
        ScoringServer s = start(8, null);
        URI url = URI.create("http://127.0.0.1:" + s.port());
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8);
        double rate = RateProbe.measure(url, "slow", 1, java.time.Duration.ofSeconds(3), out).rate();
        Plan plan = Examples.plan("case3");
        Replay.Result r = Replay.run(V2Target.open(url, "slow", 1, plan.seed()),
                new Replay.Settings(plan, 600, rate, 1, 8, false), out);
        String table = ReplayCommand.render(r);
        System.out.println(log.toString(StandardCharsets.UTF_8) + table);

        SimulatedDay p = r.predicted();
        assertThat(r.failed()).isZero();
        assertThat(r.notSent()).isZero();
        assertThat(r.served() + r.refused()).isEqualTo(p.arrived());
        // the peak hour exceeds the server: about a third of its requests refused, and the prediction says so too
        assertThat(p.refusedByBucket()[0]).isGreaterThan(p.arrivalsByBucket()[0] / 5);
        assertThat((double) r.refusedBySlot()[0]).isBetween(p.refusedByBucket()[0] * (1 - TOLERANCE),
                p.refusedByBucket()[0] * (1 + TOLERANCE));
        // the quiet hours fit: next to nothing refused after the peak, predicted or observed
        long laterObserved = 0;
        for (int i = 1; i < r.refusedBySlot().length; i++) {
            laterObserved += r.refusedBySlot()[i];
        }
        assertThat(laterObserved).isLessThan(Math.max(10, p.arrived() / 50));
        assertThat(table).contains("refused (503)", "08:00");

        // plan --measure uses the same probe: the plan's designs with this server's rate
        PlanCommandTest.Run measured = PlanCommandTest.run("--example", "case3", "--measure", url.toString(),
                "--model", "slow", "--measure-seconds", "1");
        assertThat(measured.code()).as(measured.err()).isZero();
        assertThat(measured.out()).containsPattern("measured: .* model slow at 1 row\\(s\\) per request: [0-9.]+ "
                + "requests/s").contains("1 server");
    }

    @Test
    void aJobsQueueAbsorbsThePeakAndDrainsWhenThePlanSays() throws Exception {
        queue = JobQueues.open("postgresql://postgres@127.0.0.1:5432/test?queue=replay-" + Long.toHexString(
                System.nanoTime()));
        ScoringServer s = start(1024, queue);
        URI url = URI.create("http://127.0.0.1:" + s.port());
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8);
        Plan plan = PlanFile.parse("case3", Examples.text("case3").lines().toList(), Map.of("seed", "7"));
        V2Target target = V2Target.open(url, "slow", 1, plan.seed());
        double rate = JobsRateProbe.measure(target, 1, out);
        Replay.Result r = Replay.run(target, new Replay.Settings(plan, 600, rate, 1, 0, true), out);
        String table = ReplayCommand.render(r);
        System.out.println(log.toString(StandardCharsets.UTF_8) + table);

        SimulatedDay p = r.predicted();
        assertThat(r.failed()).isZero();
        assertThat(r.refused()).isZero();
        assertThat(r.served()).isEqualTo(p.arrived()); // every job accepted
        // the peak builds a backlog of a size the prediction gives, which clears when it says; compared with the
        // prediction at the rate the worker achieved during the replay, as the rate measured before it moves with
        // whatever else this machine runs (both are printed above)
        assertThat(p.maxWaiting()).isGreaterThan(50);
        SimulatedDay q = r.repredicted();
        assertThat(q).as("the replay never built a backlog (max %d waiting): the worker was much faster than the "
                + "%.1f/s measured before it", r.maxWaiting(), rate).isNotNull();
        assertThat((double) r.maxWaiting()).isBetween(q.maxWaiting() / FACTOR, q.maxWaiting() * FACTOR);
        // it drains after the peak hour, taking about as long as predicted
        double slot = 3600 / 600.0;
        assertThat(q.clearedAt()).isGreaterThan(slot);
        assertThat(r.clearedAt() - slot).isBetween((q.clearedAt() - slot) / FACTOR, (q.clearedAt() - slot) * FACTOR);
    }
}
