package dev.scoreflow.plan;

/**
 * One simulated day (or replay): requests that arrived, were served and refused; the deepest queue (requests
 * waiting) and when; when it next emptied (seconds from the start, NaN if nobody ever waited); waits in seconds; the
 * servers' busy share of the horizon; when the last request was done; and per bucket of {@code bucketSeconds} (a
 * minute of the day) the deepest queue, arrivals and refusals.
 */
public record SimulatedDay(long arrived, long served, long refused, int maxWaiting, double maxWaitingAt,
                           double clearedAt, double meanWait, double p50Wait, double p99Wait, double maxWait,
                           double utilisation, double lastDone, double bucketSeconds, int[] depthByBucket,
                           long[] arrivalsByBucket, long[] refusedByBucket) {
}
