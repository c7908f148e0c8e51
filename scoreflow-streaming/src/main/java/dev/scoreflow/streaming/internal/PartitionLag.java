package dev.scoreflow.streaming.internal;

import java.util.OptionalLong;

/**
 * How far a consumer group is behind on one partition, and how soon what it has not read yet may be deleted: an
 * {@link Observation} and the numbers derived from it at one instant. Immutable.
 *
 * <p>Time-based retention deletes a whole segment once its newest record is older than {@code retention.ms}, at the
 * broker's next retention check ({@code log.retention.check.interval.ms}). The newest record of the segment holding
 * the oldest unread record is at least as young as that record, so {@link #msUntilDeletion} is the earliest the
 * record can go: the real deletion comes at that time or later, never sooner (unless the producer set timestamps
 * in the future, or size retention strikes first).
 *
 * @param observed          what was seen on the cluster
 * @param observedAt        when (epoch ms, from the monitor's clock)
 * @param lag               records (offsets) the group has still to read: end - committed, or end - log start if
 *                          it has committed nothing here
 * @param lost              offsets deleted before the group read them: log start - committed when the committed
 *                          offset is behind the log start, else 0
 * @param oldestUnreadAgeMs how old the oldest unread record still there is (now - its timestamp); empty if nothing
 *                          is left to read or its timestamp is unknown
 * @param msUntilDeletion   time left before that record may be deleted (its timestamp + retention.ms - now;
 *                          negative: it is overdue and goes at the next retention check); empty if nothing is at
 *                          risk by time (nothing unread, no time retention) or the timestamp is unknown
 */
public record PartitionLag(Observation observed, long observedAt, long lag, long lost, OptionalLong oldestUnreadAgeMs,
                    OptionalLong msUntilDeletion) {

    /** The numbers derived from {@code o} at {@code now} (epoch ms). */
    public static PartitionLag of(Observation o, long now) {
        long from = o.committed().orElse(o.logStart());
        long lag = Math.max(0, o.logEnd() - from);
        long lost = o.committed().isPresent() ? Math.max(0, o.logStart() - o.committed().getAsLong()) : 0;
        OptionalLong age = OptionalLong.empty();
        OptionalLong left = OptionalLong.empty();
        if (unreadLeft(o) && o.oldestUnreadTimestamp().isPresent()) {
            long ts = o.oldestUnreadTimestamp().getAsLong();
            age = OptionalLong.of(now - ts);
            if (o.retention().byTime()) {
                left = OptionalLong.of(ts + o.retention().ms() - now);
            }
        }
        return new PartitionLag(o, now, lag, lost, age, left);
    }

    /** Whether records the group has not read are still in the log (offsets, at least: some may be markers). */
    public boolean unreadLeft() {
        return unreadLeft(observed);
    }

    private static boolean unreadLeft(Observation o) {
        // records below the log start are gone: what is still at risk starts at the later of the two
        return o.logEnd() > Math.max(o.committed().orElse(o.logStart()), o.logStart());
    }

    public String topic() {
        return observed.partition().topic();
    }

    public int partition() {
        return observed.partition().partition();
    }
}
