package dev.scoreflow.spark.job;

import dev.scoreflow.spark.BatchJob;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The watcher's rules in memory: a fake scorer and a ticker the test moves, so no wait is real. */
class FolderWatcherTest {
    final AtomicLong now = new AtomicLong();
    final List<String> scored = new ArrayList<>();
    final List<String> events = new ArrayList<>();

    FolderWatcher watcher(Path in, Path out) {
        return new FolderWatcher(in, out, (file, output) -> {
            if (file.getFileName().toString().startsWith("bad")) {
                throw new IllegalArgumentException("the input has no id column 'id'");
            }
            scored.add(in.relativize(file) + " -> " + out.relativize(output));
            return new BatchJob.Summary(3, 3, 0, -1, 0.5);
        }, events::add, line -> { }, Duration.ofSeconds(2), now::get);
    }

    @Test
    void takesAFileOnlyOnceItHasSettledAndIgnoresHiddenTemporaryAndOtherFiles(@TempDir Path dir) throws Exception {
        Path in = Files.createDirectories(dir.resolve("in"));
        FolderWatcher w = watcher(in, dir.resolve("out"));
        Files.writeString(in.resolve("a.csv"), "id,x\n1,2\n");
        for (String ignored : List.of(".a.csv", "_tmp.csv", "b.csv.tmp", "c.csv.part", "d.csv~", "notes.txt")) {
            Files.writeString(in.resolve(ignored), "id,x\n");
        }
        assertThat(w.scanOnce()).as("just seen").isZero();
        now.addAndGet(Duration.ofMillis(1999).toNanos());
        assertThat(w.scanOnce()).as("not settled yet").isZero();
        Files.writeString(in.resolve("a.csv"), "id,x\n1,2\n3,4\n"); // it grew: the settle time starts again
        now.addAndGet(Duration.ofSeconds(2).toNanos());
        assertThat(w.scanOnce()).isZero();
        now.addAndGet(Duration.ofSeconds(2).toNanos());
        assertThat(w.scanOnce()).isEqualTo(1);
        assertThat(scored).containsExactly("a.csv -> a");
        assertThat(events).singleElement().asString().contains("file-scored").contains("\"rows\"");
        now.addAndGet(Duration.ofSeconds(5).toNanos());
        assertThat(w.scanOnce()).as("done once").isZero();
        assertThat(w.idle()).isTrue();
    }

    @Test
    void aRestartSkipsWhatWasDoneButScoresAReplacedFileAndSetsABadOneAside(@TempDir Path dir) throws Exception {
        Path in = Files.createDirectories(dir.resolve("in"));
        Path out = dir.resolve("out");
        Files.createDirectories(in.resolve("example"));
        Files.writeString(in.resolve("example/a.csv.gz"), "x");
        Files.writeString(in.resolve("bad.parquet"), "not parquet");
        FolderWatcher first = watcher(in, out);
        first.scanOnce();
        now.addAndGet(Duration.ofSeconds(3).toNanos());
        assertThat(first.scanOnce()).isEqualTo(2);
        assertThat(scored).containsExactly("example/a.csv.gz -> example/a");
        assertThat(in.resolve(".failed/bad.parquet")).exists();
        assertThat(Files.readString(in.resolve(".failed/bad.parquet.error.txt"))).contains("no id column");
        assertThat(events).anyMatch(e -> e.contains("file-failed") && e.contains("no id column"));

        FolderWatcher restarted = watcher(in, out);
        restarted.scanOnce();
        now.addAndGet(Duration.ofSeconds(3).toNanos());
        assertThat(restarted.scanOnce()).as("marked done").isZero();

        Files.writeString(in.resolve("example/a.csv.gz"), "a new one");
        Files.setLastModifiedTime(in.resolve("example/a.csv.gz"), FileTime.fromMillis(System.currentTimeMillis()
                + 60_000));
        restarted.scanOnce();
        now.addAndGet(Duration.ofSeconds(3).toNanos());
        assertThat(restarted.scanOnce()).as("replaced: scored again").isEqualTo(1);
        assertThat(scored).hasSize(2);
    }

    @Test
    void refusesAnOutputInsideTheInput(@TempDir Path dir) {
        assertThatThrownBy(() -> watcher(dir, dir.resolve("scored"))).hasMessageContaining("must not be inside");
        assertThatThrownBy(() -> watcher(dir.resolve("missing"), dir)).hasMessageContaining("is not a directory");
    }
}
