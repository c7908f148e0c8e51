package dev.scoreflow.spark.job;

import dev.scoreflow.spark.BatchJob;
import dev.scoreflow.api.internal.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.stream.Stream;

/**
 * The lecture's "cloud function" trigger: scores each new data file that lands in a folder, once, and announces it.
 *
 * <p><b>Which files.</b> Regular files ending in {@code .parquet}, {@code .csv} or {@code .csv.gz}, in the input
 * folder or one level of sub-folders (where {@code --models} looks up the model by the sub-folder's name). Names that
 * start with {@code .} or {@code _}, or end in {@code .tmp}, {@code .part} or {@code ~}, are someone's file still
 * being written and are ignored: write there, then rename into place (an atomic rename within one file system is the
 * convention this prefers). A file is taken once its size and modification time have stayed the same for the settle
 * time (files written in place are thereby left alone while they grow; 0 takes a file on sight, for writers that
 * always rename). The folder is listed every poll interval rather than watched with the OS's notifications, which
 * mounted buckets (FUSE, NFS) do not deliver.
 *
 * <p><b>Once each.</b> After a file is handled, a marker ({@code OUTPUT/.scoreflow-watch/<name>.json}, the
 * completion event) records it with its size and modification time; a restarted watcher skips marked files. A file
 * replaced by another of the same name (a different size or time) is scored again. A crash between the scoring and
 * the marker scores the file again next time; its output is replaced, not doubled.
 *
 * <p><b>Bad files.</b> A file the batch job fails on is moved to {@code INPUT/.failed/} with its reason beside it
 * ({@code <name>.error.txt}), reported as a {@code file-failed} event, and marked; the watcher goes on.
 *
 * <p>Not thread-safe: one thread runs {@link #scanOnce} or {@link #run}.
 */
public final class FolderWatcher {
    /** Scores one file into an output directory (the batch job). */
    @FunctionalInterface
    public interface FileScorer {
        BatchJob.Summary score(Path input, Path output) throws Exception;
    }

    static final String MARKERS = ".scoreflow-watch";
    static final String FAILED = ".failed";
    private static final List<String> SUFFIXES = List.of(".parquet", ".csv", ".csv.gz");

    private final Path input;
    private final Path output;
    private final FileScorer scorer;
    private final Consumer<String> events;
    private final Consumer<String> log;
    private final Duration settle;
    private final LongSupplier nanoTime;
    /** Files seen but not yet settled: what they looked like, and since when. */
    private final Map<Path, Seen> pending = new HashMap<>();

    private record Seen(long size, long modified, long sinceNanos) {
    }

    /**
     * @param events receives each completion event's JSON (the queue's publish); may throw, which is logged
     * @param log    progress lines
     */
    public FolderWatcher(Path input, Path output, FileScorer scorer, Consumer<String> events, Consumer<String> log,
                         Duration settle, LongSupplier nanoTime) {
        if (!Files.isDirectory(input)) {
            throw new IllegalArgumentException("the input " + input + " is not a directory");
        }
        if (settle.isNegative()) {
            throw new IllegalArgumentException("the settle time must not be negative, was " + settle);
        }
        this.input = input.toAbsolutePath().normalize();
        this.output = output.toAbsolutePath().normalize();
        if (this.output.startsWith(this.input)) {
            throw new IllegalArgumentException("the output " + output + " must not be inside the input " + input
                    + ": the watcher would score its own output");
        }
        this.scorer = scorer;
        this.events = events;
        this.log = log;
        this.settle = settle;
        this.nanoTime = nanoTime;
        try {
            Files.createDirectories(this.output.resolve(MARKERS));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + this.output.resolve(MARKERS) + ": " + e.getMessage(), e);
        }
    }

    /** Scans every {@code poll} until the thread is interrupted. */
    public void run(Duration poll) {
        log.accept("watching " + input + " every " + poll.toMillis() + " ms (files settle " + settle.toMillis()
                + " ms); scored files go to " + output);
        while (!Thread.currentThread().isInterrupted()) {
            scanOnce();
            try {
                Thread.sleep(poll.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        log.accept("stopped watching " + input);
    }

    /** Lists the folder once and handles every file that is ready; returns how many it handled. */
    public int scanOnce() {
        int handled = 0;
        for (Path f : candidates()) {
            if (Thread.currentThread().isInterrupted()) {
                break;
            }
            if (ready(f)) {
                handle(f);
                handled++;
            }
        }
        return handled;
    }

    /** Whether nothing seen is still waiting to settle. */
    public boolean idle() {
        return pending.isEmpty();
    }

    private List<Path> candidates() {
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(input, 2)) {
            s.filter(Files::isRegularFile).filter(this::wanted).sorted().forEach(out::add);
        } catch (IOException | UncheckedIOException e) {
            log.accept("cannot list " + input + ": " + e.getMessage() + "; trying again");
        }
        pending.keySet().retainAll(out);
        return out;
    }

    private boolean wanted(Path f) {
        for (Path part : input.relativize(f)) {
            String p = part.toString();
            if (p.startsWith(".") || p.startsWith("_") || p.endsWith(".tmp") || p.endsWith(".part")
                    || p.endsWith("~")) {
                return false;
            }
        }
        String name = f.getFileName().toString().toLowerCase(Locale.ROOT);
        return SUFFIXES.stream().anyMatch(name::endsWith);
    }

    /** Unmarked, and unchanged for the settle time. */
    private boolean ready(Path f) {
        long[] stamp = stamp(f);
        if (stamp == null) {
            pending.remove(f); // gone meanwhile
            return false;
        }
        long size = stamp[0];
        long modified = stamp[1];
        if (marked(f, size, modified)) {
            pending.remove(f);
            return false;
        }
        long now = nanoTime.getAsLong();
        Seen seen = pending.get(f);
        if (seen == null || seen.size() != size || seen.modified() != modified) {
            pending.put(f, new Seen(size, modified, now));
            return settle.isZero();
        }
        return now - seen.sinceNanos() >= settle.toNanos();
    }

    /** The file's size and modification time (ms), or null if it is gone. */
    private static long[] stamp(Path f) {
        try {
            return new long[] {Files.size(f), Files.getLastModifiedTime(f).toMillis()};
        } catch (IOException e) {
            return null;
        }
    }

    private Path marker(Path f) {
        String name = input.relativize(f).toString().replace("%", "%25").replace(f.getFileSystem().getSeparator(),
                "%2F");
        return output.resolve(MARKERS).resolve(name + ".json");
    }

    private boolean marked(Path f, long size, long modified) {
        Path m = marker(f);
        if (!Files.isRegularFile(m)) {
            return false;
        }
        try {
            Map<String, Object> done = Json.parseObject(java.nio.ByteBuffer.wrap(Files.readAllBytes(m)), "marker");
            return done.get("size") instanceof Number s && s.longValue() == size
                    && done.get("modified") instanceof Number t && t.longValue() == modified;
        } catch (IOException | RuntimeException e) {
            return false; // an unreadable marker: score it again rather than never
        }
    }

    /** Where a file's scored output goes: its path under the output, without the extension. */
    Path outputFor(Path f) {
        String rel = input.relativize(f).toString();
        String lower = rel.toLowerCase(Locale.ROOT);
        for (String suffix : SUFFIXES) {
            if (lower.endsWith(suffix)) {
                rel = rel.substring(0, rel.length() - suffix.length());
                break;
            }
        }
        return output.resolve(rel);
    }

    private void handle(Path f) {
        pending.remove(f);
        String rel = input.relativize(f).toString();
        long[] stamp = stamp(f);
        if (stamp == null) {
            return;
        }
        long size = stamp[0];
        long modified = stamp[1];
        Path out = outputFor(f);
        log.accept("scoring " + rel + " (" + String.format(Locale.ROOT, "%,d", size) + " bytes) into " + out);
        long start = nanoTime.getAsLong();
        Map<String, Object> event = new LinkedHashMap<>();
        try {
            BatchJob.Summary s = scorer.score(f, out);
            event.put("event", "file-scored");
            event.put("input", f.toString());
            event.put("output", out.toString());
            event.put("rows", s.rowsOut());
            event.put("errors", s.errors());
            event.put("seconds", Math.round(s.seconds() * 1000) / 1000.0);
            log.accept("scored " + rel + ": " + s);
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
                return; // stopping: not marked, scored again next time
            }
            String why = BatchCommand.rootCause(e);
            Path aside = moveAside(f, why);
            event.put("event", "file-failed");
            event.put("input", f.toString());
            event.put("error", why.length() > 1000 ? why.substring(0, 1000) + "..." : why);
            if (aside != null) {
                event.put("moved_to", aside.toString());
            }
            event.put("seconds", Math.round((nanoTime.getAsLong() - start) / 1e6) / 1000.0);
            log.accept("failed " + rel + ": " + why + (aside != null ? "; moved to " + aside : ""));
        }
        String json = Json.write(event);
        Map<String, Object> marker = new LinkedHashMap<>(event);
        marker.put("size", size);
        marker.put("modified", modified);
        try {
            Path m = marker(f);
            Path tmp = m.resolveSibling("." + m.getFileName() + ".tmp");
            Files.writeString(tmp, Json.write(marker), StandardCharsets.UTF_8);
            Files.move(tmp, m, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            log.accept("cannot mark " + rel + " done (" + e.getMessage() + "): a restart scores it again");
        }
        try {
            events.accept(json);
        } catch (RuntimeException e) {
            log.accept("cannot publish the completion of " + rel + ": " + e.getMessage());
        }
    }

    /** Moves a bad file to INPUT/.failed/ with its reason beside it; null if it cannot (then the marker alone). */
    private Path moveAside(Path f, String why) {
        try {
            Path dir = input.resolve(FAILED);
            Files.createDirectories(dir);
            Path to = dir.resolve(input.relativize(f).toString().replace(f.getFileSystem().getSeparator(), "_"));
            try {
                Files.move(f, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(f, to, StandardCopyOption.REPLACE_EXISTING);
            }
            Files.writeString(to.resolveSibling(to.getFileName() + ".error.txt"), why + "\n", StandardCharsets.UTF_8);
            return to;
        } catch (IOException e) {
            log.accept("cannot move " + f + " aside: " + e.getMessage());
            return null;
        }
    }
}
