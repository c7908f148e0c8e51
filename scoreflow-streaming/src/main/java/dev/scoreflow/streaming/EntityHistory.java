package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Json;
import dev.scoreflow.streaming.FeatureSpec.Feature;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * One entity's recent events, as much of each as its features need (event time, the numeric fields, the fields
 * whose distinct values are counted): the state behind the materialized view. Features are computed from it exactly
 * (no buckets, no sketches), so the stream's features equal a batch recomputation's.
 *
 * <p>An entity keeps the events of the longest window plus the tolerated lateness behind its latest event, and at
 * most {@code maxEntries} of them (the oldest go first beyond that; {@link #append} says when). Immutable; the
 * serialized form is what the state store and its changelog hold.
 */
final class EntityHistory {
    private static final byte FORMAT = 2;
    /** Distinct-counted values longer than this are cut: a hostile event must not bloat the state. */
    static final int MAX_VALUE_CHARS = 256;

    private final long[] ts;
    private final double[][] numeric; // [field][entry]
    private final String[][] distinct; // [field][entry]
    private final int truncated; // entries the append that made this dropped for maxEntries; not serialized

    private EntityHistory(long[] ts, double[][] numeric, String[][] distinct, int truncated) {
        this.ts = ts;
        this.numeric = numeric;
        this.distinct = distinct;
        this.truncated = truncated;
    }

    static EntityHistory empty(FeatureSpec spec) {
        return new EntityHistory(new long[0], new double[spec.numericFields().length][0],
                new String[spec.distinctFields().length][0], 0);
    }

    int size() {
        return ts.length;
    }

    /** How many events the {@link #append} that made this history dropped because of its entry limit. */
    int truncated() {
        return truncated;
    }

    /** What an event brings to the features: its event time and the values of the fields the spec uses. */
    record Values(long ts, double[] numeric, String[] distinct) {

        /** @throws Rejection if a field is missing, of the wrong type or not finite */
        static Values of(Event e, FeatureSpec spec) {
            String[] nf = spec.numericFields();
            double[] num = new double[nf.length];
            for (int i = 0; i < nf.length; i++) {
                num[i] = number(e.fields(), nf[i]);
            }
            String[] df = spec.distinctFields();
            String[] dis = new String[df.length];
            for (int i = 0; i < df.length; i++) {
                Object v = e.fields().get(df[i]);
                if (v == null) {
                    throw new Rejection(Rejection.MISSING_FIELD, "the event has no '" + df[i] + "'");
                }
                String s = v instanceof String str ? str : Json.write(v);
                dis[i] = s.length() > MAX_VALUE_CHARS ? s.substring(0, MAX_VALUE_CHARS) : s;
            }
            return new Values(e.ts(), num, dis);
        }

        private static double number(Map<String, Object> fields, String name) {
            Object v = fields.get(name);
            if (v == null) {
                throw new Rejection(Rejection.MISSING_FIELD, "the event has no '" + name + "'");
            }
            double d;
            if (v instanceof Double x) {
                d = x;
            } else if (v instanceof Boolean b) {
                d = b ? 1 : 0;
            } else {
                throw new Rejection(Rejection.MISTYPED_FIELD, "'" + name + "' must be a number, was "
                        + Json.typeName(v));
            }
            if (!Double.isFinite(d)) {
                throw new Rejection(Rejection.NON_FINITE_FEATURE, "'" + name + "' is not finite: " + d);
            }
            return d;
        }
    }

    /**
     * The vector for the event {@code cur}, from this history and the event itself (see {@link FeatureSpec} for
     * the semantics).
     *
     * @throws Rejection if an element is not finite as a float32
     */
    float[] features(FeatureSpec spec, Values cur) {
        float[] out = new float[spec.size()];
        int k = 0;
        for (Feature f : spec.features()) {
            double v = switch (f.kind()) {
                case RAW -> cur.numeric()[indexOf(spec.numericFields(), f.field())];
                case RATIO -> {
                    double mean = aggregate(f, spec, cur.ts(), cur);
                    yield mean == 0 ? 0 : cur.numeric()[indexOf(spec.numericFields(), f.field())] / mean;
                }
                case SECONDS_SINCE_PREVIOUS -> secondsSincePrevious(cur.ts());
                default -> aggregate(f, spec, cur.ts(), cur);
            };
            float x = (float) v;
            if (!Float.isFinite(x)) {
                throw new Rejection(Rejection.NON_FINITE_FEATURE, "feature '" + f.name() + "' is not finite as a "
                        + "float32: " + v);
            }
            out[k++] = x;
        }
        return out;
    }

    /**
     * The entity's features as of {@code asOf} without a new event: each window aggregate over the history's
     * events in {@code (asOf - W, asOf]}, and the seconds since the latest of them. Raw fields and ratios need an
     * event, so they are left out; a mean over no events is NaN. What {@code GET /features/{entity}} answers.
     */
    Map<String, Double> snapshot(FeatureSpec spec, long asOf) {
        Map<String, Double> out = new java.util.LinkedHashMap<>();
        for (Feature f : spec.features()) {
            switch (f.kind()) {
                case RAW, RATIO -> { }
                case SECONDS_SINCE_PREVIOUS -> out.put(f.name(), secondsSincePrevious(asOf));
                default -> out.put(f.name(), aggregate(f, spec, asOf, null));
            }
        }
        return out;
    }

    /** The latest event time in the history, or {@code Long.MIN_VALUE} if it is empty. */
    long newest() {
        long newest = Long.MIN_VALUE;
        for (long t : ts) {
            newest = Math.max(newest, t);
        }
        return newest;
    }

    private static boolean inWindow(long t, long now, long window) {
        return t <= now && t > now - window;
    }

    /** From the latest event at or before {@code now} to {@code now}, in seconds; -1 if there is none. */
    private double secondsSincePrevious(long now) {
        long prev = Long.MIN_VALUE;
        for (long t : ts) {
            if (t <= now && t > prev) {
                prev = t;
            }
        }
        return prev == Long.MIN_VALUE ? -1 : (now - prev) / 1000.0;
    }

    /**
     * The window aggregate {@code f} (count, sum, mean, min, max, distinct; a ratio's mean) at {@code now} over the
     * history's events in the window, and {@code cur} first if it is not null. A mean, min or max over no events
     * is NaN.
     */
    private double aggregate(Feature f, FeatureSpec spec, long now, Values cur) {
        FeatureSpec.Kind kind = f.kind();
        boolean distinctKind = kind == FeatureSpec.Kind.DISTINCT;
        int field = f.field() == null ? -1
                : indexOf(distinctKind ? spec.distinctFields() : spec.numericFields(), f.field());
        Set<String> seen = distinctKind ? new HashSet<>() : null;
        double acc = kind == FeatureSpec.Kind.MIN ? Double.POSITIVE_INFINITY
                : kind == FeatureSpec.Kind.MAX ? Double.NEGATIVE_INFINITY : 0;
        int n = 0;
        if (cur != null) {
            n++;
            if (distinctKind) {
                seen.add(cur.distinct()[field]);
            } else if (field >= 0) {
                acc = combine(kind, acc, cur.numeric()[field]);
            }
        }
        for (int i = 0; i < ts.length; i++) {
            if (!inWindow(ts[i], now, f.windowMs())) {
                continue;
            }
            n++;
            if (distinctKind) {
                seen.add(distinct[field][i]);
            } else if (field >= 0) {
                acc = combine(kind, acc, numeric[field][i]);
            }
        }
        return switch (kind) {
            case COUNT -> n;
            case DISTINCT -> seen.size();
            case MEAN, RATIO -> n == 0 ? Double.NaN : acc / n;
            case MIN, MAX -> n == 0 ? Double.NaN : acc;
            default -> acc;
        };
    }

    private static double combine(FeatureSpec.Kind kind, double acc, double v) {
        return switch (kind) {
            case MIN -> Math.min(acc, v);
            case MAX -> Math.max(acc, v);
            default -> acc + v;
        };
    }

    private static int indexOf(String[] names, String name) {
        for (int i = 0; i < names.length; i++) {
            if (names[i].equals(name)) {
                return i;
            }
        }
        throw new IllegalStateException("field " + name + " not in " + Arrays.toString(names));
    }

    /**
     * This history with {@code cur} added, without the events that no feature can need any more: those at or
     * before the newest event time minus {@code keepMs}, then the oldest beyond {@code maxEntries}.
     */
    EntityHistory append(Values cur, long keepMs, int maxEntries) {
        long newest = cur.ts();
        for (long t : ts) {
            newest = Math.max(newest, t);
        }
        long horizon = newest - keepMs;
        int n = ts.length + 1;
        boolean[] keep = new boolean[n];
        int kept = 0;
        for (int i = 0; i < n; i++) {
            long t = i < ts.length ? ts[i] : cur.ts();
            keep[i] = t > horizon;
            kept += keep[i] ? 1 : 0;
        }
        int dropped = 0;
        while (kept > maxEntries) { // drop the oldest kept entry
            int oldest = -1;
            for (int i = 0; i < n; i++) {
                if (keep[i] && (oldest < 0 || tsAt(i, cur) < tsAt(oldest, cur))) {
                    oldest = i;
                }
            }
            keep[oldest] = false;
            kept--;
            dropped++;
        }
        long[] nts = new long[kept];
        double[][] nnum = new double[numeric.length][kept];
        String[][] ndis = new String[distinct.length][kept];
        int j = 0;
        for (int i = 0; i < n; i++) {
            if (!keep[i]) {
                continue;
            }
            boolean isCur = i == ts.length;
            nts[j] = isCur ? cur.ts() : ts[i];
            for (int f = 0; f < numeric.length; f++) {
                nnum[f][j] = isCur ? cur.numeric()[f] : numeric[f][i];
            }
            for (int f = 0; f < distinct.length; f++) {
                ndis[f][j] = isCur ? cur.distinct()[f] : distinct[f][i];
            }
            j++;
        }
        return new EntityHistory(nts, nnum, ndis, dropped);
    }

    private long tsAt(int i, Values cur) {
        return i < ts.length ? ts[i] : cur.ts();
    }

    /**
     * The serialized form, written for every event (so kept compact and cheap): format, a fingerprint of the
     * fields (so a changed features file is noticed), the entry count, then per entry the event time, the numeric
     * values and the distinct-counted values (UTF-8, length-prefixed).
     */
    byte[] toBytes(FeatureSpec spec) {
        int size = 1 + 4 + 4 + ts.length * (8 + 8 * numeric.length);
        byte[][][] text = new byte[distinct.length][ts.length][];
        for (int f = 0; f < distinct.length; f++) {
            for (int i = 0; i < ts.length; i++) {
                text[f][i] = distinct[f][i].getBytes(StandardCharsets.UTF_8);
                size += 2 + text[f][i].length;
            }
        }
        ByteBuffer out = ByteBuffer.allocate(size);
        out.put(FORMAT).putInt(fingerprint(spec)).putInt(ts.length);
        for (int i = 0; i < ts.length; i++) {
            out.putLong(ts[i]);
            for (double[] col : numeric) {
                out.putDouble(col[i]);
            }
            for (byte[][] col : text) {
                out.putShort((short) col[i].length).put(col[i]);
            }
        }
        return out.array();
    }

    /** Which fields a history was written for: a changed features file gives another fingerprint. */
    static int fingerprint(FeatureSpec spec) {
        return (String.join(",", spec.numericFields()) + ";" + String.join(",", spec.distinctFields())).hashCode();
    }

    /**
     * Reads a serialized history. One written for other fields (the features file changed) is not used: the entity
     * starts afresh, which the caller counts.
     *
     * @return the history, or null if it was written for other fields or in an older format
     */
    static EntityHistory fromBytes(byte[] b, FeatureSpec spec) {
        ByteBuffer in = ByteBuffer.wrap(b);
        try {
            if (in.get() != FORMAT || in.getInt() != fingerprint(spec)) {
                return null;
            }
            int n = in.getInt();
            int nn = spec.numericFields().length;
            int nd = spec.distinctFields().length;
            long[] ts = new long[n];
            double[][] num = new double[nn][n];
            String[][] dis = new String[nd][n];
            for (int i = 0; i < n; i++) {
                ts[i] = in.getLong();
                for (int f = 0; f < nn; f++) {
                    num[f][i] = in.getDouble();
                }
                for (int f = 0; f < nd; f++) {
                    int len = in.getShort() & 0xffff;
                    dis[f][i] = new String(b, in.position(), len, StandardCharsets.UTF_8);
                    in.position(in.position() + len);
                }
            }
            return new EntityHistory(ts, num, dis, 0);
        } catch (java.nio.BufferUnderflowException | IllegalArgumentException | NegativeArraySizeException e) {
            throw new IllegalStateException("a corrupt entity history in the state store", e);
        }
    }
}
