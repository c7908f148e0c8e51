package dev.scoreflow.spark;

import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.runtime.ThreadBudget;
import dev.scoreflow.server.ScoringServer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Spark sessions, servers and data for the Spark tests. */
public final class SparkFixtures {
    static final Path EXAMPLE = TestModels.example();
    static final int FEATURES = 26;

    private SparkFixtures() {
    }

    static SparkSession.Builder session(String master) {
        return SparkSession.builder().master(master).appName("scoreflow-test")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "4");
    }

    /**
     * A {@code local-cluster[workers,1,1024]} session: real executor JVMs. Their class path is the test's, given as
     * the Spark home's {@code jars/*} (symbolic links) plus the class directories, because a class path spelled out
     * jar by jar makes a command line ONNX Runtime cannot live with (see the runtime's CommandLineGuard).
     */
    static SparkSession.Builder localCluster(int workers) throws java.io.IOException {
        Path jars = Path.of(System.getenv("SPARK_HOME"), "jars");
        java.nio.file.Files.createDirectories(jars);
        try (var old = java.nio.file.Files.list(jars)) { // links from an earlier build may point at stale jars
            for (Path p : old.toList()) {
                java.nio.file.Files.delete(p);
            }
        }
        StringBuilder dirs = new StringBuilder();
        for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path p = Path.of(e);
            if (e.endsWith(".jar")) {
                Path link = jars.resolve(p.getParent().getFileName() + "-" + p.getFileName());
                java.nio.file.Files.createSymbolicLink(link, p.toAbsolutePath());
            } else {
                dirs.append(dirs.length() == 0 ? "" : java.io.File.pathSeparator).append(e);
            }
        }
        return session("local-cluster[" + workers + ",1,1024]")
                .config("spark.executor.extraClassPath", dirs.toString())
                .config("spark.executor.extraJavaOptions", "--enable-native-access=ALL-UNNAMED");
    }

    public static ScoringServer server() {
        return server(b -> b);
    }

    /** The example model's server, with {@code custom} applied to its builder (a bearer token, say). */
    static ScoringServer server(java.util.function.UnaryOperator<ScoringServer.Builder> custom) {
        ModelRepository repo = ModelRepository.builder().threads(new ThreadBudget(2, 1))
                .model("example", EXAMPLE).build();
        return custom.apply(ScoringServer.builder(repo).port(0).host("127.0.0.1")).start();
    }

    static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.LongType, false)
            .add("features", DataTypes.createArrayType(DataTypes.FloatType, false), true);

    /** {@code n} rows of the example model's features with ids 0..n-1, in {@code partitions} partitions. */
    static Dataset<Row> rows(SparkSession spark, float[] flat, int partitions) {
        int n = flat.length / FEATURES;
        List<Row> rows = new ArrayList<>(n);
        for (int r = 0; r < n; r++) {
            Float[] f = new Float[FEATURES];
            for (int c = 0; c < FEATURES; c++) {
                f[c] = flat[r * FEATURES + c];
            }
            rows.add(RowFactory.create((long) r, f));
        }
        return spark.createDataFrame(rows, SCHEMA).repartition(partitions);
    }

    /** {@code n} rows of (id, text): seeded random lowercase words per id, for the letter-frequency featurizer. */
    static Dataset<Row> texts(SparkSession spark, long n, int partitions, long seed) {
        StructType schema = new StructType().add("id", DataTypes.LongType, false)
                .add("text", DataTypes.StringType, false);
        org.apache.spark.api.java.function.MapFunction<Long, Row> text = id -> {
            java.util.SplittableRandom random = new java.util.SplittableRandom(seed * 0x9E3779B97F4A7C15L + id);
            StringBuilder t = new StringBuilder();
            for (int w = 3 + random.nextInt(12); w > 0; w--) {
                for (int c = 1 + random.nextInt(8); c > 0; c--) {
                    t.append((char) ('a' + random.nextInt(26)));
                }
                t.append(' ');
            }
            return RowFactory.create(id, t.toString().strip());
        };
        return spark.range(0, n, 1, partitions).as(org.apache.spark.sql.Encoders.LONG())
                .map(text, org.apache.spark.sql.Encoders.row(schema));
    }
}
