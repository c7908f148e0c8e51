package dev.scoreflow.benchmarks;

import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.spark.job.BatchCommand;
import dev.scoreflow.spark.ModelScorer;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Spark {@code local[2]} scoring of N rows x F features, side by side in one JVM and one run:
 * <ul>
 *   <li>{@code client}: {@link ModelScorer} remote mode, the back-pressured client;</li>
 *   <li>{@code naive}: the article's naive client, one blocking JDK HttpClient request per batch inside
 *       mapPartitions;</li>
 *   <li>{@code inprocess}: {@link ModelScorer} in-process mode (ONNX Runtime in the executor).</li>
 * </ul>
 * The input is generated and cached in memory first, and the output goes to an aggregate (count and sum of scores,
 * which must agree between modes), so the numbers measure scoring, not Parquet. Prints one {@code RESULT} line per
 * mode with the best and median of {@code runs} timed runs after one warm-up run, and the CPU time per row that each
 * part spent over those runs ({@link CpuAccount}; other processes named by {@code -Dbench.pids=server=PID,...}).
 *
 * <p>Usage: {@code SparkBench ENDPOINT MODEL_FILE ROWS FEATURES BATCH_ROWS MAX_IN_FLIGHT RUNS MODES...}
 */
public final class SparkBench {
    private SparkBench() {
    }

    public static void main(String[] args) {
        String endpoint = args[0];
        String model = args[1];
        long rows = Long.parseLong(args[2]);
        int features = Integer.parseInt(args[3]);
        int batchRows = Integer.parseInt(args[4]);
        int inFlight = Integer.parseInt(args[5]);
        int runs = Integer.parseInt(args[6]);
        List<String> modes = Arrays.asList(args).subList(7, args.length);

        CpuAccount cpu = CpuAccount.of(System.getProperty("bench.pids"));
        SparkSession spark = BatchCommand.session("local[2]", "scoreflow-spark-bench");
        StructType schema = new StructType().add("id", DataTypes.LongType)
                .add("features", DataTypes.createArrayType(DataTypes.FloatType, false));
        MapPartitionsFunction<Long, Row> gen = ids -> new Iterator<>() {
            @Override
            public boolean hasNext() {
                return ids.hasNext();
            }

            @Override
            public Row next() {
                long id = ids.next();
                java.util.SplittableRandom r = new java.util.SplittableRandom(id);
                float[] f = new float[features];
                for (int i = 0; i < features; i++) {
                    f[i] = (float) r.nextGaussian();
                }
                return RowFactory.create(id, f);
            }
        };
        Dataset<Row> input = spark.range(0, rows, 1, 4).as(Encoders.LONG()).mapPartitions(gen, Encoders.row(schema))
                .cache();
        long t0 = System.nanoTime();
        System.out.printf(Locale.ROOT, "input: %,d rows x %d features cached in %.1f s%n", input.count(), features,
                (System.nanoTime() - t0) / 1e9);

        for (String mode : modes) {
            Dataset<Row> scored = switch (mode) {
                case "client" -> new ModelScorer().setEndpoints(endpoint).setBatchRows(batchRows)
                        .setMaxInFlight(inFlight).transform(input);
                case "naive" -> input.mapPartitions(new NaiveScorer(endpoint, batchRows, features),
                        Encoders.row(schema.add("score", DataTypes.FloatType)));
                case "rows" -> input.mapPartitions((MapPartitionsFunction<Row, Row>) it -> new Iterator<>() {
                    @Override
                    public boolean hasNext() {
                        return it.hasNext();
                    }

                    @Override
                    public Row next() { // what every mode pays: the row read, its features touched, a row out
                        Row r = it.next();
                        Object f = r.get(1);
                        return RowFactory.create(r.get(0), f, f == null ? 0f : 0.5f);
                    }
                }, Encoders.row(schema.add("score", DataTypes.FloatType)));
                case "inprocess" -> new ModelScorer().setModelPath(model).setBatchRows(batchRows).transform(input);
                default -> throw new IllegalArgumentException("unknown mode " + mode);
            };
            List<Double> rates = new ArrayList<>();
            String check = "";
            java.util.Map<String, Long> cpuBefore = null;
            double timedSeconds = 0;
            for (int run = 0; run <= runs; run++) {
                if (run == 1) { // after the warm-up
                    cpuBefore = cpu.snapshot();
                }
                long start = System.nanoTime();
                Row agg = scored.agg(functions.count(functions.lit(1)), functions.sum("score")).first();
                double seconds = (System.nanoTime() - start) / 1e9;
                if (agg.getLong(0) != rows) {
                    throw new IllegalStateException(mode + ": " + agg.getLong(0) + " rows out of " + rows);
                }
                check = String.format(Locale.ROOT, "%.3f", agg.getDouble(1));
                if (run > 0) { // run 0 warms up
                    rates.add(rows / seconds);
                    timedSeconds += seconds;
                }
                System.out.printf(Locale.ROOT, "  %s run %d: %.2f s, %,.0f rows/s%n", mode, run, seconds,
                        rows / seconds);
            }
            String cpuPerRow = CpuAccount.perRow(cpuBefore, cpu.snapshot(), rows * runs)
                    + String.format(Locale.ROOT, " cores_us_per_row=%.3f", // the CPU the machine had per row
                    timedSeconds * 1e6 * Runtime.getRuntime().availableProcessors() / (rows * runs));
            rates.sort(null);
            dev.scoreflow.client.ScoringClients.metrics().values().forEach(m -> System.out.println("  client: " + m));
            System.out.printf(Locale.ROOT, "RESULT mode=%s rows=%d features=%d batch=%d inflight=%d best=%.0f "
                            + "median=%.0f sum_of_scores=%s%s%n", mode, rows, features, batchRows, inFlight,
                    rates.get(rates.size() - 1), rates.get(rates.size() / 2), check, cpuPerRow);
        }
        spark.stop();
    }

    /** The article's naive client: one synchronous request per batch, the task waits for each answer. */
    static final class NaiveScorer implements MapPartitionsFunction<Row, Row> {
        private static final long serialVersionUID = 1L;
        private static HttpClient client;
        private final String endpoint;
        private final int batchRows;
        private final int features;

        NaiveScorer(String endpoint, int batchRows, int features) {
            this.endpoint = endpoint;
            this.batchRows = batchRows;
            this.features = features;
        }

        private static synchronized HttpClient client() {
            if (client == null) {
                client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            }
            return client;
        }

        @Override
        public Iterator<Row> call(Iterator<Row> in) {
            return new Iterator<>() {
                private final List<Row> batch = new ArrayList<>(batchRows);
                private float[] scores = new float[0];
                private int at;

                @Override
                public boolean hasNext() {
                    if (at < batch.size()) {
                        return true;
                    }
                    if (!in.hasNext()) {
                        return false;
                    }
                    batch.clear();
                    at = 0;
                    while (batch.size() < batchRows && in.hasNext()) {
                        batch.add(in.next());
                    }
                    scores = send(batch); // the task thread waits for every answer
                    return true;
                }

                @Override
                public Row next() {
                    if (!hasNext()) {
                        throw new java.util.NoSuchElementException();
                    }
                    Row r = batch.get(at);
                    return RowFactory.create(r.get(0), r.get(1), scores[at++]);
                }
            };
        }

        private float[] send(List<Row> batch) {
            ByteBuffer body = ByteBuffer.allocate(batch.size() * features * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (Row r : batch) {
                for (Object v : r.getList(1)) {
                    body.putFloat((Float) v);
                }
            }
            try {
                HttpResponse<byte[]> resp = client().send(HttpRequest.newBuilder(URI.create(endpoint + "/score"))
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(body.array())).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                if (resp.statusCode() != 200) {
                    throw new IllegalStateException("HTTP " + resp.statusCode());
                }
                return SeedBinaryCodec.decodeScores(ByteBuffer.wrap(resp.body()));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }
}
