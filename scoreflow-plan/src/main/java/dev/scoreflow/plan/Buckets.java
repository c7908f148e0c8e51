package dev.scoreflow.plan;

/**
 * Counts per fine time bucket regrouped into coarser ones (a replay's plan minutes into plan hours, or into twentieths
 * of the replay): each fine bucket goes to the coarse one its start falls in, the last coarse bucket taking any
 * sliver beyond the end (floating-point bucket widths do not always divide a horizon exactly).
 */
final class Buckets {
    private Buckets() {
    }

    /** Sums of {@code fine} in each of {@code coarse} buckets of {@code coarseSeconds}. */
    static long[] sum(long[] fine, double fineSeconds, double coarseSeconds, int coarse) {
        long[] out = new long[coarse];
        for (int i = 0; i < fine.length; i++) {
            out[group(i, fineSeconds, coarseSeconds, coarse)] += fine[i];
        }
        return out;
    }

    /** Maxima of {@code fine} in each of {@code coarse} buckets of {@code coarseSeconds}. */
    static int[] max(int[] fine, double fineSeconds, double coarseSeconds, int coarse) {
        int[] out = new int[coarse];
        for (int i = 0; i < fine.length; i++) {
            int g = group(i, fineSeconds, coarseSeconds, coarse);
            out[g] = Math.max(out[g], fine[i]);
        }
        return out;
    }

    private static int group(int i, double fineSeconds, double coarseSeconds, int coarse) {
        // a start a rounding error short of a boundary belongs after it
        return (int) Math.min(coarse - 1, Math.floor(i * fineSeconds / coarseSeconds + 1e-9));
    }
}
