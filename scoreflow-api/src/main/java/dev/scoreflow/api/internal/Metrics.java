package dev.scoreflow.api.internal;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import java.util.function.Predicate;

/**
 * Scoreflow's metric families in a registry of the Prometheus Java client: labelled counters, histograms with
 * classic buckets, gauges read when scraped, and with {@link #withJvm} the JVM's own families; {@link #render} writes
 * them all with the client's Prometheus text writer. Thread-safe. Recording costs an adder increment on a labelled
 * child that the caller keeps ({@link Counter#labels}, {@link Histogram#labels}), or a map lookup when the label
 * values are given at each call. Not part of the API: the server's and the stream app's {@code /metrics}.
 *
 * <p>The client decides the text: samples of a family are sorted by label values, label pairs by label name, values
 * are written as Java doubles ({@code 1.0}, {@code 1.2345678E7}), and a family with no sample (a gauge that has
 * nothing to report yet) is left out, header and all. A counter or histogram without labels has its one sample from
 * the start, at 0.
 */
public final class Metrics {
    /** The content type of {@link #render}'s text. */
    public static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;
    private static final PrometheusTextFormatWriter WRITER = PrometheusTextFormatWriter.create();

    private final PrometheusRegistry registry = new PrometheusRegistry();
    /** The families by the name they were asked for, so that asking again returns the same one. */
    private final Map<String, Object> families = new ConcurrentHashMap<>();

    /** An empty registry. */
    public Metrics() {
    }

    /**
     * A registry that also serves the JVM's families as the client instruments them ({@code jvm_} memory pools,
     * buffer pools with the direct memory Netty holds, GC, threads, classes; {@code process_} CPU and memory). Those
     * are read from one JVM-wide collection, whatever the number of registries.
     */
    public static Metrics withJvm() {
        Metrics m = new Metrics();
        m.registry.register(Jvm.COLLECTOR);
        return m;
    }

    /**
     * The counter family {@code name} (the same one if asked for again); {@code labels} are the label names. The
     * name ends in {@code _total}, as the client writes its samples so.
     */
    public Counter counter(String name, String help, String... labels) {
        return family(name, Counter.class, () -> new Counter(io.prometheus.metrics.core.metrics.Counter.builder()
                .name(name).help(help).labelNames(labels).withoutExemplars().register(registry), name, labels));
    }

    /** The histogram family {@code name} with the given upper bucket bounds (ascending; +Inf is added). */
    public Histogram histogram(String name, String help, double[] buckets, String... labels) {
        return family(name, Histogram.class, () -> new Histogram(io.prometheus.metrics.core.metrics.Histogram
                .builder().name(name).help(help).labelNames(labels).classicUpperBounds(buckets).classicOnly()
                .withoutExemplars().register(registry)));
    }

    /** A gauge without labels, read when scraped; NaN leaves the sample out (unknown is not zero). */
    public void gauge(String name, String help, DoubleSupplier value) {
        gauge(name, help, new String[0], sample -> {
            double v = value.getAsDouble();
            if (!Double.isNaN(v)) {
                sample.call(v);
            }
        });
    }

    /**
     * A gauge family computed when scraped: {@code samples} calls {@code call(value, labelValues...)} once per label
     * set, the values in the order of {@code labels}. Asking again for the same name replaces the earlier callback
     * (a gauge reads the state of whoever registered it last).
     */
    public void gauge(String name, String help, String[] labels, Consumer<GaugeWithCallback.Callback> samples) {
        families.compute(name, (n, old) -> {
            if (old instanceof GaugeWithCallback g) {
                registry.unregister(g);
            } else if (old != null) {
                throw new IllegalArgumentException(name + " is already a " + old.getClass().getSimpleName());
            }
            return GaugeWithCallback.builder().name(name).help(help).labelNames(labels).callback(samples)
                    .register(registry);
        });
    }

    /** Everything in the Prometheus text format ({@link #CONTENT_TYPE}), families sorted by name. */
    public String render() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
        try {
            WRITER.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot render the metrics", e); // a memory stream does not fail
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private <F> F family(String name, Class<F> type, java.util.function.Supplier<F> create) {
        Object f = families.computeIfAbsent(name, n -> create.get());
        if (!type.isInstance(f)) {
            throw new IllegalArgumentException(name + " is already a " + f.getClass().getSimpleName() + ", not a "
                    + type.getSimpleName());
        }
        return type.cast(f);
    }

    /** A monotonically increasing count per label set. */
    public static final class Counter {
        private final io.prometheus.metrics.core.metrics.Counter counter;
        private final String name;
        private final String[] labelNames;

        Counter(io.prometheus.metrics.core.metrics.Counter counter, String name, String[] labelNames) {
            this.counter = counter;
            this.name = name;
            this.labelNames = labelNames.clone();
        }

        /** The child for one label set (created at 0 and shown from now on): keep it where the set is fixed. */
        public CounterDataPoint labels(String... labelValues) {
            return counter.labelValues(labelValues);
        }

        /** Adds to the counter of a family without labels. */
        public void inc(long by) {
            counter.inc(by);
        }

        /** Adds to the count of one label set (a map lookup per call). */
        public void inc(long by, String... labelValues) {
            counter.labelValues(labelValues).inc(by);
        }

        /** The count of one label set; 0, and not created, if it has none yet. */
        public long value(String... labelValues) {
            if (labelValues.length != labelNames.length) {
                throw new IllegalArgumentException(name + " takes labels "
                        + Arrays.toString(labelNames) + ", was given " + Arrays.toString(labelValues));
            }
            if (labelValues.length == 0) {
                return counter.getLongValue();
            }
            long total = 0;
            for (CounterSnapshot.CounterDataPointSnapshot p : counter.collect().getDataPoints()) {
                if (values(p.getLabels()).equals(Arrays.asList(labelValues))) {
                    total += (long) p.getValue();
                }
            }
            return total;
        }

        /** The total over the label sets that {@code which} accepts (label values in declared order). */
        public long sum(Predicate<List<String>> which) {
            long total = 0;
            for (CounterSnapshot.CounterDataPointSnapshot p : counter.collect().getDataPoints()) {
                if (which.test(values(p.getLabels()))) {
                    total += (long) p.getValue();
                }
            }
            return total;
        }

        private List<String> values(Labels labels) {
            List<String> values = new ArrayList<>(labelNames.length);
            for (String name : labelNames) {
                values.add(labels.get(name));
            }
            return values;
        }
    }

    /** Cumulative classic buckets, sum and count per label set. */
    public static final class Histogram {
        private final io.prometheus.metrics.core.metrics.Histogram histogram;

        Histogram(io.prometheus.metrics.core.metrics.Histogram histogram) {
            this.histogram = histogram;
        }

        /** The child for one label set (created empty and shown from now on): keep it where the set is fixed. */
        public DistributionDataPoint labels(String... labelValues) {
            return histogram.labelValues(labelValues);
        }

        /** Records a value in a family without labels. */
        public void observe(double value) {
            histogram.observe(value);
        }

        /** Records a value for one label set (a map lookup per call). */
        public void observe(double value, String... labelValues) {
            histogram.labelValues(labelValues).observe(value);
        }
    }

    /** The JVM's families, registered once per JVM and collected into every registry {@link #withJvm} made. */
    private static final class Jvm {
        private static final PrometheusRegistry REGISTRY = new PrometheusRegistry();
        static final MultiCollector COLLECTOR = REGISTRY::scrape;

        static {
            JvmMetrics.builder().register(REGISTRY);
        }

        private Jvm() {
        }
    }
}
