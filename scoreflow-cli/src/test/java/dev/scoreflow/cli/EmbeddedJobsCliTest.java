package dev.scoreflow.cli;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.runtime.ChildJvm;
import dev.scoreflow.runtime.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The CLI path of the default queue: {@code serve --jobs embedded} starts a Kafka broker in the serving process and
 * prints its {@code kafka://} URL; a {@code worker} process on that URL scores the jobs submitted over HTTP, and two
 * {@code subscribe} processes on it each print every job that finished (publish-subscribe).
 */
class EmbeddedJobsCliTest {
    private static final Pattern ID = Pattern.compile("\"id\":\"([0-9a-f-]{36})\"");

    static String line(BufferedReader out, String prefix) throws Exception {
        return CompletableFuture.supplyAsync(() -> {
            try {
                String l;
                while ((l = out.readLine()) != null) {
                    if (l.startsWith(prefix)) {
                        return l;
                    }
                }
                return "exited before '" + prefix + "'";
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).get(120, TimeUnit.SECONDS);
    }

    @Test
    void aWorkerOrSubscriberGivenEmbeddedIsToldWhoStartsItAndWhichUrlToGiveInstead() {
        List<List<String>> commands = List.of(
                List.of("worker", "--model", TestModels.example().toString(), "--queue", "embedded"),
                List.of("subscribe", "--queue", "embedded?port=0"));
        for (List<String> command : commands) {
            java.io.PrintStream old = System.err;
            java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
            System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
            int exit;
            try {
                exit = Main.run(command.toArray(String[]::new));
            } finally {
                System.setErr(old);
            }
            assertThat(exit).as(String.join(" ", command)).isEqualTo(1);
            assertThat(err.toString(StandardCharsets.UTF_8)).as(String.join(" ", command))
                    .contains("scoreflow: embedded: the embedded queue is a Kafka broker that 'scoreflow serve --jobs "
                            + "embedded' starts inside the server")
                    .contains("give them --queue kafka://HOST:PORT as printed");
        }
    }

    @Test
    void serveWithTheEmbeddedQueueAndAWorkerProcessScoreJobsEndToEnd(@TempDir Path dir) throws Exception {
        Path model = TestModels.example();
        Process serve = new ProcessBuilder(ChildJvm.command(List.of("-Xmx512m"), Main.class.getName(), "serve",
                "--model", model.toString(), "--port", "0", "--jobs",
                "embedded?port=0&dir=" + dir.resolve("kafka") + "&visibility=2s"))
                .redirectError(dir.resolve("serve.log").toFile()).start();
        Process worker = null;
        List<Process> subscribers = new ArrayList<>();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(serve.getInputStream(), StandardCharsets.UTF_8));
            String listening = line(out, "listening on ");
            assertThat(listening).startsWith("listening on http://");
            URI uri = URI.create(listening.substring("listening on ".length()));
            String queue = line(out, "jobs queue ");
            assertThat(queue).matches("jobs queue kafka://127\\.0\\.0\\.1:\\d+\\?visibility=2s");
            worker = new ProcessBuilder(ChildJvm.command(List.of("-Xmx512m"), Main.class.getName(), "worker",
                    "--model", model.toString(), "--queue", queue.substring("jobs queue ".length()),
                    "--concurrency", "1")).redirectErrorStream(true).redirectOutput(dir.resolve("worker.log").toFile())
                    .start();

            for (int i = 0; i < 2; i++) {
                Process sub = new ProcessBuilder(ChildJvm.command(List.of("-Xmx256m"), Main.class.getName(),
                        "subscribe", "--queue", queue.substring("jobs queue ".length()), "--count", "5",
                        "--max-seconds", "180")).redirectOutput(dir.resolve("subscriber-" + i + ".out").toFile())
                        .start();
                subscribers.add(sub);
                BufferedReader err = new BufferedReader(new InputStreamReader(sub.getErrorStream(),
                        StandardCharsets.UTF_8));
                assertThat(line(err, "subscribed to ")).startsWith("subscribed to kafka://");
            }

            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            float[] rows = Arrays.copyOf(TestModels.sampleInput(model), 26 * 10);
            byte[] body = SeedBinaryCodec.encode(FloatMatrix.of(rows, 10, 26)).array();
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri.resolve("/models/example/jobs"))
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
                Matcher m = ID.matcher(r.body());
                assertThat(m.find()).isTrue();
                ids.add(m.group(1));
            }
            byte[] direct = http.send(HttpRequest.newBuilder(uri.resolve("/models/example/score"))
                    .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                    HttpResponse.BodyHandlers.ofByteArray()).body();
            for (String id : ids) {
                HttpResponse<String> s = http.send(HttpRequest.newBuilder(uri.resolve("/jobs/" + id + "?wait=90s"))
                        .timeout(Duration.ofSeconds(120)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(s.body()).as(id).contains("\"state\":\"done\"");
                byte[] result = http.send(HttpRequest.newBuilder(uri.resolve("/jobs/" + id + "/result")).build(),
                        HttpResponse.BodyHandlers.ofByteArray()).body();
                assertThat(result).isEqualTo(direct);
            }
            for (int i = 0; i < subscribers.size(); i++) {
                assertThat(subscribers.get(i).waitFor(120, TimeUnit.SECONDS)).isTrue();
                List<String> lines = java.nio.file.Files.readAllLines(dir.resolve("subscriber-" + i + ".out"));
                assertThat(lines).hasSize(5).allMatch(l -> l.startsWith("{\"finished\": {") && l.contains(
                        "\"state\":\"done\""));
                for (String id : ids) {
                    assertThat(lines).as("subscriber %d saw %s", i, id).anyMatch(l -> l.contains(id));
                }
            }
        } finally {
            subscribers.forEach(Process::destroyForcibly);
            if (worker != null) {
                worker.destroy();
                assertThat(worker.waitFor(60, TimeUnit.SECONDS)).isTrue();
            }
            serve.destroy(); // SIGTERM: the server drains, the queue and the broker stop
            assertThat(serve.waitFor(60, TimeUnit.SECONDS)).isTrue();
            serve.destroyForcibly();
        }
    }
}
