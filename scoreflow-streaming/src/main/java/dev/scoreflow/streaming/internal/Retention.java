package dev.scoreflow.streaming.internal;

/**
 * A topic's deletion settings as the broker applies them: {@code retention.ms}, {@code retention.bytes} (-1: no
 * limit) and {@code cleanup.policy}. Retention deletes only under the {@code delete} policy; a compacted-only topic
 * keeps records until a newer one with the same key supersedes them, whatever its retention settings say.
 *
 * @param ms            {@code retention.ms}; -1 keeps records forever
 * @param bytes         {@code retention.bytes} per partition; -1 for no size limit
 * @param cleanupPolicy {@code cleanup.policy}: {@code delete}, {@code compact} or {@code compact,delete}
 */
public record Retention(long ms, long bytes, String cleanupPolicy) {
    /** The broker defaults: a week, no size limit, delete. */
    public static final Retention DEFAULT = new Retention(604_800_000L, -1, "delete");

    /** Whether records older than {@link #ms} are deleted. */
    public boolean byTime() {
        return deletes() && ms >= 0;
    }

    /** Whether old segments are deleted once a partition holds more than {@link #bytes}. */
    public boolean bySize() {
        return deletes() && bytes >= 0;
    }

    private boolean deletes() {
        return cleanupPolicy.contains("delete");
    }
}
