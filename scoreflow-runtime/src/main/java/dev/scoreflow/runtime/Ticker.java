package dev.scoreflow.runtime;

/**
 * A source of monotonic nanoseconds. Everything in the runtime that measures time takes one, so tests can drive
 * time by hand instead of sleeping.
 */
@FunctionalInterface
public interface Ticker {
    /** Monotonic nanoseconds; only differences are meaningful. */
    long read();

    /** The system's {@link System#nanoTime()}. */
    static Ticker system() {
        return System::nanoTime;
    }
}
