package dev.scoreflow.plan;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class PlanCommandTest {

    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            CommandLine cl = new CommandLine(new PlanCommand());
            cl.setErr(new PrintWriter(err, true));
            cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
                cmd.getErr().println("scoreflow: " + e.getMessage());
                return 1;
            });
            int code = cl.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(saved);
        }
    }

    @Test
    void everyPlanKeyHasAFlag() {
        CommandLine cl = new CommandLine(new PlanCommand());
        for (String key : PlanFile.DEFAULTS.keySet()) {
            String flag = key.startsWith("price.") ? "--price" : "--" + key;
            assertThat(cl.getCommandSpec().findOption(flag)).as(flag).isNotNull();
        }
    }

    @Test
    void theHelpOfPlanAndReplayRendersAndNamesTheNewNumbers() {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String plan;
        String replay;
        try {
            // picocli reads descriptions as format strings and warns on System.err about a stray '%'
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            CommandLine cl = new CommandLine(new PlanCommand());
            plan = cl.getUsageMessage();
            replay = cl.getSubcommands().get("replay").getUsageMessage();
        } finally {
            System.setErr(saved);
        }
        assertThat(err.toString(StandardCharsets.UTF_8)).isEmpty();
        // as one line: the usage wraps at 80 columns
        assertThat(plan.replaceAll("\\s+", " ")).contains("--profile-step", "--wait-probability",
                "the servers for the peak", "(Erlang C)", "case3-burst");
        assertThat(replay.replaceAll("\\s+", " ")).contains("each 5 % of the replay", "p50/p99/max");
    }

    @Test
    void theLecturesThirdCaseWithItsChartsAndOverrides(@TempDir Path dir) throws Exception {
        Path html = dir.resolve("plan.html");
        Run r = run("--example", "case3", "--servers", "1 2 3", "--price", "server-hour=2", "--html", html.toString(),
                "--svg", dir.resolve("case3").toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("3 servers + proxy", "15.28 requests/s", "report: ");
        String page = Files.readString(html);
        assertThat(page).contains("<svg", "Arrivals against capacity", "Queue depth through the day", "polyline");
        assertThat(Files.readString(dir.resolve("case3-arrivals.svg"))).startsWith("<svg");
        assertThat(Files.readString(dir.resolve("case3-queue.svg"))).contains("queue + 1 worker");
    }

    @Test
    void aPlanFileIsReadAndItsMistakesNamedWithTheirLine(@TempDir Path dir) throws Exception {
        Path plan = dir.resolve("my.plan");
        Files.writeString(plan, "users = 20000\nprofile = 1 1\n");
        Run bad = run(plan.toString());
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err()).contains("one weight per working hour (10), or per step of minutes dividing the hour",
                "had 2");
        Files.writeString(plan, "users = 20000\nservers = two\n");
        assertThat(run(plan.toString()).err()).contains("my.plan:2", "servers must be numbers");
        Files.writeString(plan, "# comment\nusers = 20000  # twice case 2\nsrevers = 2\n");
        assertThat(run(plan.toString()).err()).contains("my.plan:3", "unknown key 'srevers'");
        Files.writeString(plan, "users = 20000\n");
        Run ok = run(plan.toString());
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("200,000 requests/day");
    }

    /** The plan the flags make, as {@code scoreflow plan} would run it. */
    static Planner.Report planned(String... args) throws Exception {
        PlanCommand c = new PlanCommand();
        new CommandLine(c).parseArgs(args);
        return Planner.plan(PlanCommand.load(c.file, c.example, c.overrides));
    }

    static double[] costs(String... args) throws Exception {
        return planned(args).outcomes().stream().mapToDouble(Outcome::costPerDay).toArray();
    }

    @Test
    void theWireFlagsChangeTheTraffic() throws Exception {
        Load binary = planned("--example", "case3").load();
        assertThat(binary.megabitsIn(binary.peakRate())).isCloseTo(152.8, within(0.1));
        Load base64 = planned("--example", "case3", "--encoding", "base64").load();
        assertThat(base64.megabitsIn(base64.peakRate())).isCloseTo(152.8 * 4 / 3, within(0.1));
        assertThat(base64.megabitsOut(1)).isCloseTo(binary.megabitsOut(1) * 4 / 3, within(1e-12));
        assertThat(planned("--example", "case3", "--encoding", "protobuf").load().megabitsPerRequestIn())
                .isEqualTo(binary.megabitsPerRequestIn());
        Load eight = planned("--example", "case3", "--bits-per-byte", "8").load();
        assertThat(eight.megabitsIn(eight.peakRate())).isCloseTo(152.8 * 0.8, within(0.1));
        Load bigger = planned("--example", "case3", "--request-mb", "2", "--response-mb", "0.5").load();
        assertThat(bigger.megabitsPerRequestIn()).isEqualTo(20);
        assertThat(bigger.megabitsPerRequestOut()).isEqualTo(5);
        assertThat(run("--example", "case3", "--encoding", "base64").out()).contains("203.7 Mbit/s in");
    }

    @Test
    void thePriceFlagsChangeEachDesignsCost() throws Exception {
        // case 3 at the defaults: 1 server 24, 2 servers and a proxy 24 x 2.5, the queue 24 x (1 + 0.5)
        assertThat(costs("--example", "case3")).containsExactly(new double[]{24, 60, 36, 100_000 * 5 / 36_000.0},
                within(1e-9));
        // the servers cost twice; the queue's worker has its own price; the function's is 5 x a server's per request
        assertThat(costs("--example", "case3", "--price", "server-hour=2"))
                .containsExactly(new double[]{48, 24 * (2 * 2 + 0.5), 36, 100_000 * 5 * 2 / 36_000.0}, within(1e-9));
        assertThat(costs("--example", "case3", "--price", "worker-hour=2", "--price", "queue-hour=1", "--price",
                "proxy-hour=0")).containsExactly(new double[]{24, 48, 24 * (2 + 1), 100_000 * 5 / 36_000.0},
                within(1e-9));
        assertThat(costs("--example", "case3", "--price", "function-request=0.001")[3]).isCloseTo(100, within(1e-9));
        assertThat(run("--example", "case3", "--price", "server-hour=2").out()).contains("48.00", "108.00");
    }

    @Test
    void theLoadAndDesignFlagsChangeTheDay() throws Exception {
        Planner.Report users = planned("--example", "case3", "--users", "20000");
        assertThat(users.load().peakRate()).isCloseTo(2 * 15.28, within(0.01));
        assertThat(users.serversForPeak()).isEqualTo(4);
        Planner.Report faster = planned("--example", "case3", "--service-rate", "20");
        assertThat(faster.outcomes().get(0).simulated().refused()).isZero(); // 15.28/s fits one server of 20
        assertThat(faster.serversForPeak()).isEqualTo(1);
        Planner.Report noQueue = planned("--example", "case3", "--server-queue", "0");
        assertThat(noQueue.outcomes().get(0).simulated().maxWaiting()).isZero();
        assertThat(noQueue.outcomes().get(0).simulated().refused())
                .isGreaterThan(planned("--example", "case3").outcomes().get(0).simulated().refused());
        Planner.Report designs = planned("--example", "case3", "--servers", "3", "--queue-workers", "0",
                "--function", "false");
        assertThat(designs.outcomes()).extracting(Outcome::design).containsExactly(new Design.Servers(3));
        assertThat(planned("--example", "case3", "--wait-probability", "0.5").serversSoFewWait()).isEqualTo(3);
        Planner.Report seeded = planned("--example", "case3", "--seed", "43");
        assertThat(seeded.outcomes().get(2).simulated().arrived())
                .isNotEqualTo(planned("--example", "case3").outcomes().get(2).simulated().arrived());
    }

    @Test
    void theExamplesPrintAsTheyShip() {
        Run r = run("--print-example", "case3");
        assertThat(r.out()).isEqualTo(Examples.text("case3"));
        assertThat(PlanFile.parse("x", r.out().lines().toList(), Map.of())).isEqualTo(Examples.plan("case3"));
        for (String name : Examples.NAMES) {
            assertThat(Examples.plan(name).name()).as(name).isNotBlank();
        }
        assertThatThrownBy(() -> Examples.text("case9")).hasMessageContaining("case1");
    }

    @Test
    void badValuesAreRefusedNamingTheValueAndTheRange() {
        assertThatThrownBy(() -> PlanFile.parse("p", List.of("hours = 18-8"), Map.of()))
                .hasMessageContaining("18-8");
        assertThatThrownBy(() -> PlanFile.parse("p", List.of("service-time = gamma"), Map.of()))
                .hasMessageContaining("lognormal:CV");
        assertThatThrownBy(() -> PlanFile.parse("p", List.of("service-rate = 0"), Map.of()))
                .hasMessageContaining("service rate must be a positive number, was 0.0");
        assertThatThrownBy(() -> PlanFile.parse("p", List.of(), Map.of("nope", "1")))
                .hasMessageContaining("unknown plan key 'nope'");
    }
}
