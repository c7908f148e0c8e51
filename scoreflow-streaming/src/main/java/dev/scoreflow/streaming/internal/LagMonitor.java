package dev.scoreflow.streaming.internal;

import dev.scoreflow.api.internal.Metrics;
import dev.scoreflow.streaming.StreamingException;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.function.LongSupplier;
import java.util.function.ToDoubleFunction;

/**
 * The lag monitor of a consumer group (a Kafka Streams app's group is its application id): per partition, how far
 * the group is behind, how old its oldest unread record is, how long before retention may delete that record, and
 * how many records retention deleted before the group read them. Kafka deletes by age and size whether or not
 * anyone has read a record; this is the warning before that happens, and the record of it once it has.
 *
 * <p>{@link #poll} takes a fresh look at the cluster (through a {@link Probe}) and keeps it as the latest snapshot;
 * {@link #register} serves the latest snapshot as Prometheus gauges, so whoever owns the registry decides how often
 * to poll (a scrape never waits on the cluster). The clock ("now", epoch ms) is injected so the arithmetic can be
 * tested without waiting. Thread-safe: polls may overlap; the snapshot is replaced whole.
 */
public final class LagMonitor implements AutoCloseable {
    /** One look at the cluster: an {@link Observation} per partition the group reads. */
    public interface Probe extends AutoCloseable {
        /** @throws StreamingException naming what is missing or failed (the group, a topic, the cluster) */
        List<Observation> observe();

        @Override
        default void close() {
        }
    }

    private final String group;
    private final Probe probe;
    private final LongSupplier clock;
    private volatile List<PartitionLag> last = List.of();

    public LagMonitor(String group, Probe probe, LongSupplier clock) {
        this.group = Objects.requireNonNull(group, "group");
        this.probe = Objects.requireNonNull(probe, "probe");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * A monitor of {@code group} on the cluster {@code client} points at, over every topic the group has committed
     * offsets for, or only {@code topic} (every partition of it) if not null.
     */
    public static LagMonitor create(Properties client, String group, String topic, LongSupplier clock) {
        return new LagMonitor(group, new KafkaLagProbe(client, group, topic), clock);
    }

    public String group() {
        return group;
    }

    /** Looks at the cluster now and returns the lag of every partition, sorted by topic and partition. */
    public List<PartitionLag> poll() {
        List<Observation> seen = probe.observe();
        long now = clock.getAsLong();
        List<PartitionLag> lags = new ArrayList<>(seen.size());
        for (Observation o : seen) {
            lags.add(PartitionLag.of(o, now));
        }
        lags.sort((a, b) -> a.topic().equals(b.topic()) ? Integer.compare(a.partition(), b.partition())
                : a.topic().compareTo(b.topic()));
        List<PartitionLag> snapshot = List.copyOf(lags);
        last = snapshot;
        return snapshot;
    }

    /** The latest {@link #poll}'s result (empty before the first). */
    public List<PartitionLag> last() {
        return last;
    }

    /**
     * What in {@code lags} needs someone's attention, one sentence each: records already deleted unread, and
     * partitions whose oldest unread record may be deleted sooner than {@code threshold}.
     */
    public List<String> alerts(List<PartitionLag> lags, AlertThreshold threshold) {
        List<String> out = new ArrayList<>();
        for (PartitionLag l : lags) {
            String where = l.topic() + "-" + l.partition();
            if (l.lost() > 0) {
                out.add(String.format("%s: %,d records were deleted before group %s read them (committed offset "
                        + "%d, the log now starts at %d)", where, l.lost(), group,
                        l.observed().committed().getAsLong(), l.observed().logStart()));
            }
            if (l.msUntilDeletion().isPresent()) {
                long left = l.msUntilDeletion().getAsLong();
                long limit = threshold.millisFor(l.observed().retention().ms());
                if (left < limit) {
                    String when = left >= 0 ? "may be deleted in " + Durations.format(left)
                            : "is " + Durations.format(-left) + " past retention and goes at the next retention "
                            + "check";
                    out.add(String.format("%s: the oldest unread record of group %s %s (%,d records behind; "
                            + "retention.ms %d; alert below %s)", where, group, when, l.lag(),
                            l.observed().retention().ms(), Durations.format(limit)));
                }
            }
        }
        return out;
    }

    /**
     * Adds the latest snapshot's numbers to {@code registry} as gauges labelled by topic and partition: {@code
     * scoreflow_stream_lag_records}, {@code scoreflow_stream_seconds_until_unread_deleted} (+Inf when nothing is at
     * risk by time, negative when overdue, absent when unknown), {@code scoreflow_stream_unread_records_lost} and
     * {@code scoreflow_stream_oldest_unread_age_seconds} (absent when nothing is unread). Call once per registry;
     * the values are those of the latest {@link #poll}, which the caller schedules.
     */
    public void register(Metrics registry) {
        gauge(registry, "scoreflow_stream_lag_records", "records the consumer group has still to read, per "
                + "partition (log end offset - committed offset)", l -> l.lag());
        gauge(registry, "scoreflow_stream_seconds_until_unread_deleted", "seconds before retention.ms may delete "
                + "the oldest record the group has not read (+Inf: nothing at risk by time; negative: overdue)", l -> {
                    if (l.msUntilDeletion().isPresent()) {
                        return l.msUntilDeletion().getAsLong() / 1000.0;
                    }
                    // unread records under time retention whose timestamp is unknown: no sample, not "safe"
                    boolean unknown = l.observed().retention().byTime() && l.unreadLeft();
                    return unknown ? Double.NaN : Double.POSITIVE_INFINITY;
                });
        gauge(registry, "scoreflow_stream_unread_records_lost", "records retention deleted before the group read "
                + "them (log start offset - committed offset, when positive)", l -> l.lost());
        gauge(registry, "scoreflow_stream_oldest_unread_age_seconds", "age of the oldest record the group has not "
                + "read (now - its timestamp)", l -> {
                    OptionalLong age = l.oldestUnreadAgeMs();
                    return age.isPresent() ? age.getAsLong() / 1000.0 : Double.NaN;
                });
    }

    /** A gauge over the latest snapshot; NaN leaves a partition's sample out (unknown is not zero). */
    private void gauge(Metrics registry, String name, String help, ToDoubleFunction<PartitionLag> value) {
        registry.gauge(name, help, new String[]{"topic", "partition"}, sample -> {
            for (PartitionLag l : last) {
                double v = value.applyAsDouble(l);
                if (!Double.isNaN(v)) {
                    sample.call(v, l.topic(), Integer.toString(l.partition()));
                }
            }
        });
    }

    /** Closes the probe's connections to the cluster. */
    @Override
    public void close() {
        probe.close();
    }
}
