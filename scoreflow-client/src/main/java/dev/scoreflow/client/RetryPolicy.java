package dev.scoreflow.client;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Exponential backoff with full jitter: retry {@code n} waits a random time in {@code [0, min(max, base * 2^(n-1))]},
 * but never less than a {@code Retry-After} the server asked for. Jitter spreads the retries of many clients that
 * failed together, so they do not come back together.
 */
final class RetryPolicy {
    private final long baseNanos;
    private final long maxNanos;

    RetryPolicy(long baseNanos, long maxNanos) {
        this.baseNanos = baseNanos;
        this.maxNanos = maxNanos;
    }

    /**
     * The delay before attempt {@code attempt + 1}, given that {@code attempt} attempts have failed.
     *
     * @param retryAfterNanos what the server asked for, or 0
     * @param unit            a uniform random number in [0, 1)
     */
    long delayNanos(int attempt, long retryAfterNanos, double unit) {
        long ceiling = attempt >= 62 ? maxNanos : Math.min(maxNanos, baseNanos << Math.min(attempt - 1, 40));
        if (ceiling < 0) {
            ceiling = maxNanos;
        }
        return Math.max(retryAfterNanos, (long) (ceiling * unit));
    }

    long delayNanos(int attempt, long retryAfterNanos) {
        return delayNanos(attempt, retryAfterNanos, ThreadLocalRandom.current().nextDouble());
    }

    /** Whether an HTTP status is worth retrying: overload (429, 503) and gateway failures (502, 504). */
    static boolean retryable(int status) {
        return status == 429 || status == 502 || status == 503 || status == 504;
    }

    /** Parses {@code Retry-After} as delta-seconds (HTTP dates are ignored: servers we meet send seconds). */
    static long retryAfterNanos(String header) {
        if (header == null) {
            return 0;
        }
        try {
            long seconds = Long.parseLong(header.strip());
            return seconds <= 0 ? 0 : Math.min(seconds, 3600) * 1_000_000_000L;
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
