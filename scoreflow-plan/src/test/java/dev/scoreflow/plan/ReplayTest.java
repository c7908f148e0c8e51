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
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The lecture's case 3 replayed against a real Scoreflow server serving a deliberately slow ONNX model with one
 * inference thread, batches of one row and a short queue, so that the peak hour exceeds it: the ten hours in about a
 * minute. Synchronously, the server refuses roughly what the plan predicts; as jobs on the real PostgreSQL queue
 * with one worker, the queue absorbs the peak and drains when the plan predicts.
 *
 * <p>How close is close. The plan predicts at the rate measured just before the replay; on this shared 2-core
 * machine another build can take a core meanwhile, and the peak's excess over the server, what is refused or
 * queued, is a difference of two rates: case 3's peak is 1.53 times the server, so a rate achieved {@code e} off the
 * one measured moves the excess by -e / 0.53 (10 % off: 19 %), and the drain, that excess over what the server has
 * to spare after the peak, more. So each check of the plan's own number allows the model's own error, plus what the
 * drift measured in that very replay does to case 3's fluid arithmetic ({@link Drift}), plus three standard
 * deviations of the prediction's own service-time noise at this scale ({@link Spread}: the replay scales the plan to
 * this machine's rate, so at 20 jobs/s a peak backlog of 60 is 17 % off its mean by noise alone, at 163/s 540 only
 * 5 %). Up to {@link #ATTEMPTS} replays are run to find one whose drift is within {@link #STEADY}; the steadiest is
 * checked. On the quiet machine of README the drift was 5 % and the plan within 7 % (most waiting: 543 predicted,
 * 581 observed) and 11 % (drain: 3.8 s predicted, 3.4 s observed).
 */
@Tag("slow")
class ReplayTest {
    static final Path SLOW = Path.of("src/test/resources/models/slow/1/model.onnx");
    /**
     * The model's own error, seen against the prediction at the rate achieved: synchronous refusals 30 % (the real
     * server's queue of 8 and its in-flight batch are not quite the simulation's one queue), the jobs' backlog, drain
     * and waits 30 % (README's quiet run: 581 observed against 507, 15 %; on a loaded machine the replay's own
     * submissions slow the worker in the peak below its average over the backlog: 392 against 291, 35 %).
     */
    static final double MODEL_SYNC = 0.3;
    static final double MODEL_JOBS = 0.3;
    /** A replay whose server or worker achieved a rate within this share of the one measured before it is steady. */
    static final double STEADY = 0.12;
    static final int ATTEMPTS = 3;
    /** Service-time seeds for the prediction's own spread. */
    static final int SPREAD_SEEDS = 20;
    /** Against the prediction at the rate achieved during the replay (the model alone): within a factor of 2. */
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
        Plan plan = Examples.plan("case3");
        V2Target target = V2Target.open(url, "slow", 1, plan.seed());
        Replay.Result r;
        try {
            r = steadiestReplay(() -> RateProbe.measure(url, "slow", 1, java.time.Duration.ofSeconds(3), out).rate(),
                    rate -> Replay.run(target, new Replay.Settings(plan, 600, rate, 1, 8, false), out), out);
        } finally {
            System.out.println(log.toString(StandardCharsets.UTF_8));
        }
        String table = ReplayCommand.render(r);

        SimulatedDay p = r.predicted().day();
        long[] predictedRefused = r.refusedByHour(r.predicted());
        assertThat(r.failed()).isZero();
        assertThat(r.notSent()).isZero();
        assertThat(r.served() + r.refused()).isEqualTo(p.arrived());
        // the peak hour exceeds the server: about a third of its requests refused, and the prediction says so too
        assertThat(predictedRefused[0]).isGreaterThan(r.arrivalsByHour(r.predicted())[0] / 5);
        Drift drift = Drift.of(r);
        near("refused in the peak hour", r.refusedByHour()[0], predictedRefused[0], MODEL_SYNC + drift.excess(), 0);
        // the quiet hours fit: next to nothing refused after the peak, predicted or observed
        long laterObserved = 0;
        for (int i = 1; i < r.refusedByHour().length; i++) {
            laterObserved += r.refusedByHour()[i];
        }
        assertThat(laterObserved).isLessThan(Math.max(10, p.arrived() / 50));
        assertThat(table).contains("refused (503)", "08:00", "response p99");
        // a served request waited behind at most the server's 8 waiting and the one in service, each 1 / rate: the
        // client's time adds HTTP and JSON (a few ms) and, on a loaded machine, its threads' scheduling, so the
        // observed p99 is within half to twice the plan's p99 (moved by the drift: 1 / (1 + e)), plus 50 ms
        double p99 = Replay.Times.of(r.predicted().responses()).p99() / (1 + drift.e());
        assertThat(r.responses().p99()).as("p99 response, against the plan's %.3f s at the achieved rate", p99)
                .isBetween(p99 / 2, 2 * p99 + 0.050);

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
        Replay.Result r;
        try {
            r = steadiestReplay(() -> JobsRateProbe.measure(target, 1, out),
                    rate -> Replay.run(target, new Replay.Settings(plan, 600, rate, 1, 0, true), out), out);
        } finally {
            System.out.println(log.toString(StandardCharsets.UTF_8));
        }
        String table = ReplayCommand.render(r);

        SimulatedDay p = r.predicted().day();
        assertThat(r.failed()).isZero();
        assertThat(r.refused()).isZero();
        assertThat(r.served()).isEqualTo(p.arrived()); // every job accepted
        double hour = 3600 / 600.0;
        assertThat(p.maxWaiting()).isGreaterThan(50);
        assertThat(p.clearedAt()).isGreaterThan(hour);

        // the plan's own prediction, at the rate measured before the replay, as a user would make it
        Drift drift = Drift.of(r);
        Spread spread = Spread.of(r.settings(), hour);
        near("most waiting", r.maxWaiting(), p.maxWaiting(), MODEL_JOBS + drift.excess(), spread.maxWaiting());
        near("the drain after the peak hour (s)", r.clearedAt() - hour, p.clearedAt() - hour,
                MODEL_JOBS + drift.drain(), spread.drain());
        near("p99 time to result (s)", r.responses().p99(), Replay.Times.of(r.predicted().responses()).p99(),
                MODEL_JOBS + drift.delay(), spread.p99());
        // over time: the backlog peaks where the plan's does (the end of the peak hour, the first 10 % of the
        // replay, or the twentieth after it) and is gone, as predicted, in the second half (a few jobs, or a tenth of
        // the peak's backlog: a stalled moment of this machine queues the quiet hours' arrivals)
        int[] predictedDepth = r.depth(r.predicted());
        assertThat(indexOfMax(r.depth())).isBetween(indexOfMax(predictedDepth) - 1, indexOfMax(predictedDepth) + 1);
        int gone = Math.max(5, p.maxWaiting() / 10);
        for (int i = Replay.TWENTIETHS / 2; i < Replay.TWENTIETHS; i++) {
            assertThat(predictedDepth[i]).as("predicted at %d/20", i).isLessThan(gone);
            assertThat(r.depth()[i]).as("observed at %d/20", i).isLessThan(gone);
        }
        assertThat(table).contains("most waiting in each 5 % of the replay", "to result p99", "08:30");

        // and the model alone: the same arrivals at the rate the worker achieved during the replay
        SimulatedDay q = r.repredicted().day();
        assertThat((double) r.maxWaiting()).isBetween(q.maxWaiting() / FACTOR, q.maxWaiting() * FACTOR);
        assertThat(q.clearedAt()).isGreaterThan(hour);
        assertThat(r.clearedAt() - hour).isBetween((q.clearedAt() - hour) / FACTOR, (q.clearedAt() - hour) * FACTOR);
    }

    /**
     * How far the rate achieved during a replay was from the one measured before it ({@code e}: achieved / measured
     * - 1), and what that does to case 3's fluid arithmetic, as shares of the plan's numbers: the peak's excess
     * (refused, or queued), the drain after it, and the delay behind the backlog (the excess over the achieved rate).
     */
    record Drift(double e, double excess, double drain, double delay) {
        static Drift of(Replay.Result r) {
            assertThat(r.achievedRate()).as("the replay never saturated the server: it was much faster than the "
                    + "%.1f/s measured before it", r.settings().realRate()).isNotNaN();
            Plan plan = r.settings().plan();
            Load l = Load.of(plan);
            double a = l.peakRate() / plan.serviceRate(); // 1.53: the peak over one server
            double b = l.hourlyRates()[l.peakHour() + 1] / plan.serviceRate(); // 0.14: the hour after it
            double e = r.achievedRate() / r.settings().realRate() - 1;
            double excess = (a - (1 + e)) / (a - 1);
            double drain = excess * (1 - b) / (1 + e - b);
            double delay = excess / (1 + e);
            return new Drift(e, Math.abs(excess - 1), Math.abs(drain - 1), Math.abs(delay - 1));
        }
    }

    /** The prediction's own standard deviations: the same arrivals, service times from other seeds. */
    record Spread(double maxWaiting, double drain, double p99) {
        static Spread of(Replay.Settings s, double hour) {
            double[] times = Simulation.arrivals(s.rates(), s.stepSeconds(), s.plan().seed());
            double[][] v = new double[3][SPREAD_SEEDS];
            for (int i = 0; i < SPREAD_SEEDS; i++) {
                Simulation.Traced t = Simulation.traced(times, s.horizon(), 60 / s.speedup(), s.servers(),
                        s.realRate(), s.plan().serviceTime(), Integer.MAX_VALUE, 1_000 + i);
                v[0][i] = t.day().maxWaiting();
                v[1][i] = t.day().clearedAt() - hour;
                v[2][i] = Replay.Times.of(t.responses()).p99();
            }
            return new Spread(sd(v[0]), sd(v[1]), sd(v[2]));
        }

        private static double sd(double[] v) {
            double mean = Arrays.stream(v).average().orElse(0);
            return Math.sqrt(Arrays.stream(v).map(x -> (x - mean) * (x - mean)).sum() / (v.length - 1));
        }
    }

    /** {@code observed} within {@code relative} of {@code predicted} plus three of its standard deviations. */
    static void near(String what, double observed, double predicted, double relative, double sd) {
        double tolerance = relative * predicted + 3 * sd;
        assertThat(observed).as("%s: observed against the plan's %.2f, within %.0f %% + 3 x %.2f (its own spread)",
                what, predicted, relative * 100, sd).isCloseTo(predicted, within(tolerance));
    }

    interface Probe {
        double rate() throws Exception;
    }

    interface Run {
        Replay.Result replay(double rate) throws Exception;
    }

    /**
     * A replay at the rate the probe measures just before it, run again (nothing is left waiting by then) while the
     * rate achieved in it was more than {@link #STEADY} off the one measured, at most {@link #ATTEMPTS} times: the
     * steadiest of them.
     */
    static Replay.Result steadiestReplay(Probe probe, Run run, PrintStream out) throws Exception {
        Replay.Result best = null;
        for (int attempt = 1; attempt <= ATTEMPTS && (best == null || drift(best) > STEADY); attempt++) {
            Replay.Result r = run.replay(probe.rate());
            out.printf("attempt %d: achieved %.1f/s while saturated against %.1f/s measured before%n%s", attempt,
                    r.achievedRate(), r.settings().realRate(), ReplayCommand.render(r));
            best = best == null || drift(r) < drift(best) ? r : best;
        }
        out.printf("checking the replay that achieved %.1f/s against %.1f/s measured%n", best.achievedRate(),
                best.settings().realRate());
        return best;
    }

    private static double drift(Replay.Result r) {
        double e = Math.abs(r.achievedRate() / r.settings().realRate() - 1);
        return Double.isNaN(e) ? Double.MAX_VALUE : e;
    }

    private static int indexOfMax(int[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            best = v[i] > v[best] ? i : best;
        }
        return best;
    }
}
