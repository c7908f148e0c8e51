package dev.scoreflow.streaming.internal;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How close to deletion the oldest unread record of a partition may come before the lag monitor alerts: a fixed
 * time ({@code 10m}) or a share of the topic's {@code retention.ms} ({@code 20%}), so one setting suits topics kept
 * for an hour and for a week. Immutable.
 *
 * @param text     as given
 * @param fraction the share of retention.ms in (0, 1], or NaN for a fixed time
 * @param millis   the fixed time, or -1 for a share
 */
public record AlertThreshold(String text, double fraction, long millis) {
    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)");
    private static final Pattern PERCENT = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*%");

    /**
     * Parses {@code 20%}, {@code 500ms}, {@code 30s}, {@code 10m}, {@code 2h}, {@code 1d} or an ISO-8601 duration
     * ({@code PT10M}).
     *
     * @throws IllegalArgumentException for anything else, a share outside (0, 100] % or a negative duration
     */
    public static AlertThreshold parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        Matcher p = PERCENT.matcher(t);
        if (p.matches()) {
            double percent = Double.parseDouble(p.group(1));
            if (!(percent > 0 && percent <= 100)) {
                throw new IllegalArgumentException("alert threshold " + text + " is not a share of retention.ms in "
                        + "(0, 100] %");
            }
            return new AlertThreshold(text, percent / 100, -1);
        }
        Matcher d = DURATION.matcher(t);
        if (d.matches()) {
            return new AlertThreshold(text, Double.NaN,
                    Math.round(Double.parseDouble(d.group(1)) * Durations.unitMs(d.group(2))));
        }
        try {
            Duration iso = Duration.parse(text.trim());
            if (iso.isNegative()) {
                throw new IllegalArgumentException("alert threshold " + text + " is negative");
            }
            return new AlertThreshold(text, Double.NaN, iso.toMillis());
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("alert threshold '" + text + "' is neither a duration (500ms, 30s, "
                    + "10m, 2h, 1d, PT10M) nor a share of retention.ms (20%)", e);
        }
    }

    /** The threshold for a topic kept {@code retentionMs}. */
    public long millisFor(long retentionMs) {
        return Double.isNaN(fraction) ? millis : (long) (fraction * retentionMs);
    }

    @Override
    public String toString() {
        return text;
    }
}
