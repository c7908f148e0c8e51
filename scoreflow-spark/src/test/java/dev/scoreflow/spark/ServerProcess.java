package dev.scoreflow.spark;

import dev.scoreflow.runtime.ChildJvm;
import dev.scoreflow.server.ScoringServer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A scoring server in a JVM of its own, so a test can kill it for real (SIGKILL, connections cut mid-request). */
final class ServerProcess implements AutoCloseable {
    private final Process process;
    final String uri;

    /** Entry point of the child: serve the example model on a free port, print the URI, wait to be killed. */
    public static void main(String[] args) throws Exception {
        ScoringServer server = SparkFixtures.server();
        System.out.println(server.uri());
        System.out.flush();
        Thread.currentThread().join();
    }

    ServerProcess() throws Exception {
        List<String> cmd = ChildJvm.command(List.of("-Xmx512m"), ServerProcess.class.getName());
        process = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        var out = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8));
        String line = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).get(60, TimeUnit.SECONDS);
        if (line == null || !line.startsWith("http://")) {
            process.destroyForcibly();
            throw new IllegalStateException("the server process did not start: " + line);
        }
        uri = line.strip();
    }

    /** SIGKILL: no drain, no goodbye. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }
}
