package dev.scoreflow.streaming;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Additive statistics of the events of one window: count, score sum, positives, and per feature the sum and a
 * histogram; the score's histogram too. Two of them for the same window add up ({@link #add(WindowStats)}), which is
 * what lets every stream task count its own events and one aggregator sum the tasks' parts.
 *
 * <p>Bins: the score has {@value #SCORE_BINS} equal bins over [0, 1]; a feature has {@link #FEATURE_BINS}
 * logarithmic bins (below 0, then [0, 2^-8), [2^-8, 2^-7), ... [2^22, +inf)), which need no declaration and suit
 * counts, amounts, durations and ratios alike. Mutable, not thread-safe: one owner.
 */
final class WindowStats {
    static final int SCORE_BINS = 10;
    static final int MIN_EXP = -8;
    static final int MAX_EXP = 22;
    /** below 0 | [0, 2^MIN_EXP) | one bin per power of two | [2^MAX_EXP, inf) */
    static final int FEATURE_BINS = 2 + (MAX_EXP - MIN_EXP) + 1;

    final long windowStart;
    long count;
    double scoreSum;
    long positives;
    long maxEventTs = Long.MIN_VALUE;
    final long[] scoreHist = new long[SCORE_BINS];
    final double[] featureSums;
    final long[][] featureHists;

    WindowStats(long windowStart, int features) {
        this.windowStart = windowStart;
        this.featureSums = new double[features];
        this.featureHists = new long[features][FEATURE_BINS];
    }

    int features() {
        return featureSums.length;
    }

    void add(long ts, float score, boolean positive, float[] x) {
        count++;
        scoreSum += score;
        positives += positive ? 1 : 0;
        maxEventTs = Math.max(maxEventTs, ts);
        scoreHist[scoreBin(score)]++;
        for (int i = 0; i < x.length; i++) {
            featureSums[i] += x[i];
            featureHists[i][featureBin(x[i])]++;
        }
    }

    void add(WindowStats o) {
        if (o.windowStart != windowStart || o.features() != features()) {
            throw new IllegalArgumentException("cannot add window " + o.windowStart + " to " + windowStart);
        }
        count += o.count;
        scoreSum += o.scoreSum;
        positives += o.positives;
        maxEventTs = Math.max(maxEventTs, o.maxEventTs);
        for (int b = 0; b < SCORE_BINS; b++) {
            scoreHist[b] += o.scoreHist[b];
        }
        for (int i = 0; i < featureSums.length; i++) {
            featureSums[i] += o.featureSums[i];
            for (int b = 0; b < FEATURE_BINS; b++) {
                featureHists[i][b] += o.featureHists[i][b];
            }
        }
    }

    /** A copy of these statistics for another window start (to sum windows into a reference). */
    WindowStats withStart(long start) {
        byte[] b = toBytes();
        ByteBuffer.wrap(b).putLong(4, start); // the start follows the feature count
        return fromBytes(b);
    }

    static int scoreBin(float score) {
        int b = (int) (score * SCORE_BINS);
        return Math.max(0, Math.min(SCORE_BINS - 1, b));
    }

    static int featureBin(float x) {
        if (x < 0) {
            return 0;
        }
        if (x < Math.scalb(1f, MIN_EXP)) {
            return 1;
        }
        int e = Math.getExponent(x); // floor(log2 x) for normal floats
        return 2 + Math.min(e, MAX_EXP) - MIN_EXP;
    }

    double meanScore() {
        return count == 0 ? Double.NaN : scoreSum / count;
    }

    double positiveRate() {
        return count == 0 ? Double.NaN : (double) positives / count;
    }

    double featureMean(int i) {
        return count == 0 ? Double.NaN : featureSums[i] / count;
    }

    /**
     * Population stability index of {@code actual} against {@code reference} counts over the same bins: the sum of
     * (a - r) ln(a / r) over the bins' fractions, each fraction floored at 1e-4 so empty bins count without
     * dividing by zero. 0.1 is commonly read as a moderate shift, 0.25 as a large one.
     */
    static double psi(long[] actual, long[] reference) {
        long na = Arrays.stream(actual).sum();
        long nr = Arrays.stream(reference).sum();
        if (na == 0 || nr == 0) {
            return Double.NaN;
        }
        double psi = 0;
        for (int b = 0; b < actual.length; b++) {
            double a = Math.max(1e-4, (double) actual[b] / na);
            double r = Math.max(1e-4, (double) reference[b] / nr);
            psi += (a - r) * Math.log(a / r);
        }
        return psi;
    }

    byte[] toBytes() {
        int f = features();
        ByteBuffer b = ByteBuffer.allocate(4 + 8 * 5 + 8 * SCORE_BINS + f * 8 * (1 + FEATURE_BINS));
        b.putInt(f).putLong(windowStart).putLong(count).putDouble(scoreSum).putLong(positives).putLong(maxEventTs);
        for (long h : scoreHist) {
            b.putLong(h);
        }
        for (int i = 0; i < f; i++) {
            b.putDouble(featureSums[i]);
            for (long h : featureHists[i]) {
                b.putLong(h);
            }
        }
        return b.array();
    }

    static WindowStats fromBytes(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        int f = b.getInt();
        WindowStats s = new WindowStats(b.getLong(), f);
        s.count = b.getLong();
        s.scoreSum = b.getDouble();
        s.positives = b.getLong();
        s.maxEventTs = b.getLong();
        for (int i = 0; i < SCORE_BINS; i++) {
            s.scoreHist[i] = b.getLong();
        }
        for (int i = 0; i < f; i++) {
            s.featureSums[i] = b.getDouble();
            for (int k = 0; k < FEATURE_BINS; k++) {
                s.featureHists[i][k] = b.getLong();
            }
        }
        return s;
    }
}
