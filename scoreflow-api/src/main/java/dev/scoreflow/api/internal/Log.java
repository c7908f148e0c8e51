package dev.scoreflow.api.internal;

import java.time.LocalTime;
import java.time.format.DateTimeFormatter;

/**
 * Timestamped lines on standard error, so standard output stays for results: how the command-line tools (the CLI
 * and the spark-submit entry point) report progress.
 */
public final class Log {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS");

    private Log() {
    }

    public static void info(String message) {
        System.err.println(LocalTime.now().format(TIME) + " " + message);
    }
}
