package dev.scoreflow.spark;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.util.LongAccumulator;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The batch scoring job: read a dataset (Parquet, CSV or JSON), optionally featurize a text column, score it
 * remotely or in-process, write Parquet with the id, {@code score}, {@code prediction} (with a threshold) and
 * {@code error} (with {@code errorColumn}) columns, and summarize. Progress lines go to {@code log} while it runs.
 */
public final class BatchJob {
    private BatchJob() {
    }

    /**
     * What to run.
     *
     * @param input        input path
     * @param format       parquet, csv or json; null guesses from the extension (parquet for a directory)
     * @param output       output directory (Parquet)
     * @param modelFile    in-process: the ONNX file (exclusive with endpoints)
     * @param endpoints    remote: comma-separated server URLs
     * @param serverModel  remote: model name on the servers, or null for the default model
     * @param protocol     remote: seed or v2
     * @param featuresCol  an array/vector column, or a comma-separated list of numeric columns to assemble
     * @param textCol      if set, features are the letter frequencies of this text column
     * @param idCol        the column that identifies rows in the output
     * @param threshold    null, or the threshold of a {@code prediction} column
     * @param errorColumn  per-row errors into an {@code error} column instead of failing the job
     * @param batchRows    rows per request
     * @param maxInFlight  requests in flight per partition
     * @param partitions   0 keeps the input's partitions; else repartition to this many first
     * @param overwrite    replace an existing output
     * @param trustCertificates remote over https: PEM file of certificates to trust, or null
     * @param authTokenFile remote: file whose first line is the servers' bearer token, or null
     * @param authTokenEnv  remote: environment variable holding the servers' bearer token, or null
     */
    public record Options(String input, String format, String output, String modelFile, String endpoints,
                          String serverModel, String protocol, String featuresCol, String textCol, String idCol,
                          Double threshold, boolean errorColumn, int batchRows, int maxInFlight, int partitions,
                          boolean overwrite, String trustCertificates, String authTokenFile, String authTokenEnv) {

        /** Without a bearer token. */
        public Options(String input, String format, String output, String modelFile, String endpoints,
                       String serverModel, String protocol, String featuresCol, String textCol, String idCol,
                       Double threshold, boolean errorColumn, int batchRows, int maxInFlight, int partitions,
                       boolean overwrite, String trustCertificates) {
            this(input, format, output, modelFile, endpoints, serverModel, protocol, featuresCol, textCol, idCol,
                    threshold, errorColumn, batchRows, maxInFlight, partitions, overwrite, trustCertificates, null,
                    null);
        }
    }

    /** What happened. */
    public record Summary(long rowsIn, long rowsOut, long errors, long positives, double seconds) {
        public double rowsPerSecond() {
            return seconds > 0 ? rowsOut / seconds : 0;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "rows in %,d, rows out %,d, errors %,d%s, %.1f s, %,.0f rows/s",
                    rowsIn, rowsOut, errors, positives >= 0 ? String.format(Locale.ROOT,
                            ", prediction 1 for %,d (%.1f%%)", positives, rowsOut == 0 ? 0.0
                                    : 100.0 * positives / rowsOut) : "", seconds, rowsPerSecond());
        }
    }

    /** Reads {@code path} as {@code format} (or guessed). */
    public static Dataset<Row> read(SparkSession spark, String path, String format) {
        String f = format != null ? format : guessFormat(path);
        return switch (f) {
            case "parquet" -> spark.read().parquet(path);
            case "csv" -> spark.read().option("header", "true").option("inferSchema", "true").csv(path);
            case "json" -> spark.read().json(path);
            default -> throw new IllegalArgumentException("unknown input format '" + f
                    + "'; use parquet, csv or json");
        };
    }

    static String guessFormat(String path) {
        String p = path.toLowerCase(Locale.ROOT);
        if (p.endsWith(".csv") || p.endsWith(".csv.gz")) {
            return "csv";
        }
        if (p.endsWith(".json") || p.endsWith(".jsonl") || p.endsWith(".json.gz")) {
            return "json";
        }
        return "parquet";
    }

    /** Runs the job; returns its summary. */
    public static Summary run(SparkSession spark, Options o, Consumer<String> log) {
        long start = System.nanoTime();
        refuseExistingOutput(spark, o);
        Dataset<Row> in = read(spark, o.input(), o.format());
        List<String> columns = Arrays.asList(in.columns());
        if (!columns.contains(o.idCol())) {
            throw new IllegalArgumentException("the input has no id column '" + o.idCol() + "' (columns: "
                    + columns + "); name one with --id-col");
        }
        if (o.partitions() > 0) {
            in = in.repartition(o.partitions());
        }
        String features = o.featuresCol();
        if (o.textCol() != null) {
            in = new LetterFrequencies().setInputCol(o.textCol()).setOutputCol(features).transform(in);
        } else if (features.contains(",")) {
            in = assemble(in, features, columns);
            features = "features";
        }
        long total = in.count();
        log.accept(String.format(Locale.ROOT, "input %s: %,d rows in %d partitions; scoring %s", o.input(), total,
                in.rdd().getNumPartitions(), o.endpoints() != null ? "through " + o.endpoints()
                        : "in-process with " + o.modelFile()));

        LongAccumulator scored = spark.sparkContext().longAccumulator("scoreflow.rows");
        ModelScorer scorer = new ModelScorer().setFeaturesCol(features).setBatchRows(o.batchRows())
                .setMaxInFlight(o.maxInFlight()).setProgress(scored);
        if (o.endpoints() != null) {
            scorer.setEndpoints(o.endpoints()).setProtocol(o.protocol());
            if (o.trustCertificates() != null) {
                scorer.setTrustCertificates(o.trustCertificates());
            }
            if (o.serverModel() != null) {
                scorer.setServerModel(o.serverModel());
            }
            if (o.authTokenFile() != null) {
                scorer.setAuthTokenFile(o.authTokenFile());
            }
            if (o.authTokenEnv() != null) {
                scorer.setAuthTokenEnv(o.authTokenEnv());
            }
        } else {
            scorer.setModelPath(o.modelFile());
        }
        if (o.threshold() != null) {
            scorer.setThreshold(o.threshold());
        }
        if (o.errorColumn()) {
            scorer.setErrorCol("error");
        }
        List<Column> out = new ArrayList<>(List.of(functions.col(o.idCol()), functions.col("score")));
        if (o.threshold() != null) {
            out.add(functions.col("prediction"));
        }
        if (o.errorColumn()) {
            out.add(functions.col("error"));
        }
        ProgressListener progress = new ProgressListener(scored);
        spark.sparkContext().addSparkListener(progress);
        Thread reporter = ProgressListener.reporter(progress, total, 2000, System::nanoTime, log);
        reporter.start();
        try {
            scorer.transform(in).select(out.toArray(new Column[0])).write()
                    .mode(o.overwrite() ? SaveMode.Overwrite : SaveMode.ErrorIfExists).parquet(o.output());
        } finally {
            reporter.interrupt();
            spark.sparkContext().removeSparkListener(progress);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Dataset<Row> written = spark.read().parquet(o.output());
        Row counts = written.agg(functions.count(functions.lit(1)),
                o.errorColumn() ? functions.count(functions.col("error")) : functions.lit(0L),
                o.threshold() != null ? functions.sum(functions.col("prediction")) : functions.lit(-1L)).first();
        long positives = counts.isNullAt(2) ? 0 : ((Number) counts.get(2)).longValue();
        return new Summary(total, counts.getLong(0), ((Number) counts.get(1)).longValue(), positives, seconds);
    }

    /** Fails before any work when the output exists and may not be replaced (Spark would fail after scoring). */
    private static void refuseExistingOutput(SparkSession spark, Options o) {
        if (o.overwrite()) {
            return;
        }
        try {
            org.apache.hadoop.fs.Path out = new org.apache.hadoop.fs.Path(o.output());
            if (out.getFileSystem(spark.sparkContext().hadoopConfiguration()).exists(out)) {
                throw new IllegalArgumentException("the output " + o.output() + " exists; pass --overwrite to "
                        + "replace it");
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot check the output " + o.output() + ": " + e.getMessage(), e);
        }
    }

    /** Builds an array&lt;float&gt; column from numeric columns named in a comma-separated list. */
    private static Dataset<Row> assemble(Dataset<Row> in, String names, List<String> columns) {
        List<Column> cols = new ArrayList<>();
        for (String n : names.split(",")) {
            String c = n.strip();
            if (!columns.contains(c)) {
                throw new IllegalArgumentException("feature column '" + c + "' is not in the input (columns: "
                        + columns + ")");
            }
            cols.add(functions.col(c).cast(DataTypes.FloatType));
        }
        if (columns.contains("features")) {
            throw new IllegalArgumentException("the input already has a 'features' column; name it with"
                    + " --features-col instead of listing columns");
        }
        return in.withColumn("features", functions.array(cols.toArray(new Column[0])));
    }
}
