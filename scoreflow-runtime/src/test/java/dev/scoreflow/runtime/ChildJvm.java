package dev.scoreflow.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of a child JVM for tests that need a real process (a server to kill, the CLI, SparkSubmit). The
 * class path goes in an {@code @argfile}: spelled out on the command line it makes ONNX Runtime crash the child (see
 * the runtime's CommandLineGuard). Shared with other modules through the runtime's test jar.
 */
public final class ChildJvm {
    private ChildJvm() {
    }

    /** This JVM's {@code java}, {@code options}, the class path, then {@code mainClass} and its {@code args}. */
    public static List<String> command(String classPath, List<String> options, String mainClass, String... args) {
        Path argFile;
        try {
            argFile = Files.createTempFile("scoreflow-classpath", ".args");
            Files.writeString(argFile, "-cp \"" + classPath + "\"");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        argFile.toFile().deleteOnExit();
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-XX:+IgnoreUnrecognizedVMOptions");
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.addAll(options);
        cmd.add("@" + argFile);
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** As {@link #command}, with this JVM's class path. */
    public static List<String> command(List<String> options, String mainClass, String... args) {
        return command(System.getProperty("java.class.path"), options, mainClass, args);
    }
}
