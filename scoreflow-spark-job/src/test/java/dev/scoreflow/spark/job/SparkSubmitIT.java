package dev.scoreflow.spark.job;

import dev.scoreflow.spark.SparkFixtures;
import dev.scoreflow.runtime.ChildJvm;
import dev.scoreflow.runtime.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The job jar as a cluster would run it: {@code spark-submit --class dev.scoreflow.spark.job.BatchCommand <job jar>},
 * with nothing but Spark's own jars on the class path (SparkSubmit is what the spark-submit script runs).
 */
class SparkSubmitIT {
    @Test
    void theJobJarRunsUnderSparkSubmitWithOnlySparkBesideIt(@TempDir Path dir) throws Exception {
        // in-process, and remote through the relocated Netty client
        submit(dir, "inprocess", List.of("--model", TestModels.example().toString()));
        dev.scoreflow.server.ScoringServer server = SparkFixtures.server();
        try {
            submit(dir, "remote", List.of("--endpoint", server.uri().toString()));
        } finally {
            server.shutdown(java.time.Duration.ofSeconds(5));
        }
    }

    private static void submit(Path dir, String name, List<String> mode) throws Exception {
        Path jobJar = Path.of(System.getProperty("scoreflow.jobJar"));
        String sparkClasspath = Files.readString(Path.of(System.getProperty("scoreflow.sparkClasspath"))).strip();
        assertThat(jobJar).isRegularFile();
        assertThat(sparkClasspath).doesNotContain("scoreflow").doesNotContain("onnxruntime");

        Path input = dir.resolve(name + ".json");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            lines.add("{\"id\": " + i + ", \"text\": \"" + (i % 2 == 0
                    ? "the quick brown fox jumps over the lazy dog while the farmer reads his paper"
                    : "zxq vvk jjqz wxk qqzv xjzk vwq zzxj kqv") + "\"}");
        }
        Files.write(input, lines);
        Path output = dir.resolve(name + "-scored");
        List<String> cmd = new ArrayList<>(ChildJvm.command(sparkClasspath, List.of(
                "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
                "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
                "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED"),
                "org.apache.spark.deploy.SparkSubmit", "--master", "local[2]",
                "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1",
                "--class", "dev.scoreflow.spark.job.BatchCommand", jobJar.toString(),
                "--input", input.toString(), "--output", output.toString(), "--text-col", "text",
                "--threshold", "0.5"));
        cmd.addAll(mode);
        Path log = dir.resolve(name + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("rows in 500, rows out 500, errors 0, prediction 1 for 250 (50.0%)");
    }
}
