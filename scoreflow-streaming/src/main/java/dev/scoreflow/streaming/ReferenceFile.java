package dev.scoreflow.streaming;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.internal.Json;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The reference distribution for PSI from a file: JSON lines of scored events, as the stream scorer writes them to
 * its output topic ({@code score} and a {@code features} object by name), either bare or as {@code scoreflow
 * consume} prints them (the record under {@code value}). So a known-good period is kept as a reference with
 * {@code scoreflow consume --topic scores --from-beginning --max 50000 > reference.jsonl}, or a training set scored
 * offline is written in the same shape.
 *
 * <p>Every line must carry the score and every feature of the features file (a reference that lacks a feature
 * would make that feature's PSI meaningless): the first line that does not is an error naming it.
 */
final class ReferenceFile {
    private ReferenceFile() {
    }

    static WindowStats read(Path file, FeatureSpec spec) {
        List<String> names = spec.names();
        WindowStats ref = new WindowStats(0, names.size());
        float[] x = new float[names.size()];
        long n = 0;
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                String where = file + ":" + n + ": ";
                Map<String, Object> record = record(line, where);
                float score = number(record.get("score"), "score", where);
                if (!(record.get("features") instanceof Map<?, ?> features)) {
                    throw new StreamingException(where + "no 'features' object (a line of the scorer's output "
                            + "has one: the feature vector by name)");
                }
                for (int i = 0; i < x.length; i++) {
                    x[i] = number(features.get(names.get(i)), "features." + names.get(i), where);
                }
                // the positive flag does not enter PSI; the reference keeps counts and histograms only
                ref.add(0, score, false, x);
            }
        } catch (IOException e) {
            throw new StreamingException("cannot read the reference file " + file + ": " + e.getMessage(), e);
        }
        if (ref.count == 0) {
            throw new StreamingException("the reference file " + file + " has no scored events");
        }
        return ref;
    }

    private static Map<String, Object> record(String line, String where) {
        Object v;
        try {
            v = Json.parse(line);
        } catch (BadInputException e) {
            throw new StreamingException(where + "not JSON: " + e.getMessage());
        }
        if (v instanceof Map<?, ?> m && m.containsKey("value") && !m.containsKey("score")) {
            v = m.get("value"); // a line of 'scoreflow consume'
            if (v instanceof String s) {
                return record(s, where);
            }
        }
        if (!(v instanceof Map<?, ?>)) {
            throw new StreamingException(where + "expected a JSON object (a scored event), got "
                    + Json.typeName(v));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) v;
        return m;
    }

    private static float number(Object v, String name, String where) {
        if (!(v instanceof Number num) || !Double.isFinite(num.doubleValue())) {
            throw new StreamingException(where + "'" + name + "' must be a finite number, was "
                    + (v == null ? "missing" : Json.typeName(v) + " " + v));
        }
        return num.floatValue();
    }
}
