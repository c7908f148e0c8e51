package dev.scoreflow.cli;

import dev.scoreflow.api.Model;
import dev.scoreflow.api.internal.Log;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.client.ScoringClients;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.ModelLoaders;
import dev.scoreflow.runtime.ThreadBudget;
import dev.scoreflow.server.ScoringServer;
import dev.scoreflow.spark.job.BatchCommand;
import dev.scoreflow.spark.BatchJob;
import dev.scoreflow.spark.LetterFrequencies;
import dev.scoreflow.spark.job.SampleTexts;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code scoreflow demo}: the main job on embedded defaults. Generates a dataset of texts, serves the bundled example
 * model, scores the dataset with embedded Spark through the server (the back-pressured client, as a cluster job
 * would), and prints the summary, the model's accuracy on the generated labels and a check of the scores against
 * in-process ONNX Runtime.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The end-to-end batch job on embedded defaults: generate N texts (half English) as Parquet, "
                + "serve the bundled example model (is a text English, from its 26 letter frequencies) on a free "
                + "port, score the dataset with embedded Spark through the server, write Parquet, and print the "
                + "summary, the accuracy against the generated labels and a check against in-process ONNX "
                + "Runtime.", "'scoreflow demo stream' is the streaming job: a Kafka broker, a drifting stream of card "
                + "transactions, live features, windowed statistics and alerts.", ""})
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--rows", defaultValue = "500000", description = "Texts to generate and score (default: "
            + "${DEFAULT-VALUE}).")
    long rows;

    @Option(names = "--partitions", defaultValue = "8", description = "Partitions of the generated dataset "
            + "(default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "Where input and output go (default: a new "
            + "temporary directory).")
    Path workDir;

    @Option(names = "--master", defaultValue = "local[*]", description = "Spark master (default: "
            + "${DEFAULT-VALUE}).")
    String master;

    @Option(names = "--model", paramLabel = "FILE", description = "Model to serve (default: the bundled example, "
            + "models/example/1/model.onnx).")
    Path model;

    @Override
    public Integer call() throws Exception {
        if (rows < 1 || partitions < 1) {
            throw new IllegalArgumentException("--rows and --partitions must be >= 1");
        }
        Path file = model != null ? model : Path.of(System.getProperty("scoreflow.home", "."), "models", "example",
                "1", "model.onnx");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("model file " + file + " not found (run from the repository root, "
                    + "or give --model)");
        }
        Path dir = workDir != null ? workDir : Files.createTempDirectory("scoreflow-demo");
        String input = dir.resolve("texts.parquet").toString();
        String output = dir.resolve("scored.parquet").toString();
        ModelConfig config = ModelConfig.read(file.resolveSibling(ModelConfig.FILE_NAME), ModelConfig.defaults());
        double threshold = config.threshold() != null ? config.threshold() : 0.5;

        ModelRepository repository = ModelRepository.builder().model("example", file)
                .threads(ThreadBudget.defaults()).build();
        ScoringServer server = ScoringServer.builder(repository).port(0).start();
        SparkSession spark = BatchCommand.session(master, "scoreflow-demo");
        try {
            Log.info("serving " + file + " at " + server.uri());
            SampleTexts.generate(spark, rows, partitions, 42).write().mode(SaveMode.Overwrite).parquet(input);
            Log.info(String.format("generated %,d texts in %s", rows, input));

            BatchJob.Summary s = BatchJob.run(spark, BatchJob.Options.builder(input, output).format("parquet")
                    .endpoints(server.uri().toString()).textCol("text").threshold(threshold).overwrite(true).build(), Log::info);
            System.out.println("scored " + input + " through " + server.uri() + " into " + output);
            System.out.println("summary: " + s);
            ScoringClients.metrics().values().forEach(m -> System.out.println("client: " + m));

            Dataset<Row> joined = spark.read().parquet(output).join(spark.read().parquet(input), "id");
            long correct = joined.filter(functions.col("prediction").equalTo(functions.col("label"))).count();
            System.out.printf("accuracy against the generated labels: %.4f (%,d of %,d)%n",
                    (double) correct / s.rowsOut(), correct, s.rowsOut());
            double maxDiff = parity(joined.select("text", "score").limit(5000).collectAsList(), file, config);
            System.out.printf("max |score - in-process ONNX Runtime| over 5,000 rows: %.2g%n", maxDiff);
            if (s.rowsOut() != rows || maxDiff > 1e-5) {
                System.out.println("MISMATCH: rows out " + s.rowsOut() + " of " + rows + ", max diff " + maxDiff);
                return 2;
            }
            return 0;
        } finally {
            spark.stop();
            server.shutdown(Duration.ofSeconds(5));
        }
    }

    /** The largest difference between the job's scores and in-process ONNX Runtime on the same texts. */
    private static double parity(List<Row> rows, Path file, ModelConfig config) {
        float[] features = new float[rows.size() * LetterFrequencies.FEATURES];
        for (int i = 0; i < rows.size(); i++) {
            System.arraycopy(LetterFrequencies.of(rows.get(i).getString(0)), 0, features,
                    i * LetterFrequencies.FEATURES, LetterFrequencies.FEATURES);
        }
        try (Model m = ModelLoaders.load(file, config, 1)) {
            float[] expected = m.score(FloatMatrix.of(features, rows.size(), LetterFrequencies.FEATURES));
            double max = 0;
            for (int i = 0; i < rows.size(); i++) {
                max = Math.max(max, Math.abs(expected[i] - rows.get(i).getFloat(1)));
            }
            return max;
        }
    }
}
