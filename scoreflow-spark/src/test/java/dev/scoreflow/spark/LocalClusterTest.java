package dev.scoreflow.spark;

import dev.scoreflow.client.ScoringClients;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.server.ScoringServer;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/**
 * Real executor JVMs ({@code local-cluster[2,1,1024]}): everything the stages ship serializes, and each executor
 * creates one client and loads the model once, however many partitions it scores.
 */
@Tag("slow")
class LocalClusterTest {
    private static SparkSession spark;
    private static ScoringServer server;
    private static final int N = 30_000;
    private static float[] flat;
    private static float[] expected;

    @BeforeAll
    static void start() throws Exception {
        spark = SparkFixtures.localCluster(2).getOrCreate();
        server = SparkFixtures.server();
        flat = TestModels.noisyRows(SparkFixtures.EXAMPLE, N, SparkFixtures.FEATURES, 11);
        expected = TestModels.inProcessScores(SparkFixtures.EXAMPLE, flat, SparkFixtures.FEATURES);
    }

    @AfterAll
    static void stop() {
        server.shutdown(Duration.ofSeconds(5));
        spark.stop();
    }

    private static void assertScoredOnceAsInProcess(Dataset<Row> out) {
        List<Row> rows = out.select("id", "score").collectAsList();
        assertThat(rows).hasSize(N);
        Set<Long> ids = new HashSet<>();
        for (Row r : rows) {
            long id = r.getLong(0);
            assertThat(ids.add(id)).isTrue();
            assertThat(r.getFloat(1)).isCloseTo(expected[(int) id], offset(TestModels.tolerance(expected[(int) id])));
        }
    }

    /** Per executor JVM: pid -> [shared clients created, model loads, partitions scored]. */
    private static Map<Long, long[]> executorCounters() {
        MapPartitionsFunction<Long, String> probe = it -> List.of(ProcessHandle.current().pid() + ","
                + ScoringClients.created() + "," + ExecutorModels.loads() + "," + PartitionScorer.PARTITIONS.get())
                .iterator();
        Map<Long, long[]> out = new HashMap<>();
        for (String s : spark.range(0, 40, 1, 40).as(Encoders.LONG()).mapPartitions(probe, Encoders.STRING())
                .collectAsList()) {
            String[] p = s.split(",");
            out.put(Long.parseLong(p[0]), new long[]{Long.parseLong(p[1]), Long.parseLong(p[2]),
                    Long.parseLong(p[3])});
        }
        return out;
    }

    @Test
    void remoteAndInProcessScoringRunOnRealExecutorsWithOneClientAndOneModelEach() {
        Dataset<Row> in = SparkFixtures.rows(spark, flat, 8).cache();
        assertScoredOnceAsInProcess(new ModelScorer().setEndpoints(server.uri().toString()).setBatchRows(400)
                .transform(in));
        assertScoredOnceAsInProcess(new ModelScorer().setModelPath(SparkFixtures.EXAMPLE.toString())
                .transform(in));
        Map<Long, long[]> counters = executorCounters();
        assertThat(counters).hasSize(2).doesNotContainKey(ProcessHandle.current().pid());
        long partitions = 0;
        for (long[] c : counters.values()) {
            if (c[2] > 0) {
                assertThat(c[0]).as("clients created in one executor").isEqualTo(1);
                assertThat(c[1]).as("model loads in one executor").isEqualTo(1);
            }
            partitions += c[2];
        }
        assertThat(partitions).isEqualTo(16); // 8 remote + 8 in-process, each executor reusing its client/model
    }
}
