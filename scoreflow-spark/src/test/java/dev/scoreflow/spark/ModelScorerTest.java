package dev.scoreflow.spark;

import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.server.ScoringServer;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** The stages on real Spark, local[2]: remote through a real server and in-process, both equal to ONNX Runtime. */
class ModelScorerTest {
    private static SparkSession spark;
    private static ScoringServer server;
    private static final int N = 20_000;
    private static float[] flat;
    private static float[] expected;

    @BeforeAll
    static void start() {
        spark = SparkFixtures.session("local[2]").getOrCreate();
        server = SparkFixtures.server();
        flat = TestModels.noisyRows(SparkFixtures.EXAMPLE, N, SparkFixtures.FEATURES, 7);
        expected = TestModels.inProcessScores(SparkFixtures.EXAMPLE, flat, SparkFixtures.FEATURES);
    }

    @AfterAll
    static void stop() {
        server.shutdown(Duration.ofSeconds(5));
        spark.stop();
    }

    private static void assertEveryRowScoredOnceAsInProcess(Dataset<Row> out, boolean prediction) {
        List<Row> rows = out.collectAsList();
        assertThat(rows).hasSize(N);
        Set<Long> ids = new HashSet<>();
        for (Row r : rows) {
            long id = r.getLong(r.fieldIndex("id"));
            assertThat(ids.add(id)).as("id %d once", id).isTrue();
            float score = r.getFloat(r.fieldIndex("score"));
            assertThat(score).as("row %d", id).isCloseTo(expected[(int) id],
                    offset(TestModels.tolerance(expected[(int) id])));
            if (prediction) {
                assertThat(r.getInt(r.fieldIndex("prediction"))).isEqualTo(score >= 0.5 ? 1 : 0);
            }
        }
    }

    @Test
    void remoteScoringThroughTheServerEqualsInProcessOnnxRuntime() {
        Dataset<Row> in = SparkFixtures.rows(spark, flat, 6);
        ModelScorer scorer = new ModelScorer().setEndpoints(server.uri().toString()).setBatchRows(500)
                .setMaxInFlight(4).setThreshold(0.5);
        assertEveryRowScoredOnceAsInProcess(scorer.transform(in), true);
    }

    @Test
    void remoteScoringOverTheV2ProtocolEqualsInProcessOnnxRuntime() {
        Dataset<Row> in = SparkFixtures.rows(spark, flat, 3);
        ModelScorer scorer = new ModelScorer().setEndpoints(server.uri().toString()).setServerModel("example")
                .setProtocol("v2");
        assertEveryRowScoredOnceAsInProcess(scorer.transform(in), false);
    }

    @Test
    void inProcessScoringEqualsOnnxRuntime() {
        Dataset<Row> in = SparkFixtures.rows(spark, flat, 5);
        ModelScorer scorer = new ModelScorer().setModelPath(SparkFixtures.EXAMPLE.toString()).setThreshold(0.5);
        assertEveryRowScoredOnceAsInProcess(scorer.transform(in), true);
    }

    @Test
    void vectorFeaturesAreScoredToo() {
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < 100; r++) {
            double[] d = new double[SparkFixtures.FEATURES];
            for (int c = 0; c < d.length; c++) {
                d[c] = flat[r * SparkFixtures.FEATURES + c];
            }
            rows.add(RowFactory.create((long) r, Vectors.dense(d)));
        }
        StructType schema = new StructType().add("id", DataTypes.LongType).add("features", new VectorUDT());
        List<Row> out = new ModelScorer().setModelPath(SparkFixtures.EXAMPLE.toString())
                .transform(spark.createDataFrame(rows, schema)).collectAsList();
        for (Row r : out) {
            int id = (int) r.getLong(0);
            assertThat(r.getFloat(2)).isCloseTo(expected[id], offset(TestModels.tolerance(expected[id])));
        }
    }

    @Test
    void withAnErrorColumnBadRowsGetTheirErrorAndTheRestAreScored() {
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < 2000; r++) {
            Float[] f = new Float[SparkFixtures.FEATURES];
            for (int c = 0; c < f.length; c++) {
                f[c] = flat[r * SparkFixtures.FEATURES + c];
            }
            if (r == 10) {
                f[3] = Float.NaN;
            }
            if (r == 1500) {
                f = new Float[]{1f, 2f};
            }
            rows.add(RowFactory.create((long) r, f));
        }
        Dataset<Row> in = spark.createDataFrame(rows, SparkFixtures.SCHEMA).coalesce(1);
        for (ModelScorer scorer : List.of(new ModelScorer().setEndpoints(server.uri().toString()),
                new ModelScorer().setModelPath(SparkFixtures.EXAMPLE.toString()))) {
            List<Row> out = scorer.setErrorCol("error").transform(in).collectAsList();
            assertThat(out).hasSize(2000);
            for (Row r : out) {
                long id = r.getLong(0);
                if (id == 10) { // the server answers 400, in-process refuses alike; bisection isolates the row
                    assertThat(r.getString(3)).contains("row 0, feature 3 is NaN");
                    assertThat(r.isNullAt(2)).isTrue();
                } else if (id == 1500) {
                    assertThat(r.getString(3)).contains("row has 2 features");
                } else {
                    assertThat(r.isNullAt(3)).as("row %d", id).isTrue();
                    assertThat(r.getFloat(2)).isCloseTo(expected[(int) id], offset(1e-5f));
                }
            }
        }
    }

    @Test
    void withoutAnErrorColumnABadRowFailsTheJobWithTheServersMessage() {
        List<Row> rows = List.of(RowFactory.create(1L, new Float[]{1f, 2f, 3f}));
        Dataset<Row> in = spark.createDataFrame(rows, SparkFixtures.SCHEMA);
        ModelScorer scorer = new ModelScorer().setEndpoints(server.uri().toString());
        assertThatThrownBy(() -> scorer.transform(in).collectAsList()).hasStackTraceContaining("HTTP 400")
                .hasStackTraceContaining("26");
    }

    @Test
    void badSettingsAreRefusedOnTheDriverWithTheReason() {
        Dataset<Row> in = SparkFixtures.rows(spark, new float[SparkFixtures.FEATURES], 1);
        assertThatThrownBy(() -> new ModelScorer().transform(in)).hasMessageContaining("exactly one of endpoints");
        assertThatThrownBy(() -> new ModelScorer().setModelPath("m.onnx").setFeaturesCol("id").transform(in))
                .hasMessageContaining("featuresCol 'id' must be array<float>");
        assertThatThrownBy(() -> new ModelScorer().setModelPath("m.onnx").setFeaturesCol("nope").transform(in))
                .hasMessageContaining("'nope' is not a column");
        assertThatThrownBy(() -> new ModelScorer().setEndpoints("localhost:80").transform(in))
                .hasMessageContaining("http://host:port");
    }

    @Test
    void aPipelineOfFeaturizerAndScorerIsSavedAndLoaded(@TempDir Path dir) throws Exception {
        List<Row> texts = List.of(RowFactory.create(1L, "The quick brown fox jumps over the lazy dog and then "
                        + "returns home to sleep through the rest of the afternoon in the warm sun."),
                RowFactory.create(2L, "zqxj vvkw qzzx jjqv xkqz wvvj zxqk qjzv kxwq zjvq xzkj qwvz"));
        StructType schema = new StructType().add("id", DataTypes.LongType).add("text", DataTypes.StringType);
        Dataset<Row> in = spark.createDataFrame(texts, schema);
        Pipeline pipeline = new Pipeline().setStages(new PipelineStage[]{new LetterFrequencies(),
                new ModelScorer().setModelPath(SparkFixtures.EXAMPLE.toString()).setThreshold(0.5)});
        PipelineModel model = pipeline.fit(in);
        String path = dir.resolve("pipeline").toString();
        model.write().overwrite().save(path);
        PipelineModel loaded = PipelineModel.load(path);
        List<Row> out = loaded.transform(in).orderBy("id").collectAsList();
        assertThat(out.get(0).getInt(out.get(0).fieldIndex("prediction"))).isEqualTo(1); // English
        assertThat(out.get(1).getInt(out.get(1).fieldIndex("prediction"))).isEqualTo(0); // not English
        assertThat(((ModelScorer) loaded.stages()[1]).getOrDefault(((ModelScorer) loaded.stages()[1]).threshold()))
                .isEqualTo(0.5);
    }

    @Test
    void item21_scoresThroughAServerRequiringABearerTokenFromAFileOrTheEnvironmentAndFailsWith401Without(
            @TempDir Path dir) throws Exception {
        String token = "env-t0ken-for-tests"; // also SCOREFLOW_TEST_TOKEN in this JVM's environment (the POM sets it)
        assertThat(System.getenv("SCOREFLOW_TEST_TOKEN")).isEqualTo(token);
        ScoringServer secured = SparkFixtures.server(b -> b.authToken(token));
        try {
            Path tokenFile = dir.resolve("token.txt");
            Files.writeString(tokenFile, token + "\n");
            int n = 3000;
            Dataset<Row> in = SparkFixtures.rows(spark, Arrays.copyOf(flat, n * SparkFixtures.FEATURES), 2);
            String url = secured.uri().toString();
            for (ModelScorer scorer : List.of(new ModelScorer().setEndpoints(url).setAuthTokenFile(tokenFile.toString()),
                    new ModelScorer().setEndpoints(url).setAuthTokenEnv("SCOREFLOW_TEST_TOKEN").setProtocol("v2")
                            .setServerModel("example"))) {
                List<Row> out = scorer.transform(in).collectAsList();
                assertThat(out).hasSize(n);
                for (Row r : out) {
                    int id = (int) r.getLong(0);
                    assertThat(r.getFloat(2)).isCloseTo(expected[id], offset(TestModels.tolerance(expected[id])));
                }
            }
            assertThatThrownBy(() -> new ModelScorer().setEndpoints(url).transform(in).collectAsList())
                    .hasStackTraceContaining("HTTP 401")
                    .hasStackTraceContaining("requires a bearer token and none was sent");
            assertThatThrownBy(() -> new ModelScorer().setEndpoints(url).setAuthTokenEnv("SCOREFLOW_NO_SUCH_VAR")
                    .transform(in)).hasMessageContaining("SCOREFLOW_NO_SUCH_VAR is not set");

            // a saved stage keeps where the token is, never the token
            String saved = dir.resolve("stage").toString();
            new ModelScorer().setEndpoints(url).setAuthTokenFile(tokenFile.toString()).write().save(saved);
            try (var files = Files.walk(Path.of(saved))) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    assertThat(Files.readAllBytes(f)).asString(java.nio.charset.StandardCharsets.ISO_8859_1)
                            .as("%s", f).doesNotContain(token);
                }
            }
            assertThat(ModelScorer.load(saved).transform(in).count()).isEqualTo(n);
        } finally {
            secured.shutdown(Duration.ofSeconds(5));
        }
    }

    @Test
    void letterFrequenciesCountLatinLettersOnly() {
        float[] f = LetterFrequencies.of("Aab, c! Ж");
        assertThat(f[0]).isEqualTo(0.5f);
        assertThat(f[1]).isEqualTo(0.25f);
        assertThat(f[2]).isEqualTo(0.25f);
        assertThat(LetterFrequencies.of("123")).containsOnly(0f);
        assertThat(LetterFrequencies.of(null)).hasSize(26);
    }
}
