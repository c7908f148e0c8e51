package dev.scoreflow.spark;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import dev.scoreflow.client.ClientMetrics;
import dev.scoreflow.client.ScoringClients;
import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.PluginContext;
import org.apache.spark.api.plugin.SparkPlugin;

import java.util.Map;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * The scoring client's metrics in Spark's metrics system: with {@code --conf
 * spark.plugins=dev.scoreflow.spark.ClientMetricsPlugin}, every executor registers gauges over the shared clients of
 * its JVM (the ones {@link ModelScorer}'s remote mode uses), summed over their configurations: rows, requests,
 * attempts, retries, failures, refusals by the circuit breaker and by the full waiting queue, ejected nodes,
 * reconnects, requests in flight, and the mean request latency. They appear under the source
 * {@code plugin.dev.scoreflow.spark.ClientMetricsPlugin} in whatever sinks the application configures (JMX,
 * Prometheus servlet, CSV...).
 */
public final class ClientMetricsPlugin implements SparkPlugin {

    @Override
    public DriverPlugin driverPlugin() {
        return null; // the clients live in the executors (in local mode, the driver's JVM is the executor's)
    }

    @Override
    public ExecutorPlugin executorPlugin() {
        return new ExecutorPlugin() {
            @Override
            public void init(PluginContext ctx, Map<String, String> extraConf) {
                register(ctx.metricRegistry());
            }
        };
    }

    /** The gauges, into {@code registry}: each reads the clients' counters when a sink polls. */
    static void register(MetricRegistry registry) {
        count(registry, "rows", ClientMetrics::rows);
        count(registry, "requests", ClientMetrics::requests);
        count(registry, "attempts", ClientMetrics::attempts);
        count(registry, "retries", ClientMetrics::retries);
        count(registry, "failures", ClientMetrics::failures);
        count(registry, "refusedByCircuit", ClientMetrics::refusedByCircuit);
        count(registry, "refusedQueueFull", ClientMetrics::refusedQueueFull);
        count(registry, "ejections", ClientMetrics::ejections);
        count(registry, "reconnects", ClientMetrics::reconnects);
        count(registry, "inFlight", ClientMetrics::inFlight);
        registry.register("meanLatencyMillis", (Gauge<Double>) () -> mean(ClientMetrics::meanLatencyMillis));
    }

    private static void count(MetricRegistry registry, String name, ToLongFunction<ClientMetrics> value) {
        registry.register(name, (Gauge<Long>) () -> {
            long sum = 0;
            for (ClientMetrics m : ScoringClients.metrics().values()) {
                sum += value.applyAsLong(m);
            }
            return sum;
        });
    }

    /** The request-weighted mean over the clients (a client that sent nothing does not count). */
    private static double mean(ToDoubleFunction<ClientMetrics> value) {
        double weighted = 0;
        long requests = 0;
        for (ClientMetrics m : ScoringClients.metrics().values()) {
            long n = m.requests();
            if (n > 0) {
                weighted += value.applyAsDouble(m) * n;
                requests += n;
            }
        }
        return requests == 0 ? 0 : weighted / requests;
    }
}
