package dev.scoreflow.server;

import org.slf4j.Logger;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Log lines about what peers do (malformed requests, timeouts, resets), at most one per kind every ten seconds,
 * each saying how many were left out since: a hostile peer must not be able to fill the disk through our log.
 * Thread-safe.
 */
final class RateLimitedLog {
    private static final long INTERVAL = TimeUnit.SECONDS.toNanos(10);

    private final Logger log;
    private final ConcurrentHashMap<String, Kind> kinds = new ConcurrentHashMap<>();

    RateLimitedLog(Logger log) {
        this.log = log;
    }

    /** Logs at INFO if no line of this kind was logged in the last ten seconds; counts it otherwise. */
    void info(String kind, String message) {
        String line = admit(kind, message);
        if (line != null) {
            log.info(line);
        } else {
            log.debug(message);
        }
    }

    /** As {@link #info} at WARN, with the cause's stack trace. */
    void warn(String kind, String message, Throwable cause) {
        String line = admit(kind, message);
        if (line != null) {
            log.warn(line, cause);
        }
    }

    private String admit(String kind, String message) {
        if (kinds.size() > 64) { // kinds are our own constants; this only guards against misuse
            kinds.clear();
        }
        Kind k = kinds.computeIfAbsent(kind, x -> new Kind());
        long now = System.nanoTime();
        long last = k.lastLogged.get();
        if (last != 0 && now - last < INTERVAL || !k.lastLogged.compareAndSet(last, now)) {
            k.suppressed.incrementAndGet();
            return null;
        }
        long left = k.suppressed.getAndSet(0);
        return left == 0 ? message : message + " (and " + left + " more like this in the last "
                + TimeUnit.NANOSECONDS.toSeconds(now - last) + " s)";
    }

    private static final class Kind {
        final AtomicLong lastLogged = new AtomicLong();
        final AtomicLong suppressed = new AtomicLong();
    }
}
