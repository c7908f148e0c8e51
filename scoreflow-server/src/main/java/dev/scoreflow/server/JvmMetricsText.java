package dev.scoreflow.server;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The JVM's own metrics, as the Prometheus Java client instruments them (the {@code jvm_} families: heap and
 * non-heap memory pools, buffer pools with the direct memory Netty holds, GC pauses, threads, classes, process CPU),
 * rendered after Scoreflow's on {@code /metrics}. One registry per JVM: the JVM is one, however many servers run in it.
 */
final class JvmMetricsText {
    private static final PrometheusRegistry REGISTRY = new PrometheusRegistry();
    private static final PrometheusTextFormatWriter WRITER = PrometheusTextFormatWriter.create();

    static {
        JvmMetrics.builder().register(REGISTRY);
    }

    private JvmMetricsText() {
    }

    static String render() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
        try {
            WRITER.write(out, REGISTRY.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot render the JVM metrics", e); // a memory stream does not fail
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
