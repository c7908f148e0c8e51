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
        assertThat(bad.err()).contains("one weight per working hour (10), had 2");
        Files.writeString(plan, "users = 20000\nservers = two\n");
        assertThat(run(plan.toString()).err()).contains("my.plan:2", "servers must be numbers");
        Files.writeString(plan, "# comment\nusers = 20000  # twice case 2\nsrevers = 2\n");
        assertThat(run(plan.toString()).err()).contains("my.plan:3", "unknown key 'srevers'");
        Files.writeString(plan, "users = 20000\n");
        Run ok = run(plan.toString());
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("200,000 requests/day");
    }

    @Test
    void theExamplesPrintAsTheyShip() {
        Run r = run("--print-example", "case3");
        assertThat(r.out()).isEqualTo(Examples.text("case3"));
        assertThat(PlanFile.parse("x", r.out().lines().toList(), Map.of())).isEqualTo(Examples.plan("case3"));
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
