package dev.scoreflow.streaming.internal;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as people write them on a command line ({@code 500ms}, {@code 10s}, {@code 5m}, {@code 1h}, {@code 2d})
 * and as people read them ({@link #format}).
 */
public final class Durations {
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)?");

    private Durations() {
    }

    /** @throws IllegalArgumentException naming {@code option} if {@code text} is not a duration */
    public static long parseMs(String text, String option) {
        Matcher m = DURATION.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException(option + " must be a duration like 500ms, 10s, 5m, 1h or 2d, was '"
                    + text + "'");
        }
        return Long.parseLong(m.group(1)) * unitMs(m.group(2) == null ? "ms" : m.group(2));
    }

    /** Milliseconds in one {@code ms}, {@code s}, {@code m}, {@code h} or {@code d}. */
    public static long unitMs(String unit) {
        return switch (unit) {
            case "ms" -> 1L;
            case "s" -> 1_000L;
            case "m" -> 60_000L;
            case "h" -> 3_600_000L;
            case "d" -> 86_400_000L;
            default -> throw new IllegalArgumentException("unknown time unit '" + unit + "' (ms, s, m, h, d)");
        };
    }

    /** A time span the way people read it, truncated to its last unit: 850ms, 12.3s, 4m12s, 2h03m, 3d04h. */
    public static String format(long ms) {
        if (ms < 0) {
            return "-" + format(-ms);
        }
        if (ms < 1_000) {
            return ms + "ms";
        }
        if (ms < 60_000) {
            // truncated, not rounded: 2,999 ms left is not "3.0s", which would read as at the 3 s threshold
            return String.format(Locale.ROOT, "%d.%ds", ms / 1000, ms % 1000 / 100);
        }
        long s = ms / 1000;
        if (s < 3_600) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        if (s < 86_400) {
            return String.format(Locale.ROOT, "%dh%02dm", s / 3_600, s % 3_600 / 60);
        }
        return String.format(Locale.ROOT, "%dd%02dh", s / 86_400, s % 86_400 / 3_600);
    }
}
