package dev.scoreflow.jobs;

import java.util.Locale;

/** Where a job is. Only {@code QUEUED} and {@code RUNNING} jobs can still change; the rest are final. */
public enum JobState {
    /** Waiting for a worker (new, or back after a failed attempt, possibly delayed). */
    QUEUED,
    /** A worker holds it under a lease; if the lease expires, it is delivered again. */
    RUNNING,
    /** Scored: the result is stored. */
    DONE,
    /** Failed for good (the input cannot be scored; retrying would not help). */
    FAILED,
    /** Received the maximum number of times without success: set aside with its last error. */
    DEAD_LETTERED,
    /** Cancelled while it was queued. */
    CANCELLED;

    /** The lower-case name the HTTP API and the tables use. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    static JobState ofWire(String s) {
        return valueOf(s.toUpperCase(Locale.ROOT));
    }

    public boolean isFinal() {
        return this != QUEUED && this != RUNNING;
    }
}
