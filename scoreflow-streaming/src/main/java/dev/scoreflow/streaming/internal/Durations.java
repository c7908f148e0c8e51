package dev.scoreflow.streaming;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as people write them on a command line: {@code 500ms}, {@code 10s}, {@code 5m}, {@code 1h}, {@code 2d}. */
final class Durations {
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)?");

    private Durations() {
    }

    /** @throws IllegalArgumentException naming {@code option} if {@code text} is not a duration */
    static long parseMs(String text, String option) {
        Matcher m = DURATION.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException(option + " must be a duration like 500ms, 10s, 5m, 1h or 2d, was '"
                    + text + "'");
        }
        return Long.parseLong(m.group(1)) * unitMs(m.group(2) == null ? "ms" : m.group(2));
    }

    /** Milliseconds in one {@code ms}, {@code s}, {@code m}, {@code h} or {@code d}. */
    static long unitMs(String unit) {
        return switch (unit) {
            case "ms" -> 1L;
            case "s" -> 1_000L;
            case "m" -> 60_000L;
            case "h" -> 3_600_000L;
            case "d" -> 86_400_000L;
            default -> throw new IllegalArgumentException("unknown time unit '" + unit + "' (ms, s, m, h, d)");
        };
    }
}
