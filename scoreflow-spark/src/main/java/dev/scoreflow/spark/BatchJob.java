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
     * What to run, made with {@link #builder(String, String)}: each setting below is an accessor and a builder
     * method of the same name (defaults: protocol seed, featuresCol features, idCol id, batchRows 1000, maxInFlight
     * 8, partitions 0, everything else unset or false).
     *
     * <br>{@code input}: input path
     * <br>{@code format}: parquet, csv or json; null guesses from the extension (parquet for a directory)
     * <br>{@code output}: output directory (Parquet)
     * <br>{@code modelFile}: in-process: the ONNX file (exclusive with endpoints)
     * <br>{@code endpoints}: remote: comma-separated server URLs
     * <br>{@code serverModel}: remote: model name on the servers, or null for the default model
     * <br>{@code protocol}: remote: seed or v2
     * <br>{@code featuresCol}: an array/vector column, or a comma-separated list of numeric columns to assemble
     * <br>{@code textCol}: if set, features are the letter frequencies of this text column
     * <br>{@code idCol}: the column that identifies rows in the output
     * <br>{@code threshold}: null, or the threshold of a {@code prediction} column
     * <br>{@code errorColumn}: per-row errors into an {@code error} column instead of failing the job
     * <br>{@code batchRows}: rows per request
     * <br>{@code maxInFlight}: requests in flight per partition
     * <br>{@code partitions}: 0 keeps the input's partitions; else repartition to this many first
     * <br>{@code overwrite}: replace an existing output
     * <br>{@code trustCertificates}: remote over https: PEM file of certificates to trust, or null
     * <br>{@code authTokenFile}: remote: file whose first line is the servers' bearer token, or null
     * <br>{@code authTokenEnv}: remote: environment variable holding the servers' bearer token, or null
     */
    public static final class Options {
        private final String input;
        private final String format;
        private final String output;
        private final String modelFile;
        private final String endpoints;
        private final String serverModel;
        private final String protocol;
        private final String featuresCol;
        private final String textCol;
        private final String idCol;
        private final Double threshold;
        private final boolean errorColumn;
        private final int batchRows;
        private final int maxInFlight;
        private final int partitions;
        private final boolean overwrite;
        private final String trustCertificates;
        private final String authTokenFile;
        private final String authTokenEnv;

        private Options(Builder b) {
            this.input = b.input;
            this.format = b.format;
            this.output = b.output;
            this.modelFile = b.modelFile;
            this.endpoints = b.endpoints;
            this.serverModel = b.serverModel;
            this.protocol = b.protocol;
            this.featuresCol = b.featuresCol;
            this.textCol = b.textCol;
            this.idCol = b.idCol;
            this.threshold = b.threshold;
            this.errorColumn = b.errorColumn;
            this.batchRows = b.batchRows;
            this.maxInFlight = b.maxInFlight;
            this.partitions = b.partitions;
            this.overwrite = b.overwrite;
            this.trustCertificates = b.trustCertificates;
            this.authTokenFile = b.authTokenFile;
            this.authTokenEnv = b.authTokenEnv;
        }

        /** A builder for reading {@code input} and writing {@code output}. */
        public static Builder builder(String input, String output) {
            return new Builder(input, output);
        }

        public String input() {
            return input;
        }

        public String format() {
            return format;
        }

        public String output() {
            return output;
        }

        public String modelFile() {
            return modelFile;
        }

        public String endpoints() {
            return endpoints;
        }

        public String serverModel() {
            return serverModel;
        }

        public String protocol() {
            return protocol;
        }

        public String featuresCol() {
            return featuresCol;
        }

        public String textCol() {
            return textCol;
        }

        public String idCol() {
            return idCol;
        }

        public Double threshold() {
            return threshold;
        }

        public boolean errorColumn() {
            return errorColumn;
        }

        public int batchRows() {
            return batchRows;
        }

        public int maxInFlight() {
            return maxInFlight;
        }

        public int partitions() {
            return partitions;
        }

        public boolean overwrite() {
            return overwrite;
        }

        public String trustCertificates() {
            return trustCertificates;
        }

        public String authTokenFile() {
            return authTokenFile;
        }

        public String authTokenEnv() {
            return authTokenEnv;
        }

        @Override
        public String toString() {
            return "Options[" + "input=" + input + ", " + "format=" + format + ", " + "output=" + output + ", " + "modelFile=" + modelFile + ", " + "endpoints=" + endpoints + ", " + "serverModel=" + serverModel + ", " + "protocol=" + protocol + ", " + "featuresCol=" + featuresCol + ", " + "textCol=" + textCol + ", " + "idCol=" + idCol + ", " + "threshold=" + threshold + ", " + "errorColumn=" + errorColumn + ", " + "batchRows=" + batchRows + ", " + "maxInFlight=" + maxInFlight + ", " + "partitions=" + partitions + ", " + "overwrite=" + overwrite + ", " + "trustCertificates=" + trustCertificates + ", " + "authTokenFile=" + authTokenFile + ", " + "authTokenEnv=" + authTokenEnv + "]";
        }

        /** Settings for {@link Options}. */
        public static final class Builder {
            private final String input;
            private final String output;
            private String format;
            private String modelFile;
            private String endpoints;
            private String serverModel;
            private String protocol = "seed";
            private String featuresCol = "features";
            private String textCol;
            private String idCol = "id";
            private Double threshold;
            private boolean errorColumn;
            private int batchRows = 1000;
            private int maxInFlight = 8;
            private int partitions;
            private boolean overwrite;
            private String trustCertificates;
            private String authTokenFile;
            private String authTokenEnv;

            private Builder(String input, String output) {
                this.input = java.util.Objects.requireNonNull(input, "input");
                this.output = java.util.Objects.requireNonNull(output, "output");
            }

            public Builder format(String format) {
                this.format = format;
                return this;
            }

            public Builder modelFile(String modelFile) {
                this.modelFile = modelFile;
                return this;
            }

            public Builder endpoints(String endpoints) {
                this.endpoints = endpoints;
                return this;
            }

            public Builder serverModel(String serverModel) {
                this.serverModel = serverModel;
                return this;
            }

            public Builder protocol(String protocol) {
                this.protocol = protocol;
                return this;
            }

            public Builder featuresCol(String featuresCol) {
                this.featuresCol = featuresCol;
                return this;
            }

            public Builder textCol(String textCol) {
                this.textCol = textCol;
                return this;
            }

            public Builder idCol(String idCol) {
                this.idCol = idCol;
                return this;
            }

            public Builder threshold(Double threshold) {
                this.threshold = threshold;
                return this;
            }

            public Builder errorColumn(boolean errorColumn) {
                this.errorColumn = errorColumn;
                return this;
            }

            public Builder batchRows(int batchRows) {
                this.batchRows = batchRows;
                return this;
            }

            public Builder maxInFlight(int maxInFlight) {
                this.maxInFlight = maxInFlight;
                return this;
            }

            public Builder partitions(int partitions) {
                this.partitions = partitions;
                return this;
            }

            public Builder overwrite(boolean overwrite) {
                this.overwrite = overwrite;
                return this;
            }

            public Builder trustCertificates(String trustCertificates) {
                this.trustCertificates = trustCertificates;
                return this;
            }

            public Builder authTokenFile(String authTokenFile) {
                this.authTokenFile = authTokenFile;
                return this;
            }

            public Builder authTokenEnv(String authTokenEnv) {
                this.authTokenEnv = authTokenEnv;
                return this;
            }

            public Options build() {
                return new Options(this);
            }
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
