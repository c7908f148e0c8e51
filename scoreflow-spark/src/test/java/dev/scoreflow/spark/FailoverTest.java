package dev.scoreflow.spark;

import dev.scoreflow.client.ClientMetrics;
import dev.scoreflow.client.ScoringClients;
import dev.scoreflow.server.ScoringServer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Two scoring servers, one killed (SIGKILL) halfway through a Spark job: the job completes, every row once. */
@Tag("slow")
class FailoverTest {
    private static final long N = 600_000;

    /** scoreflow_rows_total from the server's /metrics. */
    private static long rowsServed(String uri) throws Exception {
        String text = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create(uri + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString())
                .body();
        long sum = 0;
        for (String line : text.split("\n")) {
            if (line.startsWith("scoreflow_rows_total")) {
                sum += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    @Test
    void aJobSurvivesTheDeathOfOneOfItsTwoServers(@TempDir Path dir) throws Exception {
        SparkSession spark = SparkFixtures.session("local[2]").getOrCreate();
        ScoringServer survivor = SparkFixtures.server();
        try (ServerProcess victim = new ServerProcess()) {
            String endpoints = victim.uri + "," + survivor.uri();
            Dataset<Row> texts = new LetterFrequencies().transform(SparkFixtures.texts(spark, N, 4, 3));
            String out = dir.resolve("scored").toString();
            ModelScorer remote = new ModelScorer().setEndpoints(endpoints).setBatchRows(500).setMaxInFlight(4);
            CompletableFuture<Void> job = CompletableFuture.runAsync(() ->
                    remote.transform(texts).select("id", "score").write().parquet(out));

            // the driver is the executor in local mode: its shared client is the one the tasks use
            ClientMetrics metrics = ScoringClients.shared(new ScoringSettings(endpoints, null, "seed", null, 500, 4,
                    30_000, 300_000, 0, null, false, null, null).clientConfig()).metrics();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (metrics.rows() < N / 3 && !job.isDone()) {
                assertThat(System.nanoTime()).as("a third of the rows within 120 s").isLessThan(deadline);
                Thread.sleep(1);
            }
            long rowsAtKill = metrics.rows();
            long victimRows = rowsServed(victim.uri);
            victim.kill();
            job.get(180, TimeUnit.SECONDS);

            assertThat(rowsAtKill).as("killed mid-job").isBetween(N / 3, N - 1);
            assertThat(victimRows).as("the victim had its share of the load").isGreaterThan(N / 20);
            assertThat(metrics.ejections()).isPositive();
            assertThat(metrics.failures()).isZero();
            Dataset<Row> scored = spark.read().parquet(out);
            assertThat(scored.count()).isEqualTo(N);
            assertThat(scored.select("id").distinct().count()).isEqualTo(N);
            // same scores as in-process ONNX Runtime on the same rows
            Dataset<Row> expected = new ModelScorer().setModelPath(SparkFixtures.EXAMPLE.toString())
                    .setScoreCol("expected").transform(texts).select("id", "expected");
            Row worst = scored.join(expected, "id").agg(functions.max(functions.abs(
                    functions.col("score").minus(functions.col("expected")))), functions.count(functions.lit(1)))
                    .first();
            assertThat(worst.getLong(1)).isEqualTo(N);
            assertThat(worst.getFloat(0)).isLessThanOrEqualTo(1e-5f);
        } finally {
            survivor.shutdown(Duration.ofSeconds(5));
            spark.stop();
        }
    }
}
