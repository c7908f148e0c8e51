package dev.scoreflow.streaming.app;

import dev.scoreflow.runtime.ChildJvm;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** {@code scoreflow stream} in a JVM of its own, so that a test can SIGKILL it mid-stream. */
final class StreamProcess implements AutoCloseable {
    private final Process process;
    final Path log;

    /** Entry point of the child: the stream command with the given arguments. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new StreamCommand()).execute(args));
    }

    StreamProcess(Path log, String... args) throws IOException {
        this.log = log;
        List<String> cmd = ChildJvm.command(List.of("-Xmx512m"), StreamProcess.class.getName(), args);
        process = new ProcessBuilder(new ArrayList<>(cmd)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    boolean alive() {
        return process.isAlive();
    }

    /** SIGKILL: no commit, no goodbye; an open transaction is left for the broker to abort. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /**
     * SIGTERM, then wait for the clean stop (commit, close).
     *
     * @return whether it stopped cleanly: exit code 143 (the JVM's on SIGTERM) or 0, after saying so in its log
     */
    boolean stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            return false;
        }
        return (process.exitValue() == 143 || process.exitValue() == 0) && logText().contains("stopped cleanly");
    }

    String logText() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }
}
