package dev.scoreflow.streaming;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The features of a file of events computed in batch, with the same definitions and the same code as the stream
 * ({@link StreamApp}), to train a model on exactly what it will see: each event's features are those the stream
 * would compute if the events arrived in file order. Stateless; safe to call from several threads.
 */
public final class BatchFeatures {
    private BatchFeatures() {
    }

    /**
     * What {@link #writeCsv} wrote.
     *
     * @param written rows written, one per event
     * @param skipped events left out because the stream would dead-letter them (not JSON, a field missing or
     *                mistyped, ...)
     */
    public record Summary(long written, long skipped) {
    }

    /**
     * Reads {@code events} (one JSON object a line) and writes {@code csv}: a header, then for every event its
     * {@code event_id}, the features {@code spec} declares, and the raw fields named in {@code keep} (e.g. the
     * label; empty where absent). Like the stream, keeps of each entity's history what lies at most the longest
     * declared window plus {@code graceMs} behind its newest event.
     *
     * @throws StreamingException if a file cannot be read or written
     */
    public static Summary writeCsv(Path events, FeatureSpec spec, List<String> keep, long graceMs, Path csv) {
        Objects.requireNonNull(spec, "spec");
        if (graceMs < 0) {
            throw new IllegalArgumentException("graceMs must be >= 0, was " + graceMs);
        }
        Map<String, EntityHistory> histories = new HashMap<>();
        long written = 0;
        long skipped = 0;
        try (BufferedReader in = Files.newBufferedReader(events, StandardCharsets.UTF_8);
             BufferedWriter out = Files.newBufferedWriter(csv, StandardCharsets.UTF_8)) {
            out.write("event_id," + String.join(",", spec.names()) + (keep.isEmpty() ? "" : "," + String.join(",", keep)));
            out.newLine();
            String line;
            long n = 0;
            while ((line = in.readLine()) != null) {
                n++;
                try {
                    Event e = EventParser.parse(line.getBytes(StandardCharsets.UTF_8),
                            new Event.Origin(events.toString(), 0, n, null));
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
            throw new StreamingException("cannot compute features of " + events + ": " + e.getMessage(), e);
        }
        return new Summary(written, skipped);
    }
}
