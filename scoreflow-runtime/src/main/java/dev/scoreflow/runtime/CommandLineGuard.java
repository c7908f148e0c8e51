package dev.scoreflow.runtime;

import dev.scoreflow.api.ModelLoadException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns a JVM crash into an error that says what to do. ONNX Runtime 1.29's Java binding kills the JVM with SIGSEGV
 * (no hs_err file, exit code 139) when the process's command line ({@code /proc/self/cmdline}) is longer than about
 * 3,970 bytes, as it easily is when a launcher spells out a long class path with {@code -cp} (Spark's
 * {@code local-cluster} executors, IDE runs). Measured on Linux x86-64 with JDK 17 and 25; a wildcard class path
 * entry ({@code dir/*}) or an {@code @argfile} keeps the command line short.
 */
final class CommandLineGuard {
    /** The longest command line seen to work, with a margin below the shortest seen to crash (3,984 bytes). */
    static final int MAX_BYTES = 3_960;
    private static final Path CMDLINE = Path.of("/proc/self/cmdline");

    private CommandLineGuard() {
    }

    static void check() {
        long length = length();
        if (length > MAX_BYTES) {
            throw new ModelLoadException(message(length));
        }
    }

    static String message(long length) {
        return "this JVM's command line is " + length + " bytes; ONNX Runtime 1.29 crashes the JVM when it is longer "
                + "than about " + MAX_BYTES + " bytes. Shorten it: put the jars in a directory and use a wildcard "
                + "class path (-cp 'lib/*'), or pass long options in an @argfile";
    }

    private static long length() {
        try {
            return Files.exists(CMDLINE) ? Files.readAllBytes(CMDLINE).length : 0; // procfs reports size 0
        } catch (IOException | SecurityException e) {
            return 0; // cannot tell: let ONNX Runtime try
        }
    }
}
