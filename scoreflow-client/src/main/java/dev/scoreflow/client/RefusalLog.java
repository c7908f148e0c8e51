package dev.scoreflow.client;

import org.slf4j.Logger;

import java.util.function.LongSupplier;

/**
 * Logs refused calls without flooding the log: the first refusal at once, then at most one line per
 * {@code intervalNanos} saying how many were refused since and the latest reason. A refusal is a state a caller
 * sees per call; the log wants the state, not one line per call. Thread-safe; time from the injected clock.
 */
final class RefusalLog {
    private final Logger log;
    private final String what;
    private final long intervalNanos;
    private final LongSupplier clock;
    private long lastLoggedAt;
    private boolean loggedOnce;
    private long suppressed;

    RefusalLog(Logger log, String what, long intervalNanos, LongSupplier clock) {
        this.log = log;
        this.what = what;
        this.intervalNanos = intervalNanos;
        this.clock = clock;
    }

    /** One call was refused because of {@code reason}; logs if the interval has passed since the last line. */
    void refused(String reason) {
        long count;
        synchronized (this) {
            long now = clock.getAsLong();
            if (loggedOnce && now - lastLoggedAt < intervalNanos) {
                suppressed++;
                return;
            }
            count = suppressed + 1;
            suppressed = 0;
            loggedOnce = true;
            lastLoggedAt = now;
        }
        if (log.isWarnEnabled()) {
            log.warn("{}: {} call{} refused{}; {}", what, count, count == 1 ? "" : "s",
                    count == 1 ? "" : " since the last report", reason);
        }
    }
}
