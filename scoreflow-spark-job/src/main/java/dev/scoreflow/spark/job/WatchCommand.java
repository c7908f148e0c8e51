package dev.scoreflow.spark.job;

import dev.scoreflow.spark.BatchJob;
import dev.scoreflow.api.internal.Log;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobQueues;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code scoreflow watch}: the lecture's "cloud function" — scores each new file that lands in a folder with the
 * batch job (in-process, embedded Spark) and publishes a completion event on a queue. The rules of which files are
 * taken, and when, are {@link FolderWatcher}'s.
 */
@Command(name = "watch", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Watch a folder (a mounted bucket works the same) and score each new Parquet or CSV file that "
                + "lands in it with the batch job, in-process with embedded Spark: the scored Parquet goes to "
                + "OUTPUT/<file name without extension>/, and with --queue a completion event (JSON: event, input, "
                + "output, rows, errors, seconds) is published to every subscriber of the queue.",
                "Which files: *.parquet, *.csv, *.csv.gz in INPUT (with --models: in INPUT/<model name>/), once "
                        + "their size and time have not changed for --settle. Names starting with '.' or '_' or "
                        + "ending in .tmp/.part are ignored: write there, then rename into place (atomic). Each file "
                        + "is scored once: OUTPUT/.scoreflow-watch/ remembers what was done across restarts (a file "
                        + "replaced by a different one of the same name is scored again). A file that cannot be "
                        + "scored is moved to INPUT/.failed/ with its reason, published as a file-failed event, and "
                        + "the watcher goes on. Ctrl-C stops it.", ""},
        footer = {"", "Example:",
                "  scoreflow watch --input landing --output scored --model models/example/1/model.onnx \\",
                "      --features-col f0,f1,...,f25 --id-col key --queue postgresql://postgres@127.0.0.1:5432/test",
                "  mv /tmp/part-0001.csv landing/        # an atomic rename: scored on the next look"})
public final class WatchCommand implements Callable<Integer> {
    @Option(names = "--input", required = true, paramLabel = "DIR", description = "The folder to watch.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Where scored files go (not "
            + "inside --input).")
    Path output;

    @ArgGroup(multiplicity = "1")
    Models models;

    static final class Models {
        @Option(names = "--model", paramLabel = "FILE", description = "Score every file with this ONNX model.")
        Path model;

        @Option(names = "--models", paramLabel = "DIR", description = "A model repository "
                + "(DIR/<name>/<version>/model.onnx): a file in INPUT/<name>/ is scored with the highest version "
                + "of model <name>.")
        Path models;
    }

    @Option(names = "--queue", paramLabel = "URL", description = "Publish each completion event on this queue "
            + "(postgresql://[user@]host[:port]/database[?queue=NAME]); subscribers see it with onEvent.")
    String queue;

    @CommandLine.Mixin
    ColumnOptions columns = new ColumnOptions();

    @Option(names = "--poll", paramLabel = "DURATION", defaultValue = "1s", description = "How often the folder "
            + "is listed (default: ${DEFAULT-VALUE}).")
    String poll;

    @Option(names = "--settle", paramLabel = "DURATION", defaultValue = "2s", description = "A file is taken once "
            + "its size and time stayed the same this long; 0s takes it on sight (default: ${DEFAULT-VALUE}).")
    String settle;

    @Option(names = "--once", description = "Handle what is there (waiting for it to settle), then exit.")
    boolean once;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master (default: local[*]).")
    String master;

    @Option(names = "--batch-rows", defaultValue = "1000", description = "Rows per inference call (default: "
            + "${DEFAULT-VALUE}).")
    int batchRows;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        columns.check(spec.commandLine());
        Duration pollEvery = duration(poll, "--poll");
        Duration settleFor = duration(settle, "--settle");
        Files.createDirectories(output);
        JobQueue q = queue == null ? null : JobQueues.open(queue);
        SparkSession spark = BatchCommand.session(master, "scoreflow-watch");
        try {
            FolderWatcher w = new FolderWatcher(input, output, (in, out) -> BatchJob.run(spark, options(in, out),
                    Log::info), q == null ? e -> { } : q::publish, Log::info, settleFor, System::nanoTime);
            if (!once) {
                w.run(pollEvery);
                return 0;
            }
            int handled = w.scanOnce();
            while (!w.idle()) {
                Thread.sleep(Math.max(10, Math.min(pollEvery.toMillis(), settleFor.toMillis())));
                handled += w.scanOnce();
            }
            System.out.println("handled " + handled + " new files in " + input);
            return 0;
        } finally {
            boolean interrupted = Thread.interrupted(); // how a watcher is stopped; Spark's stop must not see it
            spark.stop();
            if (q != null) {
                q.close();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private BatchJob.Options options(Path in, Path out) {
        String model = models.model != null ? models.model.toString() : modelFor(in).toString();
        // overwrite: an output without its marker is what a crash left half-written
        return BatchJob.Options.builder(in.toString(), out.toString()).modelFile(model)
                .featuresCol(columns.featuresCol).textCol(columns.textCol).idCol(columns.idCol)
                .threshold(columns.threshold).errorColumn(columns.errorColumn()).batchRows(batchRows).maxInFlight(1)
                .overwrite(true).build();
    }

    /** INPUT/<name>/file: the highest version of model {@code name} in the repository. */
    private Path modelFor(Path file) {
        Path rel = input.toAbsolutePath().normalize().relativize(file.toAbsolutePath().normalize());
        if (rel.getNameCount() < 2) {
            throw new IllegalArgumentException("with --models, a file goes in INPUT/<model name>/; " + rel
                    + " is in no model's folder");
        }
        String name = rel.getName(0).toString();
        Path dir = models.models.resolve(name);
        try (Stream<Path> versions = Files.list(dir)) {
            return versions.filter(v -> Files.isRegularFile(v.resolve("model.onnx")))
                    .max(Comparator.comparing((Path v) -> numeric(v.getFileName().toString()))
                            .thenComparing(v -> v.getFileName().toString()))
                    .map(v -> v.resolve("model.onnx"))
                    .orElseThrow(() -> new IllegalArgumentException("model '" + name + "' has no version with a "
                            + "model.onnx in " + dir));
        } catch (IOException e) {
            throw new IllegalArgumentException("no model '" + name + "' in " + models.models + " (" + e + ")");
        }
    }

    private static long numeric(String v) {
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    static Duration duration(String v, String option) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)(ms|s|m)").matcher(v.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException(option + " must be a duration like 500ms, 2s or 1m, got '" + v + "'");
        }
        long n = Long.parseLong(m.group(1));
        return m.group(2).equals("ms") ? Duration.ofMillis(n) : m.group(2).equals("s") ? Duration.ofSeconds(n)
                : Duration.ofMinutes(n);
    }
}
