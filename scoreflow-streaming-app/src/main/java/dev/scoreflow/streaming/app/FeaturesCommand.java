package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Log;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
        FeatureSpec spec = FeatureSpec.read(features);
        Map<String, EntityHistory> histories = new HashMap<>();
        long written = 0;
        long skipped = 0;
        try (BufferedReader in = Files.newBufferedReader(input, StandardCharsets.UTF_8);
             BufferedWriter out = Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
            out.write("event_id," + String.join(",", spec.names()) + (keep.isEmpty() ? "" : "," + String.join(",", keep)));
            out.newLine();
            String line;
            long n = 0;
            while ((line = in.readLine()) != null) {
                n++;
                try {
                    Event e = EventParser.parse(line.getBytes(StandardCharsets.UTF_8),
                            new Event.Origin(input.toString(), 0, n, null));
                    EntityHistory.Values v = EntityHistory.Values.of(e, spec);
                    EntityHistory h = histories.getOrDefault(e.entity(), EntityHistory.empty(spec));
                    float[] x = h.features(spec, v);
                    StringBuilder row = new StringBuilder(e.eventId());
                    for (float f : x) {
                        row.append(',').append(f);
                    }
                    for (String k : keep) {
                        Object o = e.fields().get(k);
                        row.append(',').append(o == null ? "" : o instanceof Double d && d == Math.rint(d)
                                ? Long.toString(d.longValue()) : o.toString());
                    }
                    histories.put(e.entity(), h.append(v, spec.maxWindowMs() + graceMs, Integer.MAX_VALUE));
                    out.write(row.toString());
                    out.newLine();
                    written++;
                } catch (Rejection r) {
                    skipped++;
                }
            }
        } catch (IOException e) {
            throw new StreamingException("cannot compute features of " + input + ": " + e.getMessage(), e);
        }
        Log.info(String.format("wrote %,d rows to %s (%,d events skipped: the stream would dead-letter them)",
                written, output, skipped));
    }
}
