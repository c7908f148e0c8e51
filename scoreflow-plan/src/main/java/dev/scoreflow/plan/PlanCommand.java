package dev.scoreflow.plan;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code scoreflow plan}: the lecture's capacity reasoning as numbers, for a plan file or one of the lecture's cases,
 * with any field overridden by a flag; optionally with the service rate measured on a running server.
 */
@Command(name = "plan", mixinStandardHelpOptions = true, sortOptions = false,
        subcommands = {ReplayCommand.class},
        description = {"Plan capacity the way the lecture does: from users, requests per user, the working day's "
                + "arrival profile (hourly, or finer: per 30, 15 or 1 minutes), request and response sizes and what "
                + "one server handles, compute the load (rates, the peak of the finest step, traffic in Mbit/s), the "
                + "servers for the peak (capacity >= its rate) and so that at most --wait-probability of requests "
                + "wait at the peak (Erlang C), and, for each design (servers behind a proxy, a queue with workers, "
                + "a function per request), utilisation, efficiency over the day, a simulated day (Poisson arrivals "
                + "at a rate constant in each step, seeded: refusals, queue depth, waits, when the backlog clears) "
                + "and the cost per day. Writes an HTML report with charts if asked.", ""},
        footer = {"", "Examples:",
                "  scoreflow plan --example case3 --html plan.html",
                "  scoreflow plan --example case3 --profile-step 15 --profile '22 0*3 0.125*36'   # the peak in 15 min",
                "  scoreflow plan my.plan --users 20000 --servers '1 2 3'",
                "  scoreflow plan --example case3 --measure http://127.0.0.1:8080 --model example",
                "  scoreflow plan --print-example case3 > my.plan",
                "  scoreflow plan replay --example case3 --speedup 600 --target http://127.0.0.1:8080"})
public final class PlanCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "PLAN", description = "A plan file (key = value lines; "
            + "'--print-example case3' shows one). Without it: --example, or the lecture's case 1.")
    Path file;

    @Option(names = "--example", paramLabel = "NAME", description = "One of the lecture's cases: case1, case2, case3, "
            + "or case3-burst (case 3's peak hour in its first 15 minutes).")
    String example;

    @Option(names = "--print-example", paramLabel = "NAME", description = "Print an example plan file and exit.")
    String printExample;

    @Option(names = "--html", paramLabel = "FILE", description = "Write the report with its charts as HTML.")
    Path html;

    @Option(names = "--svg", paramLabel = "PREFIX", description = "Write the charts as PREFIX-arrivals.svg and "
            + "PREFIX-queue.svg.")
    String svg;

    @Option(names = "--measure", paramLabel = "URL", description = "Measure one server's rate on this running "
            + "Scoreflow (or any Open Inference Protocol) server and use it as service-rate.")
    String measure;

    @Option(names = "--model", paramLabel = "NAME", description = "The model --measure scores (default: the "
            + "server's first ready model).")
    String model;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "1", description = "Rows per request --measure sends "
            + "(default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--measure-seconds", paramLabel = "S", defaultValue = "5", description = "How long --measure "
            + "loads the server (default: ${DEFAULT-VALUE}).")
    int measureSeconds;

    final Map<String, String> overrides = new LinkedHashMap<>();

    @Option(names = "--name", paramLabel = "TEXT", description = "The plan's name.")
    void name(String v) {
        overrides.put("name", v);
    }

    @Option(names = "--users", paramLabel = "N", description = "Users sending requests.")
    void users(String v) {
        overrides.put("users", v);
    }

    @Option(names = "--requests-per-user", paramLabel = "N", description = "Requests per user per day.")
    void requestsPerUser(String v) {
        overrides.put("requests-per-user", v);
    }

    @Option(names = "--hours", paramLabel = "START-END", description = "The working day, e.g. 8-18.")
    void hours(String v) {
        overrides.put("hours", v);
    }

    @Option(names = "--profile", paramLabel = "W...", description = "Weights per working hour, e.g. '5.5 0.5 ...', "
            + "or per finer step (a multiple of the hours' count, or --profile-step); W*N repeats W N times.")
    void profile(String v) {
        overrides.put("profile", v);
    }

    @Option(names = "--profile-step", paramLabel = "MIN", description = "Minutes per profile weight, dividing the "
            + "hour: 60, 30, 15, 1 ... (default: auto, the working day over the weights' count).")
    void profileStep(String v) {
        overrides.put("profile-step", v);
    }

    @Option(names = "--request-mb", paramLabel = "MB", description = "Request size in MB.")
    void requestMb(String v) {
        overrides.put("request-mb", v);
    }

    @Option(names = "--response-mb", paramLabel = "MB", description = "Response size in MB.")
    void responseMb(String v) {
        overrides.put("response-mb", v);
    }

    @Option(names = "--bits-per-byte", paramLabel = "N", description = "Bits per byte on the wire (lecture: 10).")
    void bitsPerByte(String v) {
        overrides.put("bits-per-byte", v);
    }

    @Option(names = "--encoding", paramLabel = "E", description = "binary, protobuf (x1) or base64 (x4/3).")
    void encoding(String v) {
        overrides.put("encoding", v);
    }

    @Option(names = "--service-rate", paramLabel = "R", description = "Requests/s one server or worker handles.")
    void serviceRate(String v) {
        overrides.put("service-rate", v);
    }

    @Option(names = "--service-time", paramLabel = "D", description = "exponential, deterministic or lognormal:CV.")
    void serviceTime(String v) {
        overrides.put("service-time", v);
    }

    @Option(names = "--server-queue", paramLabel = "N", description = "Waiting requests a server holds before 503.")
    void serverQueue(String v) {
        overrides.put("server-queue", v);
    }

    @Option(names = "--servers", paramLabel = "N...", description = "Server designs to compare, e.g. '1 2 3'.")
    void servers(String v) {
        overrides.put("servers", v);
    }

    @Option(names = "--queue-workers", paramLabel = "N", description = "Workers of the queue design (0: none).")
    void queueWorkers(String v) {
        overrides.put("queue-workers", v);
    }

    @Option(names = "--function", paramLabel = "BOOL", description = "Include the function-per-request design.")
    void function(String v) {
        overrides.put("function", v);
    }

    @Option(names = "--price", paramLabel = "PART=PRICE", description = "A price: server-hour, proxy-hour, "
            + "queue-hour, worker-hour, function-request, function-factor (repeatable).")
    void price(Map<String, String> prices) {
        prices.forEach((k, v) -> overrides.put("price." + k, v));
    }

    @Option(names = "--wait-probability", paramLabel = "P", description = "The share of requests that may wait at "
            + "the peak when sizing servers so that (almost) nothing waits (Erlang C; default 0.01).")
    void waitProbability(String v) {
        overrides.put("wait-probability", v);
    }

    @Option(names = "--seed", paramLabel = "N", description = "The simulation's seed.")
    void seed(String v) {
        overrides.put("seed", v);
    }

    @Override
    public Integer call() throws IOException {
        PrintStream out = System.out;
        if (printExample != null) {
            out.print(Examples.text(printExample));
            return 0;
        }
        Plan plan = load(file, example, overrides);
        if (measure != null) {
            RateProbe.Measured m = RateProbe.measure(java.net.URI.create(measure), model, rows,
                    java.time.Duration.ofSeconds(measureSeconds), out);
            out.printf("measured: %s at %d row(s) per request: %.1f requests/s (p50 %.1f ms, p99 %.1f ms, %d "
                    + "refused)%n", m.target(), rows, m.rate(), m.p50Ms(), m.p99Ms(), m.refused());
            plan = plan.toBuilder().serviceRate(m.rate()).build();
        }
        Planner.Report report = Planner.plan(plan);
        out.print(TextReport.render(report));
        if (html != null) {
            Files.writeString(html, Charts.html(report), StandardCharsets.UTF_8);
            out.println("report: " + html.toAbsolutePath());
        }
        if (svg != null) {
            Path arrivals = Path.of(svg + "-arrivals.svg");
            Path queue = Path.of(svg + "-queue.svg");
            Files.writeString(arrivals, Charts.arrivals(report), StandardCharsets.UTF_8);
            Files.writeString(queue, Charts.queueDepth(report), StandardCharsets.UTF_8);
            out.println("charts: " + arrivals.toAbsolutePath() + ", " + queue.toAbsolutePath());
        }
        return 0;
    }

    /** The plan from a file, an example or the defaults, with the command line's overrides. */
    static Plan load(Path file, String example, Map<String, String> overrides) throws IOException {
        if (file != null && example != null) {
            throw new IllegalArgumentException("give a plan file or --example, not both");
        }
        if (file != null) {
            return PlanFile.parse(file.toString(), Files.readAllLines(file, StandardCharsets.UTF_8), overrides);
        }
        String name = example != null ? example : "case1";
        return PlanFile.parse(name + ".plan", Examples.text(name).lines().toList(), overrides);
    }

    static List<String> keys() {
        return List.copyOf(PlanFile.DEFAULTS.keySet());
    }
}
