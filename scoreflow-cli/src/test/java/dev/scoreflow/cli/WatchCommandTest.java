package dev.scoreflow.cli;

import dev.scoreflow.api.internal.Json;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobQueues;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.spark.job.BatchCommand;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

/**
 * The folder trigger through the real command line: {@code scoreflow watch} on embedded Spark {@code local[1]},
 * completion events published on the machine's real PostgreSQL queue and seen by a subscriber in this test.
 */
class WatchCommandTest {
    static final int FEATURES = 26;
    static final int ROWS = 50;

    /** A CSV of {@code key,f0..f25} rows (seeded), and the in-process scores of its rows by key. */
    static float[] writeCsv(Path file, long seed) throws Exception {
        float[] flat = TestModels.noisyRows(TestModels.example(), ROWS, FEATURES, seed);
        List<String> lines = new ArrayList<>();
        StringBuilder header = new StringBuilder("key");
        for (int c = 0; c < FEATURES; c++) {
            header.append(",f").append(c);
        }
        lines.add(header.toString());
        for (int r = 0; r < ROWS; r++) {
            StringBuilder line = new StringBuilder().append(r);
            for (int c = 0; c < FEATURES; c++) {
                line.append(',').append(flat[r * FEATURES + c]);
            }
            lines.add(line.toString());
        }
        Files.write(file, lines);
        return TestModels.inProcessScores(TestModels.example(), flat, FEATURES);
    }

    /** Writes beside the folder under a dot-name, then renames into it: the convention the watcher expects. */
    static void dropInto(Path folder, Path file) throws Exception {
        Path hidden = folder.resolve("." + file.getFileName() + ".tmp");
        Files.move(file, hidden);
        Files.move(hidden, folder.resolve(file.getFileName().toString()), StandardCopyOption.ATOMIC_MOVE);
    }

    static void await(String what, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 180 s: " + what);
            }
            Thread.sleep(50);
        }
    }

    /** The watcher's events among what the subscriber saw (the test's own probes left out). */
    static List<Map<String, Object>> completions(List<String> events) {
        synchronized (events) {
            return events.stream().map(WatchCommandTest::json).filter(m -> m.containsKey("event")).toList();
        }
    }

    static Map<String, Object> json(String s) {
        return Json.parseObject(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)), "event");
    }

    @Test
    void scoresEachFileThatLandsOncePublishesItsCompletionAndSetsABadFileAside(@TempDir Path dir) throws Exception {
        Path in = Files.createDirectories(dir.resolve("landing"));
        Path out = dir.resolve("scored");
        String url = "postgresql://postgres@127.0.0.1:5432/test?queue=watch-" + Long.toHexString(System.nanoTime());
        String cols = String.join(",", java.util.stream.IntStream.range(0, FEATURES).mapToObj(c -> "f" + c).toList());
        List<String> args = List.of("watch", "--input", in.toString(), "--output", out.toString(), "--model",
                TestModels.example().toString(), "--features-col", cols, "--id-col", "key", "--queue", url,
                "--poll", "100ms", "--settle", "300ms", "--master", "local[1]");

        List<String> events = Collections.synchronizedList(new ArrayList<>());
        try (JobQueue subscriber = JobQueues.open(url)) {
            subscriber.onEvent(events::add);
            // listening for certain before anything is published (a subscriber not yet listening misses events)
            await("the subscriber listening", () -> {
                subscriber.publish("{\"probe\":true}");
                return !events.isEmpty();
            });

            // the files: a CSV, the same rows as one Parquet file (written by Spark elsewhere), a CSV without the id
            // column, and what must be left alone (a dot-file, a file still being written)
            Path staging = Files.createDirectories(dir.resolve("staging"));
            float[] expectedA = writeCsv(staging.resolve("a.csv"), 7);
            float[] expectedB = writeCsv(staging.resolve("b.csv"), 8);
            SparkSession spark = BatchCommand.session("local[1]", "watch-test");
            spark.read().option("header", "true").option("inferSchema", "true").csv(staging.resolve("b.csv").toString())
                    .coalesce(1).write().parquet(staging.resolve("b-dataset").toString());
            try (Stream<Path> parts = Files.list(staging.resolve("b-dataset"))) {
                Path part = parts.filter(p -> p.getFileName().toString().endsWith(".parquet")).findFirst().orElseThrow();
                Files.move(part, staging.resolve("b.parquet"));
            }
            Files.writeString(staging.resolve("bad.csv"), "name,value\nx,1\n");
            Files.writeString(in.resolve(".hidden.csv"), "key,f0\n1,2\n");
            Files.writeString(in.resolve("growing.csv.part"), "key,f0\n1,2\n");

            PrintStream oldErr = System.err;
            ByteArrayOutputStream progress = new ByteArrayOutputStream();
            System.setErr(new PrintStream(progress, true, StandardCharsets.UTF_8));
            int[] exit = {-1};
            Thread watcher = new Thread(() -> exit[0] = Main.run(args.toArray(String[]::new)), "watch-under-test");
            try {
                watcher.start();
                dropInto(in, staging.resolve("a.csv"));
                dropInto(in, staging.resolve("b.parquet"));
                dropInto(in, staging.resolve("bad.csv"));
                await("three completion events", () -> completions(events).size() >= 3);
                watcher.interrupt();
                watcher.join(Duration.ofSeconds(60).toMillis());
            } finally {
                System.setErr(oldErr);
            }
            assertThat(watcher.isAlive()).as("stopped by an interrupt").isFalse();
            assertThat(exit[0]).isZero();
            String log = progress.toString(StandardCharsets.UTF_8);
            assertThat(log).contains("watching " + in.toAbsolutePath()).contains("scoring a.csv")
                    .contains("scored b.parquet: rows in 50, rows out 50, errors 0").contains("failed bad.csv")
                    .contains("stopped watching");

            List<Map<String, Object>> seen = completions(events);
            assertThat(seen).hasSize(3);
            for (String name : List.of("a", "b")) {
                Map<String, Object> e = seen.stream().filter(m -> String.valueOf(m.get("input"))
                        .matches(".*/" + name + "\\.(csv|parquet)")).findFirst().orElseThrow();
                assertThat(e).containsEntry("event", "file-scored").containsEntry("rows", (double) ROWS)
                        .containsEntry("errors", 0.0).containsEntry("output", out.resolve(name).toAbsolutePath()
                                .toString());
                assertThat((Double) e.get("seconds")).isPositive();
            }
            Map<String, Object> bad = seen.stream().filter(m -> "file-failed".equals(m.get("event"))).findFirst()
                    .orElseThrow();
            assertThat(bad.get("input").toString()).endsWith("bad.csv");
            assertThat(bad.get("error").toString()).contains("no id column 'key'");
            assertThat(in.resolve(".failed/bad.csv")).exists();
            assertThat(Files.readString(in.resolve(".failed/bad.csv.error.txt"))).contains("no id column 'key'");
            assertThat(in.resolve("bad.csv")).doesNotExist();

            spark = BatchCommand.session("local[1]", "watch-test-check");
            for (Object[] c : new Object[][] {{"a", expectedA}, {"b", expectedB}}) {
                List<Row> rows = spark.read().parquet(out.resolve((String) c[0]).toString()).collectAsList();
                assertThat(rows).hasSize(ROWS);
                for (Row r : rows) {
                    assertThat(r.getFloat(1)).isCloseTo(((float[]) c[1])[r.getInt(0)], offset(1e-5f));
                }
            }
            spark.stop();
            try (Stream<Path> outputs = Files.list(out)) {
                assertThat(outputs.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("a", "b",
                        ".scoreflow-watch");
            }

            // a restart: the files done are not done again, a new one is
            writeCsv(staging.resolve("d.csv"), 9);
            dropInto(in, staging.resolve("d.csv"));
            List<String> again = new ArrayList<>(args);
            again.add("--once");
            int[] code = new int[1];
            PrintStream oldOut = System.out;
            ByteArrayOutputStream printed = new ByteArrayOutputStream();
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            try {
                code[0] = Main.run(again.toArray(String[]::new));
            } finally {
                System.setOut(oldOut);
            }
            assertThat(code[0]).isZero();
            assertThat(printed.toString(StandardCharsets.UTF_8)).contains("handled 1 new files");
            // NOTIFYs arrive in commit order: once this one is seen, any the restart published has been too
            subscriber.publish("{\"sentinel\":true}");
            await("the sentinel", () -> events.stream().anyMatch(e -> e.contains("sentinel")));
            List<Map<String, Object>> after = completions(events);
            assertThat(after).hasSize(4);
            assertThat(after.get(3)).containsEntry("event", "file-scored").containsEntry("rows", (double) ROWS);
            assertThat(after.get(3).get("input").toString()).endsWith("d.csv");
        }
    }

    @Test
    void watchHelpExplainsWhichFilesAreTakenAndWhen() {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = Main.run("watch", "--help");
        } finally {
            System.setOut(old);
        }
        assertThat(exit).isZero();
        assertThat(buf.toString(StandardCharsets.UTF_8)).contains("--input", "--output", "--queue", "--model",
                "--models", "--settle", "--once", "rename", "scoreflow-watch/", ".failed", "completion event");
    }
}
