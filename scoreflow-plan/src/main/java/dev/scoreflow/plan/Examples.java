package dev.scoreflow.plan;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The plan files that ship with Scoreflow: the lecture's three cases ({@code case1}, {@code case2}, {@code case3}), and
 * case 3 at a quarter-hour step with its peak hour's requests all in the first quarter ({@code case3-burst}).
 */
public final class Examples {
    public static final List<String> NAMES = List.of("case1", "case2", "case3", "case3-burst");

    private Examples() {
    }

    /** The example's text. */
    public static String text(String name) {
        if (!NAMES.contains(name)) {
            throw new IllegalArgumentException("no example plan '" + name + "' (there are " + NAMES + ")");
        }
        try (InputStream in = Examples.class.getResourceAsStream("examples/" + name + ".plan")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Plan plan(String name) {
        return PlanFile.parse(name + ".plan", text(name).lines().toList(), java.util.Map.of());
    }
}
