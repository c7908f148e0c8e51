package dev.scoreflow.streaming;

import dev.scoreflow.streaming.internal.Durations;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The model's input vector, declared: one line per element, in order, {@code name = expression}, where the
 * expression is a raw numeric field of the event or a per-entity feature over a sliding window of event time.
 *
 * <pre>
 * # the bundled fraud model's inputs
 * amount           = amount                    # a raw field: a JSON number (true/false count as 1/0)
 * txn_count_1h     = count() over 1h           # the entity's events in (ts - 1h, ts]
 * amount_mean_24h  = mean(amount) over 24h     # also sum, min, max
 * countries_24h    = distinct(country) over 24h
 * amount_ratio_24h = ratio(amount) over 24h    # amount / mean(amount) over the window (0 when that mean is 0)
 * secs_since_prev  = seconds_since_previous()  # -1 for the entity's first event
 * </pre>
 *
 * <p><b>Semantics</b> (the same whether computed by the stream or in batch): an event's window features cover the
 * events of its entity that were processed before it, or are it, whose {@code ts} lies in {@code (ts - W, ts]}; the
 * previous event is the latest of those processed before it with a {@code ts} at or before its own. Windows are
 * written {@code <n>ms|s|m|h|d}. The features are thereby a materialized view: updated by every event, in the order
 * the events arrive, and readable at any time for any entity.
 */
public final class FeatureSpec {
    private static final Pattern LINE = Pattern.compile("([A-Za-z_][A-Za-z0-9_.]*)\\s*=\\s*(.+)");
    private static final Pattern CALL = Pattern.compile(
            "([a-z_]+)\\s*\\(\\s*([A-Za-z_][A-Za-z0-9_.]*)?\\s*\\)\\s*(?:over\\s+(\\d+)\\s*(ms|s|m|h|d))?");
    private static final Pattern FIELD = Pattern.compile("[A-Za-z_][A-Za-z0-9_.]*");
    static final Set<String> RESERVED = Set.of("event_id", "entity", "ts");

    /** What a vector element is computed as. */
    enum Kind {
        RAW, COUNT, SUM, MEAN, MIN, MAX, DISTINCT, RATIO, SECONDS_SINCE_PREVIOUS;

        String function() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** One element of the vector. {@code field} is null for count and seconds_since_previous; {@code windowMs} 0 when none. */
    record Feature(String name, Kind kind, String field, long windowMs) {
    }

    private final List<Feature> features;
    private final String[] numericFields;
    private final String[] distinctFields;
    private final long maxWindowMs;
    private final String source;

    private FeatureSpec(List<Feature> features, String source) {
        this.features = List.copyOf(features);
        this.source = source;
        Set<String> numeric = new LinkedHashSet<>();
        Set<String> distinct = new LinkedHashSet<>();
        long max = 0;
        for (Feature f : features) {
            switch (f.kind()) {
                case RAW, SUM, MEAN, MIN, MAX, RATIO -> numeric.add(f.field());
                case DISTINCT -> distinct.add(f.field());
                default -> { }
            }
            max = Math.max(max, f.windowMs());
        }
        this.numericFields = numeric.toArray(String[]::new);
        this.distinctFields = distinct.toArray(String[]::new);
        this.maxWindowMs = max;
    }

    /** Reads a definitions file. @throws StreamingException naming the file, line and problem */
    public static FeatureSpec read(Path file) {
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
        } catch (IOException e) {
            throw new StreamingException("cannot read the features file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Parses definitions; {@code source} names them in error messages. @throws StreamingException on a bad line */
    public static FeatureSpec parse(String text, String source) {
        List<Feature> out = new ArrayList<>();
        for (Definitions.Line l : Definitions.lines(text, source, LINE, "'name = expression'")) {
            out.add(expression(l.name(), l.match().group(2).strip(), l.where()));
        }
        if (out.isEmpty()) {
            throw new StreamingException(source + ": declares no features (one 'name = expression' per line)");
        }
        return new FeatureSpec(out, source);
    }

    private static Feature expression(String name, String expr, String where) {
        if (FIELD.matcher(expr).matches()) {
            if (RESERVED.contains(expr)) {
                throw new StreamingException(where + "'" + expr + "' is not a numeric field (it is part of every "
                        + "event's identity)");
            }
            return new Feature(name, Kind.RAW, expr, 0);
        }
        Matcher m = CALL.matcher(expr);
        if (!m.matches()) {
            throw new StreamingException(where + "cannot read '" + expr + "': expected a field name or "
                    + "'function(field) over <n>ms|s|m|h|d'");
        }
        Kind kind;
        try {
            kind = Kind.valueOf(m.group(1).toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            kind = null;
        }
        if (kind == null || kind == Kind.RAW) {
            throw new StreamingException(where + "unknown function '" + m.group(1) + "' (known: " + Arrays.stream(Kind.values())
                    .filter(k -> k != Kind.RAW).map(Kind::function).collect(Collectors.joining(", ")) + ")");
        }
        String field = m.group(2);
        boolean needsField = kind != Kind.COUNT && kind != Kind.SECONDS_SINCE_PREVIOUS;
        if (needsField && field == null) {
            throw new StreamingException(where + kind.function() + "() needs a field, e.g. " + kind.function() + "(amount)");
        }
        if (!needsField && field != null) {
            throw new StreamingException(where + kind.function() + "() takes no field, got '" + field + "'");
        }
        if (field != null && RESERVED.contains(field) && kind != Kind.DISTINCT) {
            throw new StreamingException(where + "'" + field + "' is not a numeric field");
        }
        long window = 0;
        if (m.group(3) != null) {
            if (kind == Kind.SECONDS_SINCE_PREVIOUS) {
                throw new StreamingException(where + "seconds_since_previous() takes no window");
            }
            window = Durations.parseMs(m.group(3) + m.group(4), "the window");
            if (window <= 0 || window > 366L * 86_400_000L) {
                throw new StreamingException(where + "the window must be between 1 ms and 366 d, was " + m.group(3)
                        + m.group(4));
            }
        } else if (kind != Kind.SECONDS_SINCE_PREVIOUS) {
            throw new StreamingException(where + kind.function() + "(...) needs a window, e.g. '" + expr + " over 1h'");
        }
        return new Feature(name, kind, field, window);
    }

    /** The vector's elements, in order. */
    List<Feature> features() {
        return features;
    }

    /** The vector's length. */
    public int size() {
        return features.size();
    }

    /** The elements' names, in order. */
    public List<String> names() {
        return features.stream().map(Feature::name).toList();
    }

    /** Numeric fields the history keeps (raw and aggregated ones). */
    String[] numericFields() {
        return numericFields;
    }

    /** Fields whose distinct values are counted. */
    String[] distinctFields() {
        return distinctFields;
    }

    /** The longest window: how much history an entity needs. */
    long maxWindowMs() {
        return maxWindowMs;
    }

    /** Where the definitions came from (a file name), for messages. */
    public String source() {
        return source;
    }
}
