package dev.scoreflow.spark;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.server.ScoringServer;
import org.apache.spark.SparkEnv;
import org.apache.spark.metrics.source.Source;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The client's metrics reach Spark's metrics system through the plugin, on real Spark (local[2]). */
class ClientMetricsPluginTest {

    @Test
    void theClientsRowsAndRequestsAreGaugesOfTheExecutorsMetricsSystem() {
        ScoringServer server = SparkFixtures.server();
        SparkSession spark = SparkFixtures.session("local[2]")
                .config("spark.plugins", ClientMetricsPlugin.class.getName()).getOrCreate();
        try {
            MetricRegistry registry = source(spark).metricRegistry();
            // this JVM's shared clients include earlier test classes' (one killed a server): compare differences
            long rowsBefore = gauge(registry, "rows");
            long requestsBefore = gauge(registry, "requests");
            long failuresBefore = gauge(registry, "failures");
            int n = 2_000;
            float[] flat = TestModels.noisyRows(SparkFixtures.EXAMPLE, n, SparkFixtures.FEATURES, 11);
            long scored = new ModelScorer().setEndpoints(server.uri().toString()).setBatchRows(250)
                    .transform(SparkFixtures.rows(spark, flat, 4)).count();
            assertThat(scored).isEqualTo(n);
            // read the way a sink reads them: each poll sums this JVM's shared clients
            assertThat(gauge(registry, "rows") - rowsBefore).isEqualTo(n);
            assertThat(gauge(registry, "requests") - requestsBefore).isGreaterThanOrEqualTo(n / 250);
            assertThat(gauge(registry, "failures") - failuresBefore).isZero();
            assertThat((Double) registry.getGauges().get("meanLatencyMillis").getValue()).isPositive();
        } finally {
            spark.stop();
            server.close();
        }
    }

    /** The executor plugin's source: in local mode the executor shares the driver's SparkEnv. */
    private static Source source(SparkSession spark) {
        var sources = SparkEnv.get().metricsSystem().getSourcesByName("plugin." + ClientMetricsPlugin.class.getName());
        assertThat(sources.isEmpty()).as("the plugin's source is registered").isFalse();
        return sources.head();
    }

    private static long gauge(MetricRegistry registry, String name) {
        Gauge<?> g = registry.getGauges().get(name);
        assertThat(g).as("gauge %s", name).isNotNull();
        return (Long) g.getValue();
    }
}
