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
                + "scaled to the server's measured rate (each hour loads it as the plan's hour loads the plan's "
                + "server), Poisson arrivals sent synchronously (--target: refusals counted) or as jobs (--jobs: the "
                + "backlog measured from the jobs' own times); then the prediction for the same arrivals beside what "
                + "happened.", ""},
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
        SimulatedDay p = r.predicted();
        Replay.Settings s = r.settings();
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "Replay of %s: %.0fx faster, %.1f requests/s per server here (plan: "
                        + "%s), %d server(s), %s; %.1f s%n", s.plan().name(), s.speedup(), s.realRate(),
                TextReport.trim(s.plan().serviceRate()), s.servers(), s.jobs() ? "as jobs"
                        : "synchronous, " + s.queueLimit() + " waiting at most", r.seconds()));
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[]{"", "predicted", "observed"});
        rows.add(new String[]{"requests", String.format(Locale.ROOT, "%,d", p.arrived()),
                String.format(Locale.ROOT, "%,d", r.sent() - r.notSent())});
        rows.add(new String[]{s.jobs() ? "accepted" : "served", String.format(Locale.ROOT, "%,d", p.served()),
                String.format(Locale.ROOT, "%,d", r.served())});
        rows.add(new String[]{"refused (503)", String.format(Locale.ROOT, "%,d", p.refused()),
                String.format(Locale.ROOT, "%,d", r.refused())});
        rows.add(new String[]{"failed", "0", String.format(Locale.ROOT, "%,d", r.failed())});
        if (s.jobs()) {
            rows.add(new String[]{"max waiting", String.format(Locale.ROOT, "%,d", p.maxWaiting()),
                    String.format(Locale.ROOT, "%,d", r.maxWaiting())});
            rows.add(new String[]{"p99 wait", TextReport.duration(p.p99Wait()), TextReport.duration(r.p99Wait())});
            rows.add(new String[]{"backlog clears at", clears(p.clearedAt(), p.maxWaiting()),
                    clears(r.clearedAt(), r.maxWaiting())});
        }
        out.append(TextReport.table(rows));
        if (!s.jobs()) {
            List<String[]> bySlot = new ArrayList<>();
            bySlot.add(new String[]{"plan hour", "arrivals", "refused: predicted", "observed"});
            for (int i = 0; i < r.refusedBySlot().length; i++) {
                bySlot.add(new String[]{String.format(Locale.ROOT, "%02d:00", s.plan().dayStart() + i),
                        String.format(Locale.ROOT, "%,d", p.arrivalsByBucket()[i]),
                        String.format(Locale.ROOT, "%,d", p.refusedByBucket()[i]),
                        String.format(Locale.ROOT, "%,d", r.refusedBySlot()[i])});
            }
            out.append(TextReport.table(bySlot));
        }
        if (r.notSent() > 0) {
            out.append(String.format(Locale.ROOT, "%,d requests were not sent: %d were already in flight%n",
                    r.notSent(), Replay.MAX_IN_FLIGHT));
        }
        return out.toString();
    }

    private static String clears(double at, int maxWaiting) {
        return maxWaiting <= 0 || Double.isNaN(at) ? "-" : String.format(Locale.ROOT, "+%.1f s", at);
    }
}
