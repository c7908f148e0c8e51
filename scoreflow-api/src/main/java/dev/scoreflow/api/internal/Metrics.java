package dev.scoreflow.api.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * A minimal Prometheus registry: labelled counters and histograms, rendered in the text exposition format.
 * Lock-free on the recording path (one map lookup and an adder increment). Thread-safe. Not part of the API: the
 * server's and the stream app's {@code /metrics}.
 */
public final class Metrics {
    private final Map<String, Family> families = new ConcurrentSkipListMap<>();
    private final List<Consumer<StringBuilder>> gauges = new ArrayList<>();

    /** A counter family; {@code labels} are the label names, values are given at each increment. */
    public Counter counter(String name, String help, String... labels) {
        return (Counter) families.computeIfAbsent(name, n -> new Counter(n, help, labels));
    }

    /** A histogram family with the given upper bucket bounds (ascending). */
    public Histogram histogram(String name, String help, double[] buckets, String... labels) {
        return (Histogram) families.computeIfAbsent(name, n -> new Histogram(n, help, buckets, labels));
    }

    /** A gauge family computed when scraped: {@code writer} appends complete sample lines. */
    public synchronized void gauge(String name, String help, Consumer<StringBuilder> writer) {
        gauges.add(out -> {
            out.append("# HELP ").append(name).append(' ').append(help).append('\n');
            out.append("# TYPE ").append(name).append(" gauge\n");
            writer.accept(out);
        });
    }

    /** Everything in the Prometheus text format. */
    public synchronized String render() {
        StringBuilder out = new StringBuilder(4096);
        for (Family f : families.values()) {
            f.render(out);
        }
        for (Consumer<StringBuilder> g : gauges) {
            g.accept(out);
        }
        return out.toString();
    }

    /** Appends {@code {a="x",b="y"}} for the given names and values. */
    public static StringBuilder labels(StringBuilder out, String[] names, List<String> values, String extraName,
                                String extraValue) {
        out.append('{');
        boolean first = true;
        for (int i = 0; i < names.length; i++) {
            if (!first) {
                out.append(',');
            }
            first = false;
            out.append(names[i]).append("=\"").append(escape(values.get(i))).append('"');
        }
        if (extraName != null) {
            if (!first) {
                out.append(',');
            }
            out.append(extraName).append("=\"").append(extraValue).append('"');
        }
        return out.append('}');
    }

    private static String escape(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    abstract static class Family {
        final String name;
        final String help;
        final String[] labelNames;

        Family(String name, String help, String[] labelNames) {
            this.name = name;
            this.help = help;
            this.labelNames = labelNames;
        }

        List<String> key(String... values) {
            if (values.length != labelNames.length) {
                throw new IllegalArgumentException(name + " takes labels " + Arrays.toString(labelNames));
            }
            return List.of(values);
        }

        abstract void render(StringBuilder out);
    }

    /** A monotonically increasing count per label set. */
    public static final class Counter extends Family {
        private final Map<List<String>, LongAdder> values = new ConcurrentHashMap<>();

        Counter(String name, String help, String[] labels) {
            super(name, help, labels);
        }

        public void inc(long by, String... labelValues) {
            values.computeIfAbsent(key(labelValues), k -> new LongAdder()).add(by);
        }

        public long value(String... labelValues) {
            LongAdder a = values.get(key(labelValues));
            return a == null ? 0 : a.sum();
        }

        /** The total over the label sets that {@code which} accepts (label values in declared order). */
        public long sum(java.util.function.Predicate<List<String>> which) {
            long total = 0;
            for (Map.Entry<List<String>, LongAdder> e : values.entrySet()) {
                if (which.test(e.getKey())) {
                    total += e.getValue().sum();
                }
            }
            return total;
        }

        @Override
        void render(StringBuilder out) {
            out.append("# HELP ").append(name).append(' ').append(help).append('\n');
            out.append("# TYPE ").append(name).append(" counter\n");
            sorted(values)
                    .forEach((k, v) -> labels(out.append(name), labelNames, k, null, null)
                            .append(' ').append(v.sum()).append('\n'));
        }
    }

    /** Cumulative buckets, sum and count per label set. */
    public static final class Histogram extends Family {
        private final double[] bounds;
        private final Map<List<String>, Cell> cells = new ConcurrentHashMap<>();

        Histogram(String name, String help, double[] bounds, String[] labels) {
            super(name, help, labels);
            this.bounds = bounds.clone();
        }

        public void observe(double value, String... labelValues) {
            Cell c = cells.computeIfAbsent(key(labelValues), k -> new Cell(bounds.length));
            int i = Arrays.binarySearch(bounds, value);
            int bucket = i >= 0 ? i : -i - 1;
            c.buckets.incrementAndGet(bucket);
            c.sum.add(value);
        }

        @Override
        void render(StringBuilder out) {
            out.append("# HELP ").append(name).append(' ').append(help).append('\n');
            out.append("# TYPE ").append(name).append(" histogram\n");
            sorted(cells).forEach((k, c) -> {
                long cumulative = 0;
                for (int i = 0; i <= bounds.length; i++) {
                    cumulative += c.buckets.get(i);
                    String le = i < bounds.length ? Double.toString(bounds[i]) : "+Inf";
                    labels(out.append(name).append("_bucket"), labelNames, k, "le", le)
                            .append(' ').append(cumulative).append('\n');
                }
                labels(out.append(name).append("_sum"), labelNames, k, null, null)
                        .append(' ').append(c.sum.sum()).append('\n');
                labels(out.append(name).append("_count"), labelNames, k, null, null)
                        .append(' ').append(cumulative).append('\n');
            });
        }

        private static final class Cell {
            final AtomicLongArray buckets;
            final DoubleAdder sum = new DoubleAdder();

            Cell(int bounds) {
                buckets = new AtomicLongArray(bounds + 1);
            }
        }
    }

    private static <V> Map<List<String>, V> sorted(Map<List<String>, V> m) {
        Map<List<String>, V> t = new TreeMap<>(Metrics::compare);
        t.putAll(m);
        return t;
    }

    private static int compare(List<String> a, List<String> b) {
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            int c = a.get(i).compareTo(b.get(i));
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(a.size(), b.size());
    }
}
