package dev.scoreflow.streaming.app;

import dev.scoreflow.api.internal.Log;
import dev.scoreflow.streaming.BatchFeatures;
import dev.scoreflow.streaming.FeatureSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code scoreflow features}: the features of a file of events, computed in batch with the same definitions and the
 * same code as the stream (to train a model on exactly what it will see).
 */
@Command(name = "features", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Compute the declared features of every event of a JSON-lines file, in file order, as the "
                + "stream scorer would if the events arrived in that order, and write them as CSV: event_id, the "
                + "features, then the --keep fields. Events the stream would dead-letter are skipped and counted.",
                ""})
public final class FeaturesCommand implements Runnable {
    @Option(names = "--input", required = true, paramLabel = "FILE", description = "Events, one JSON object a line.")
    Path input;

    @Option(names = "--features", required = true, paramLabel = "FILE", description = "The feature definitions.")
    Path features;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "CSV to write.")
    Path output;

    @Option(names = "--keep", split = ",", paramLabel = "FIELD", description = "Raw fields to copy after the "
            + "features (e.g. the label).")
    List<String> keep = List.of();

    @Option(names = "--grace-ms", defaultValue = "5000", paramLabel = "MS", description = "As the stream's (history "
            + "kept behind the newest event) (default: ${DEFAULT-VALUE}).")
    long graceMs;

    @Override
    public void run() {
        BatchFeatures.Summary done = BatchFeatures.writeCsv(input, FeatureSpec.read(features), keep, graceMs, output);
        Log.info(String.format("wrote %,d rows to %s (%,d events skipped: the stream would dead-letter them)",
                done.written(), output, done.skipped()));
    }
}
