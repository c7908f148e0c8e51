package dev.scoreflow.cli;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.runtime.ChildJvm;
import dev.scoreflow.runtime.TestModels;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class CliTest {

    private static String captureOut(Runnable r, int[] exit) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            r.run();
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    /** The first line a child process prints, waited for at most a minute. */
    private static String firstLine(Process p) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        return CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).get(60, TimeUnit.SECONDS);
    }

    @Test
    void serveHelpExplainsEveryOption() {
        int[] exit = new int[1];
        String out = captureOut(() -> exit[0] = Main.run("serve", "--help"), exit);
        assertThat(exit[0]).isZero();
        assertThat(out).contains("--model", "--models", "--port", "--threads", "--queue-rows", "--max-body-bytes",
                "--auth-token-file", "--tls-cert", "listening on", "--readiness", "strict|lenient");
    }

    @Test
    void workerHelpExplainsTheCallbackOptionsAndABadOneIsRefused() {
        int[] exit = new int[1];
        String out = captureOut(() -> exit[0] = Main.run("worker", "--help"), exit);
        assertThat(exit[0]).isZero();
        assertThat(out).contains("--callback-secret-file", "SCOREFLOW_CALLBACK_SECRET", "Scoreflow-Signature",
                "--callback-attempts", "--smtp", "--mail-from", "Idempotency-Key");
        assertThat(Main.run("worker", "--model", TestModels.example().toString(), "--queue", "postgresql://x/y",
                "--smtp", "nohost")).as("--smtp without a port").isEqualTo(1);
    }

    @Test
    void item13_readinessOptionTakesStrictOrLenient() {
        assertThat(ServeCommand.readiness("strict")).isEqualTo(dev.scoreflow.server.Readiness.STRICT);
        assertThat(ServeCommand.readiness("LENIENT")).isEqualTo(dev.scoreflow.server.Readiness.LENIENT);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServeCommand.readiness("sometimes"))
                .hasMessageContaining("--readiness must be strict or lenient, got 'sometimes'");
    }

    @Test
    void serveWithoutAModelIsAUsageError() {
        assertThat(Main.run("serve")).isEqualTo(2);
        assertThat(Main.run("serve", "--model", "/nonexistent.onnx", "--port", "0")).isEqualTo(1);
    }

    @Test
    void demoScoresAGeneratedDatasetWithSparkThroughTheServer() {
        int[] exit = new int[1];
        String out = captureOut(() -> exit[0] = Main.run("demo", "--model", TestModels.example().toString(),
                "--rows", "20000", "--partitions", "3", "--master", "local[2]"), exit);
        assertThat(exit[0]).as(out).isZero();
        assertThat(out).contains("summary: rows in 20,000, rows out 20,000, errors 0").contains("rows/s")
                .contains("max |score - in-process ONNX Runtime|");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("accuracy against the generated labels: "
                + "([0-9.]+)").matcher(out);
        assertThat(m.find()).as(out).isTrue();
        assertThat(Double.parseDouble(m.group(1))).isGreaterThan(0.95);
    }

    /** The real thing: the CLI in its own JVM, a real socket, SIGTERM. */
    @Test
    void servesInAChildProcessAndStopsCleanlyOnSigterm() throws Exception {
        Path model = TestModels.example();
        List<String> cmd = ChildJvm.command(List.of(), Main.class.getName(), "serve", "--model", model.toString(),
                "--port", "0");
        Path errFile = java.nio.file.Files.createTempFile("scoreflow-serve", ".log");
        Process p = new ProcessBuilder(cmd).redirectError(errFile.toFile()).start();
        try {
            String line = firstLine(p);
            assertThat(line).startsWith("listening on http://127.0.0.1:");
            URI uri = URI.create(line.substring("listening on ".length()));
            float[] rows = Arrays.copyOf(TestModels.sampleInput(model), 26 * 50);
            HttpResponse<byte[]> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri.resolve("/score"))
                    .PUT(HttpRequest.BodyPublishers.ofByteArray(
                            SeedBinaryCodec.encode(FloatMatrix.of(rows, 50, 26)).array())).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertThat(r.statusCode()).isEqualTo(200);
            float[] scores = SeedBinaryCodec.decodeScores(ByteBuffer.wrap(r.body()));
            float[] expected = TestModels.sampleScores(model);
            for (int i = 0; i < 50; i++) {
                assertThat(scores[i]).isCloseTo(expected[i], within(1e-5f));
            }
            p.destroy(); // SIGTERM
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isIn(0, 143);
            String err = java.nio.file.Files.readString(errFile);
            assertThat(err).contains("loaded model example version 1").contains("shutting down").contains("stopped");
        } finally {
            p.destroyForcibly();
            java.nio.file.Files.deleteIfExists(errFile);
        }
    }
    @Test
    void serveRabbitmqHelpExplainsTheProtocolAndEveryOption() {
        int[] exit = new int[1];
        String out = captureOut(() -> exit[0] = Main.run("serve-rabbitmq", "--help"), exit);
        assertThat(exit[0]).isZero();
        assertThat(out).contains("--uri", "--request-queue", "--model", "--concurrency", "--prefetch", "reply_to",
                "correlation_id", "amq.rabbitmq.reply-to", "scoreflow-error", "At least once");
    }

    /** serve-rabbitmq in its own JVM on the machine's RabbitMQ, asked through RabbitScoringClient, then SIGTERM. */
    @Test
    void serveRabbitmqAnswersTheClientFromAChildProcess() throws Exception {
        Path model = TestModels.example();
        String queue = "cli-rpc-" + Long.toHexString(System.nanoTime());
        String uri = "amqp://guest:guest@127.0.0.1:5672";
        Path errFile = java.nio.file.Files.createTempFile("scoreflow-serve-rabbitmq", ".log");
        Process p = new ProcessBuilder(ChildJvm.command(List.of(), Main.class.getName(), "serve-rabbitmq", "--uri",
                uri, "--request-queue", queue, "--model", model.toString())).redirectError(errFile.toFile()).start();
        try (dev.scoreflow.jobs.RabbitScoringClient client = dev.scoreflow.jobs.RabbitScoringClient.builder(uri, queue)
                .build()) {
            String line = firstLine(p);
            assertThat(line).isEqualTo("serving " + queue);
            float[] rows = Arrays.copyOf(TestModels.sampleInput(model), 26 * 50);
            float[] scores = client.score(FloatMatrix.of(rows, 50, 26)).get(60, TimeUnit.SECONDS);
            float[] expected = TestModels.sampleScores(model);
            for (int i = 0; i < 50; i++) {
                assertThat(scores[i]).isCloseTo(expected[i], within(1e-5f));
            }
            p.destroy(); // SIGTERM
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(java.nio.file.Files.readString(errFile)).contains("unanswered requests go back to the queue");
        } finally {
            p.destroyForcibly();
            java.nio.file.Files.deleteIfExists(errFile);
            com.rabbitmq.client.ConnectionFactory f = new com.rabbitmq.client.ConnectionFactory();
            f.setConnectionTimeout(5000);
            try (com.rabbitmq.client.Connection c = f.newConnection(); com.rabbitmq.client.Channel ch = c.createChannel()) {
                ch.queueDelete(queue);
            }
        }
    }
}
