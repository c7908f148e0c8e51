package dev.scoreflow.spark;

import dev.scoreflow.runtime.TestModels;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** The batch job on local Spark: CSV with feature columns in, Parquet out, and its refusals. */
class BatchJobTest {
    private static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkFixtures.session("local[2]").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static BatchJob.Options options(Path in, Path out, String features, String idCol, boolean overwrite) {
        return BatchJob.Options.builder(in.toString(), out.toString()).modelFile(SparkFixtures.EXAMPLE.toString())
                .featuresCol(features).idCol(idCol).threshold(0.5).batchRows(300).maxInFlight(4).partitions(3)
                .overwrite(overwrite).build();
    }

    @Test
    void scoresACsvOfFeatureColumnsIntoParquetAndRefusesWhatItCannotDo(@TempDir Path dir) throws Exception {
        int n = 1000;
        float[] flat = TestModels.noisyRows(SparkFixtures.EXAMPLE, n, SparkFixtures.FEATURES, 5);
        float[] expected = TestModels.inProcessScores(SparkFixtures.EXAMPLE, flat, SparkFixtures.FEATURES);
        List<String> lines = new ArrayList<>();
        StringBuilder header = new StringBuilder("key");
        List<String> cols = new ArrayList<>();
        for (int c = 0; c < SparkFixtures.FEATURES; c++) {
            header.append(",f").append(c);
            cols.add("f" + c);
        }
        lines.add(header.toString());
        for (int r = 0; r < n; r++) {
            StringBuilder line = new StringBuilder().append(r);
            for (int c = 0; c < SparkFixtures.FEATURES; c++) {
                line.append(',').append(flat[r * SparkFixtures.FEATURES + c]);
            }
            lines.add(line.toString());
        }
        Path csv = dir.resolve("rows.csv");
        Files.write(csv, lines);
        Path out = dir.resolve("scored");
        List<String> progress = new ArrayList<>();
        BatchJob.Summary s = BatchJob.run(spark, options(csv, out, String.join(",", cols), "key", false),
                progress::add);
        assertThat(s.rowsIn()).isEqualTo(n);
        assertThat(s.rowsOut()).isEqualTo(n);
        assertThat(s.errors()).isZero();
        assertThat(progress).anyMatch(l -> l.contains("1,000 rows in 3 partitions"));
        List<Row> rows = spark.read().parquet(out.toString()).collectAsList();
        assertThat(rows).hasSize(n);
        assertThat(spark.read().parquet(out.toString()).columns()).containsExactly("key", "score", "prediction");
        for (Row r : rows) {
            int key = r.getInt(0);
            assertThat(r.getFloat(1)).isCloseTo(expected[key], offset(1e-5f));
            assertThat(r.getInt(2)).isEqualTo(r.getFloat(1) >= 0.5 ? 1 : 0);
        }

        assertThatThrownBy(() -> BatchJob.run(spark, options(csv, out, String.join(",", cols), "key", false),
                l -> { })).hasMessageContaining("exists; pass --overwrite");
        assertThatThrownBy(() -> BatchJob.run(spark, options(csv, out, String.join(",", cols), "id", true),
                l -> { })).hasMessageContaining("no id column 'id'").hasMessageContaining("key");
        assertThatThrownBy(() -> BatchJob.run(spark, options(csv, out, "f0,nope", "key", true), l -> { }))
                .hasMessageContaining("feature column 'nope' is not in the input");
    }

    @Test
    void progressLinesSayRowsRateAndTimeLeft() {
        assertThat(ProgressListener.line(250_000, 1_000_000, 2.0))
                .isEqualTo("scored 250,000 of 1,000,000 rows (25.0%), 125,000 rows/s, ETA 0:06");
        assertThat(ProgressListener.line(10, 0, 1.0)).isEqualTo("scored 10 rows, 10 rows/s");
    }
}
