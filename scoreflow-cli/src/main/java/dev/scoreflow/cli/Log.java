package dev.scoreflow.cli;

import java.time.LocalTime;
import java.time.format.DateTimeFormatter;

/** Timestamped lines on standard error, so standard output stays for results. */
final class Log {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS");

    private Log() {
    }

    static void info(String message) {
        System.err.println(LocalTime.now().format(TIME) + " " + message);
    }
}
