package dev.scoreflow.plan;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code scoreflow plan replay}: the plan's day, compressed, against a real server, predicted beside observed. */
@Command(name = "replay", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Replay the plan's working day against a real server: compressed --speedup times in time and "
                + "scaled to the server's measured rate (each step of the profile, an hour or finer, loads it as the "
                + "plan's step loads the plan's server), Poisson arrivals sent synchronously (--target: refusals per "
                + "plan hour and response times counted) or as jobs (--jobs: the backlog in each 5 %% of the replay "
                + "and the times from submission to result, from the jobs' own times); then the prediction for the "
                + "same arrivals beside what happened: requests served and refused, most waiting and when the "
                + "backlog clears, p50/p99/max times.", ""},
        footer = {"", "Example (case 3's ten hours in a minute):",
                "  scoreflow serve --model slow.onnx --threads 1 --max-batch-rows 1 --queue-rows 8 &",
                "  scoreflow plan replay --example case3 --speedup 600 --target http://127.0.0.1:8080 --server-queue 8"})
final class ReplayCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "PLAN", description = "A plan file (default: --example).")
    Path file;

    @Option(names = "--example", paramLabel = "NAME", description = "One of the lecture's cases (default: case3).")
    String example;

    @Option(names = "--speedup", paramLabel = "K", defaultValue = "600", description = "How many times faster than "
            + "the plan's clock (default: ${DEFAULT-VALUE}: an hour in 6 s).")
    double speedup;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Where where;

    static final class Where {
        @Option(names = "--target", paramLabel = "URL", description = "A server scored synchronously (V2 infer).")
        URI target;

        @Option(names = "--jobs", paramLabel = "URL", description = "A Scoreflow server with jobs (serve --jobs): "
                + "each request submitted as a job.")
        URI jobs;
    }

    @Option(names = "--model", paramLabel = "NAME", description = "The model to score (default: the first ready).")
    String model;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "1", description = "Rows per request (default: "
            + "${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--rate", paramLabel = "R", description = "One server's (or the workers') requests/s here "
            + "(default: measured first).")
    Double rate;

    @Option(names = "--servers", paramLabel = "N", defaultValue = "1", description = "Servers, or job workers, behind "
            + "the URL: the prediction's servers (default: ${DEFAULT-VALUE}).")
    int servers;

    @Option(names = "--server-queue", paramLabel = "N", description = "Requests the real server holds waiting before "
            + "it answers 503, for the prediction (default: the plan's server-queue).")
    Integer serverQueue;

    @Option(names = "--seed", paramLabel = "N", description = "The arrivals' seed (default: the plan's).")
    Long seed;

    @Override
    public Integer call() throws Exception {
        Plan plan = PlanCommand.load(file, file == null && example == null ? "case3" : example,
                seed == null ? Map.of() : Map.of("seed", seed.toString()));
        boolean jobs = where.jobs != null;
        URI url = jobs ? where.jobs : where.target;
        V2Target target = V2Target.open(url, model, rows, plan.seed());
        double real;
        if (rate != null) {
            real = rate;
        } else if (jobs) {
            real = JobsRateProbe.measure(target, servers, System.out);
        } else {
            real = RateProbe.measure(url, target.model, rows, Duration.ofSeconds(5), System.out).rate() / servers;
        }
        Replay.Settings settings = new Replay.Settings(plan, speedup, real, servers,
                serverQueue != null ? serverQueue : plan.serverQueue(), jobs);
        Replay.Result r = Replay.run(target, settings, System.out);
        System.out.print(render(r));
        return 0;
    }

    static String render(Replay.Result r) {
        Replay.Settings s = r.settings();
        Simulation.Traced p = r.predicted();
        Simulation.Traced q = r.repredicted();
        SimulatedDay pd = p.day();
        SimulatedDay qd = q == null ? null : q.day();
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "Replay of %s: %.0fx faster, %.1f requests/s per server here (plan: "
                        + "%s), %d server(s), %s; %.1f s%n", s.plan().name(), s.speedup(), s.realRate(),
                TextReport.trim(s.plan().serviceRate()), s.servers(), s.jobs() ? "as jobs"
                        : "synchronous, " + s.queueLimit() + " waiting at most", r.seconds()));
        String at = q == null ? "" : String.format(Locale.ROOT, "at %.1f/s", r.achievedRate());
        List<String[]> rows = new ArrayList<>();
        rows.add(row(q, "", "predicted", at, "observed"));
        rows.add(row(q, "requests", count(pd.arrived()), q == null ? "" : count(qd.arrived()),
                count(r.sent() - r.notSent())));
        rows.add(row(q, s.jobs() ? "accepted" : "served", count(pd.served()), q == null ? "" : count(qd.served()),
                count(r.served())));
        rows.add(row(q, "refused (503)", count(pd.refused()), q == null ? "" : count(qd.refused()),
                count(r.refused())));
        rows.add(row(q, "failed", "0", "0", count(r.failed())));
        if (s.jobs()) {
            rows.add(row(q, "max waiting", count(pd.maxWaiting()), q == null ? "" : count(qd.maxWaiting()),
                    count(r.maxWaiting())));
            rows.add(row(q, "backlog clears at", clears(pd.clearedAt(), pd.maxWaiting()),
                    q == null ? "" : clears(qd.clearedAt(), qd.maxWaiting()), clears(r.clearedAt(), r.maxWaiting())));
        }
        // a response is what a user waits for: from sending to the answer, or from submitting a job to its result
        String what = s.jobs() ? "to result " : "response ";
        Replay.Times pt = Replay.Times.of(p.responses());
        Replay.Times qt = q == null ? null : Replay.Times.of(q.responses());
        Replay.Times ot = r.responses();
        rows.add(row(q, what + "p50", seconds(pt.p50()), q == null ? "" : seconds(qt.p50()), seconds(ot.p50())));
        rows.add(row(q, what + "p99", seconds(pt.p99()), q == null ? "" : seconds(qt.p99()), seconds(ot.p99())));
        rows.add(row(q, what + "max", seconds(pt.max()), q == null ? "" : seconds(qt.max()), seconds(ot.max())));
        out.append(TextReport.table(rows));
        if (s.jobs()) {
            // a server does not show its queue; the jobs' own times do
            out.append("most waiting in each 5 % of the replay:\n");
            int[] pDepth = r.depth(p);
            int[] qDepth = q == null ? null : r.depth(q);
            List<String[]> depth = new ArrayList<>();
            depth.add(row(q, "replay", "plan", "predicted", at, "observed"));
            double width = s.horizon() / Replay.TWENTIETHS;
            for (int i = 0; i < Replay.TWENTIETHS; i++) {
                depth.add(row(q, String.format(Locale.ROOT, "+%.1f s", i * width),
                        TextReport.clock(s.plan().dayStart() * 3600 + i * width * s.speedup()), count(pDepth[i]),
                        q == null ? "" : count(qDepth[i]), count(r.depth()[i])));
            }
            out.append(TextReport.table(depth));
        } else {
            long[] arrivals = r.arrivalsByHour(p);
            long[] pRefused = r.refusedByHour(p);
            long[] qRefused = q == null ? null : r.refusedByHour(q);
            List<String[]> byHour = new ArrayList<>();
            byHour.add(row(q, "plan hour", "arrivals", "refused: predicted", at, "observed"));
            for (int i = 0; i < s.hours(); i++) {
                byHour.add(row(q, String.format(Locale.ROOT, "%02d:00", s.plan().dayStart() + i), count(arrivals[i]),
                        count(pRefused[i]), q == null ? "" : count(qRefused[i]), count(r.refusedByHour()[i])));
            }
            out.append(TextReport.table(byHour));
        }
        if (q != null) {
            out.append(String.format(Locale.ROOT, "(\"at %.1f/s\": the same arrivals predicted at the rate the %s "
                    + "achieved while saturated in the replay, against %.1f/s measured before it)%n",
                    r.achievedRate(), s.jobs() ? "workers" : "server", s.realRate()));
        }
        if (r.notSent() > 0) {
            out.append(String.format(Locale.ROOT, "%,d requests were not sent: %d were already in flight%n",
                    r.notSent(), Replay.MAX_IN_FLIGHT));
        }
        return out.toString();
    }

    /** A table row: the re-prediction's column only when there is one. */
    private static String[] row(Simulation.Traced repredicted, String... cells) {
        if (repredicted != null) {
            return cells;
        }
        String[] without = new String[cells.length - 1];
        System.arraycopy(cells, 0, without, 0, cells.length - 2);
        without[without.length - 1] = cells[cells.length - 1];
        return without;
    }

    private static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    /** A short time: 4.2 ms, 2.94 s. */
    private static String seconds(double s) {
        return s < 1 ? String.format(Locale.ROOT, "%.1f ms", s * 1000) : String.format(Locale.ROOT, "%.2f s", s);
    }

    private static String clears(double at, int maxWaiting) {
        return maxWaiting <= 0 || Double.isNaN(at) ? "-" : String.format(Locale.ROOT, "+%.1f s", at);
    }
}
