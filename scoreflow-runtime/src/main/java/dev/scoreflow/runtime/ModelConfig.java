package dev.scoreflow.runtime;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.ModelLoadException;
import dev.scoreflow.api.internal.Json;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * A model's Scoreflow settings, read from the optional {@code model.json} beside {@code model.onnx}. Every key is
 * optional; an unknown key is refused (a typo must not silently leave a default in force).
 *
 * <table>
 * <caption>model.json keys</caption>
 * <tr><td>output</td><td>the output the score is read from (default: the probability output of a classifier, or
 * the only float output)</td></tr>
 * <tr><td>column</td><td>which column of that output is the score: a ZipMap's int64 class label, or with string
 * labels the position in ascending label order (default: 1 for a two-class output, 0 for a single value; none for
 * three or more columns: the model then has no score and serves only its outputs)</td></tr>
 * <tr><td>threshold</td><td>score at or above which the prediction is 1 (default: none, no prediction)</td></tr>
 * <tr><td>maxBatchRows</td><td>rows per model call; larger requests are split (default 1024)</td></tr>
 * <tr><td>maxBatchDelayMicros</td><td>how long a partial batch may wait for more rows (default 0: never wait, batch
 * only what queued while the inference threads were busy)</td></tr>
 * <tr><td>queueRows</td><td>rows that may wait; more gets "503 try later" (default 262144)</td></tr>
 * <tr><td>maxQueueMillis</td><td>work that may wait, in milliseconds at the measured speed; more gets 503
 * (default 500; 0 = rows only)</td></tr>
 * <tr><td>allowNonFinite</td><td>accept NaN and infinite features (default false: 400)</td></tr>
 * <tr><td>description</td><td>one line about the model</td></tr>
 * </table>
 *
 * <p>In code: {@code ModelConfig.builder().maxBatchRows(64).queueRows(4096).build()}, or {@code
 * ModelConfig.defaults().toBuilder()...}. Immutable; equal when every setting is.
 */
public final class ModelConfig {
    private final String output;
    private final Integer column;
    private final Double threshold;
    private final int maxBatchRows;
    private final long maxBatchDelayMicros;
    private final int queueRows;
    private final long maxQueueMillis;
    private final boolean allowNonFinite;
    private final String description;

    /** File name of the settings beside the model. */
    public static final String FILE_NAME = "model.json";
    public static final int DEFAULT_MAX_BATCH_ROWS = 1024;
    public static final int DEFAULT_QUEUE_ROWS = 262_144;
    public static final long DEFAULT_MAX_QUEUE_MILLIS = 500;

    private static final Set<String> KEYS = new TreeSet<>(Set.of("output", "column", "threshold", "maxBatchRows",
            "maxBatchDelayMicros", "queueRows", "maxQueueMillis", "allowNonFinite", "description"));

    private ModelConfig(String output, Integer column, Double threshold, int maxBatchRows, long maxBatchDelayMicros,
                        int queueRows, long maxQueueMillis, boolean allowNonFinite, String description) {
        if (column != null && column < 0) {
            throw new IllegalArgumentException("column must be >= 0, got " + column);
        }
        if (threshold != null && !Double.isFinite(threshold)) {
            throw new IllegalArgumentException("threshold must be a finite number, got " + threshold);
        }
        if (maxBatchRows < 1 || maxBatchRows > 1_000_000) {
            throw new IllegalArgumentException("maxBatchRows must be in [1, 1000000], got " + maxBatchRows);
        }
        if (maxBatchDelayMicros < 0 || maxBatchDelayMicros > 10_000_000) {
            throw new IllegalArgumentException("maxBatchDelayMicros must be in [0, 10000000], got " + maxBatchDelayMicros);
        }
        if (queueRows < 1) {
            throw new IllegalArgumentException("queueRows must be >= 1, got " + queueRows);
        }
        if (maxQueueMillis < 0 || maxQueueMillis > 3_600_000) {
            throw new IllegalArgumentException("maxQueueMillis must be in [0, 3600000], got " + maxQueueMillis);
        }
        this.output = output;
        this.column = column;
        this.threshold = threshold;
        this.maxBatchRows = maxBatchRows;
        this.maxBatchDelayMicros = maxBatchDelayMicros;
        this.queueRows = queueRows;
        this.maxQueueMillis = maxQueueMillis;
        this.allowNonFinite = allowNonFinite;
        this.description = description;
    }

    /** All defaults, to be changed. */
    public static Builder builder() {
        return new Builder();
    }

    /** These settings, to be changed. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.output = output;
        b.column = column;
        b.threshold = threshold;
        b.maxBatchRows = maxBatchRows;
        b.maxBatchDelayMicros = maxBatchDelayMicros;
        b.queueRows = queueRows;
        b.maxQueueMillis = maxQueueMillis;
        b.allowNonFinite = allowNonFinite;
        b.description = description;
        return b;
    }

    /** The output the score is read from, or null for the model's default. */
    public String output() {
        return output;
    }

    /** Which column of that output is the score, or null for the default. */
    public Integer column() {
        return column;
    }

    /** The score at or above which the prediction is 1, or null for no prediction. */
    public Double threshold() {
        return threshold;
    }

    public int maxBatchRows() {
        return maxBatchRows;
    }

    public long maxBatchDelayMicros() {
        return maxBatchDelayMicros;
    }

    public int queueRows() {
        return queueRows;
    }

    public long maxQueueMillis() {
        return maxQueueMillis;
    }

    public boolean allowNonFinite() {
        return allowNonFinite;
    }

    /** One line about the model, or null. */
    public String description() {
        return description;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelConfig c && Objects.equals(output, c.output) && Objects.equals(column, c.column)
                && Objects.equals(threshold, c.threshold) && maxBatchRows == c.maxBatchRows
                && maxBatchDelayMicros == c.maxBatchDelayMicros && queueRows == c.queueRows
                && maxQueueMillis == c.maxQueueMillis && allowNonFinite == c.allowNonFinite
                && Objects.equals(description, c.description);
    }

    @Override
    public int hashCode() {
        return Objects.hash(output, column, threshold, maxBatchRows, maxBatchDelayMicros, queueRows, maxQueueMillis,
                allowNonFinite, description);
    }

    @Override
    public String toString() {
        return "ModelConfig[output=" + output + ", column=" + column + ", threshold=" + threshold + ", maxBatchRows="
                + maxBatchRows + ", maxBatchDelayMicros=" + maxBatchDelayMicros + ", queueRows=" + queueRows
                + ", maxQueueMillis=" + maxQueueMillis + ", allowNonFinite=" + allowNonFinite + ", description="
                + description + "]";
    }

    /** Settings for {@link #builder()}: each starts at its default; {@link #build()} checks them together. */
    public static final class Builder {
        private String output;
        private Integer column;
        private Double threshold;
        private int maxBatchRows = DEFAULT_MAX_BATCH_ROWS;
        private long maxBatchDelayMicros;
        private int queueRows = DEFAULT_QUEUE_ROWS;
        private long maxQueueMillis = DEFAULT_MAX_QUEUE_MILLIS;
        private boolean allowNonFinite;
        private String description;

        private Builder() {
        }

        public Builder output(String output) {
            this.output = output;
            return this;
        }

        public Builder column(Integer column) {
            this.column = column;
            return this;
        }

        public Builder threshold(Double threshold) {
            this.threshold = threshold;
            return this;
        }

        public Builder maxBatchRows(int maxBatchRows) {
            this.maxBatchRows = maxBatchRows;
            return this;
        }

        public Builder maxBatchDelayMicros(long maxBatchDelayMicros) {
            this.maxBatchDelayMicros = maxBatchDelayMicros;
            return this;
        }

        public Builder queueRows(int queueRows) {
            this.queueRows = queueRows;
            return this;
        }

        public Builder maxQueueMillis(long maxQueueMillis) {
            this.maxQueueMillis = maxQueueMillis;
            return this;
        }

        public Builder allowNonFinite(boolean allowNonFinite) {
            this.allowNonFinite = allowNonFinite;
            return this;
        }

        public Builder description(String description) {
            this.description = description;
            return this;
        }

        /** @throws IllegalArgumentException naming the first setting out of its range */
        public ModelConfig build() {
            return new ModelConfig(output, column, threshold, maxBatchRows, maxBatchDelayMicros, queueRows,
                    maxQueueMillis, allowNonFinite, description);
        }
    }

    /** All defaults. */
    public static ModelConfig defaults() {
        return builder().build();
    }

    /**
     * Reads {@code model.json}; absent file gives {@code fallback}. Keys the file sets win over {@code fallback}.
     *
     * @throws ModelLoadException naming the file and the problem
     */
    public static ModelConfig read(Path file, ModelConfig fallback) {
        if (!Files.exists(file)) {
            return fallback;
        }
        try {
            Map<String, Object> m = Json.parseObject(ByteBuffer.wrap(Files.readAllBytes(file)), file.toString());
            for (String k : m.keySet()) {
                if (!KEYS.contains(k)) {
                    throw new ModelLoadException(file + ": unknown key '" + k + "'; known keys are " + KEYS);
                }
            }
            return new ModelConfig(
                    string(m, "output", fallback.output(), file),
                    m.containsKey("column") ? Integer.valueOf((int) integer(m, "column", file)) : fallback.column(),
                    m.containsKey("threshold") ? Double.valueOf(number(m, "threshold", file)) : fallback.threshold(),
                    m.containsKey("maxBatchRows") ? (int) integer(m, "maxBatchRows", file) : fallback.maxBatchRows(),
                    m.containsKey("maxBatchDelayMicros") ? integer(m, "maxBatchDelayMicros", file)
                            : fallback.maxBatchDelayMicros(),
                    m.containsKey("queueRows") ? (int) integer(m, "queueRows", file) : fallback.queueRows(),
                    m.containsKey("maxQueueMillis") ? integer(m, "maxQueueMillis", file) : fallback.maxQueueMillis(),
                    m.containsKey("allowNonFinite") ? bool(m, "allowNonFinite", file) : fallback.allowNonFinite(),
                    string(m, "description", fallback.description(), file));
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (BadInputException | IllegalArgumentException e) {
            throw new ModelLoadException(file + ": " + e.getMessage(), e);
        }
    }

    private static String string(Map<String, Object> m, String key, String fallback, Path file) {
        Object o = m.get(key);
        if (o == null) {
            return fallback;
        }
        if (o instanceof String s) {
            return s;
        }
        throw new ModelLoadException(file + ": '" + key + "' must be a string, got " + Json.typeName(o));
    }

    private static double number(Map<String, Object> m, String key, Path file) {
        Object o = m.get(key);
        if (o instanceof Double d) {
            return d;
        }
        throw new ModelLoadException(file + ": '" + key + "' must be a number, got " + Json.typeName(o));
    }

    private static long integer(Map<String, Object> m, String key, Path file) {
        double d = number(m, key, file);
        if (d != Math.rint(d) || Math.abs(d) > 1e15) {
            throw new ModelLoadException(file + ": '" + key + "' must be an integer, got " + d);
        }
        return (long) d;
    }

    private static boolean bool(Map<String, Object> m, String key, Path file) {
        Object o = m.get(key);
        if (o instanceof Boolean b) {
            return b;
        }
        throw new ModelLoadException(file + ": '" + key + "' must be true or false, got " + Json.typeName(o));
    }
}
