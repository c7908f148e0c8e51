package dev.scoreflow.streaming.internal;

import dev.scoreflow.api.internal.Metrics;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The lag monitor's arithmetic, alerts and gauges, on made-up observations and an injected clock. */
class LagMonitorTest {
    static final long T = 1_767_225_600_000L;
    static final Retention FIFTEEN_SECONDS = new Retention(15_000, -1, "delete");

    final AtomicLong clock = new AtomicLong(T);
    final List<Observation> seen = new ArrayList<>();
    final LagMonitor monitor = new LagMonitor("app", () -> List.copyOf(seen), clock::get);

    static Observation partition(int p, Long committed, long start, long end, Long oldestUnreadTs, Retention r) {
        return new Observation(new TopicPartition("tx", p),
                committed == null ? OptionalLong.empty() : OptionalLong.of(committed), start, end,
                oldestUnreadTs == null ? OptionalLong.empty() : OptionalLong.of(oldestUnreadTs), r,
                OptionalLong.empty());
    }

    @Test
    void timeLeftIsTheOldestUnreadTimestampPlusRetentionMinusNow() {
        seen.add(partition(0, 40L, 0, 100, T - 5_000, FIFTEEN_SECONDS));

        PartitionLag l = monitor.poll().get(0);
        assertThat(l.lag()).isEqualTo(60);
        assertThat(l.lost()).isZero();
        assertThat(l.oldestUnreadAgeMs()).hasValue(5_000);
        assertThat(l.msUntilDeletion()).hasValue(10_000);

        clock.addAndGet(4_000);
        l = monitor.poll().get(0);
        assertThat(l.oldestUnreadAgeMs()).hasValue(9_000);
        assertThat(l.msUntilDeletion()).hasValue(6_000);
        assertThat(l.observedAt()).isEqualTo(T + 4_000);

        clock.addAndGet(7_500);
        assertThat(monitor.poll().get(0).msUntilDeletion()).hasValue(-1_500);
    }

    @Test
    void lagCountsFromTheLogStartWhereNothingIsCommitted() {
        seen.add(partition(0, null, 30, 100, T - 1_000, FIFTEEN_SECONDS));

        PartitionLag l = monitor.poll().get(0);
        assertThat(l.lag()).isEqualTo(70);
        assertThat(l.lost()).isZero();
        assertThat(l.msUntilDeletion()).hasValue(14_000);
    }

    @Test
    void committedOffsetBehindTheLogStartMeansRecordsWereLost() {
        // the probe reads the oldest record still there (offset 25), not the deleted one at 10
        seen.add(partition(0, 10L, 25, 30, T - 2_000, FIFTEEN_SECONDS));

        PartitionLag l = monitor.poll().get(0);
        assertThat(l.lost()).isEqualTo(15);
        assertThat(l.lag()).isEqualTo(20);
        assertThat(l.msUntilDeletion()).hasValue(13_000);
        assertThat(monitor.alerts(List.of(l), AlertThreshold.parse("20%")))
                .singleElement().asString()
                .contains("tx-0: 15 records were deleted before group app read them")
                .contains("committed offset 10, the log now starts at 25");
    }

    @Test
    void everythingDeletedUnreadLeavesNothingAtRiskButIsLost() {
        seen.add(partition(0, 10L, 30, 30, null, FIFTEEN_SECONDS));

        PartitionLag l = monitor.poll().get(0);
        assertThat(l.lost()).isEqualTo(20);
        assertThat(l.lag()).isEqualTo(20);
        assertThat(l.unreadLeft()).isFalse();
        assertThat(l.msUntilDeletion()).isEmpty();
        assertThat(monitor.alerts(List.of(l), AlertThreshold.parse("1s"))).hasSize(1);
    }

    @Test
    void aGroupThatHasReadEverythingHasNothingAtRisk() {
        seen.add(partition(0, 100L, 0, 100, null, FIFTEEN_SECONDS));

        PartitionLag l = monitor.poll().get(0);
        assertThat(l.lag()).isZero();
        assertThat(l.oldestUnreadAgeMs()).isEmpty();
        assertThat(l.msUntilDeletion()).isEmpty();
        assertThat(monitor.alerts(List.of(l), AlertThreshold.parse("100%"))).isEmpty();
    }

    @Test
    void topicsKeptForeverOrOnlyCompactedNeverRunOutOfTime() {
        seen.add(partition(0, 0L, 0, 100, T - 86_400_000L, new Retention(-1, -1, "delete")));
        seen.add(partition(1, 0L, 0, 100, T - 86_400_000L, new Retention(1_000, -1, "compact")));

        List<PartitionLag> lags = monitor.poll();
        assertThat(lags).allSatisfy(l -> {
            assertThat(l.oldestUnreadAgeMs()).hasValue(86_400_000L);
            assertThat(l.msUntilDeletion()).isEmpty();
        });
        assertThat(monitor.alerts(lags, AlertThreshold.parse("100%"))).isEmpty();
    }

    @Test
    void alertsOnlyBelowTheThreshold() {
        // 20 % of 15 s is 3 s
        seen.add(partition(0, 0L, 0, 10, T - 12_000, FIFTEEN_SECONDS));
        seen.add(partition(1, 0L, 0, 10, T - 12_001, FIFTEEN_SECONDS));

        List<PartitionLag> lags = monitor.poll();
        assertThat(lags).extracting(l -> l.msUntilDeletion().getAsLong()).containsExactly(3_000L, 2_999L);
        assertThat(monitor.alerts(lags, AlertThreshold.parse("20%"))).singleElement().asString()
                .startsWith("tx-1: the oldest unread record of group app may be deleted in 2.9s")
                .contains("10 records behind").contains("alert below 3.0s");
        assertThat(monitor.alerts(lags, AlertThreshold.parse("3001ms"))).hasSize(2);
        assertThat(monitor.alerts(lags, AlertThreshold.parse("2s"))).isEmpty();

        clock.addAndGet(5_000);
        assertThat(monitor.alerts(monitor.poll(), AlertThreshold.parse("2s"))).hasSize(2)
                .allSatisfy(a -> assertThat(a).contains("past retention"));
    }

    @Test
    void snapshotIsSortedByTopicAndPartition() {
        seen.add(partition(2, 0L, 0, 1, null, FIFTEEN_SECONDS));
        seen.add(new Observation(new TopicPartition("a", 5), OptionalLong.of(0), 0, 0, OptionalLong.empty(),
                FIFTEEN_SECONDS, OptionalLong.empty()));
        seen.add(partition(0, 0L, 0, 1, null, FIFTEEN_SECONDS));

        assertThat(monitor.poll()).extracting(l -> l.topic() + "-" + l.partition())
                .containsExactly("a-5", "tx-0", "tx-2");
        assertThat(monitor.last()).hasSize(3);
    }

    @Test
    void gaugesServeTheLatestPoll() {
        Metrics registry = new Metrics();
        monitor.register(registry);
        // before the first poll there is nothing to report: the client leaves the family out, header and all
        assertThat(registry.render()).doesNotContain("scoreflow_stream_lag_records");

        seen.add(partition(0, 40L, 0, 100, T - 5_000, FIFTEEN_SECONDS));
        seen.add(partition(1, 100L, 0, 100, null, FIFTEEN_SECONDS));
        seen.add(partition(2, 10L, 25, 30, T - 2_000, FIFTEEN_SECONDS));
        seen.add(partition(3, 0L, 0, 10, null, FIFTEEN_SECONDS));
        monitor.poll();

        String text = registry.render();
        assertThat(text)
                .contains("scoreflow_stream_lag_records{partition=\"0\",topic=\"tx\"} 60.0\n")
                .contains("scoreflow_stream_lag_records{partition=\"1\",topic=\"tx\"} 0.0\n")
                .contains("scoreflow_stream_seconds_until_unread_deleted{partition=\"0\",topic=\"tx\"} 10.0\n")
                .contains("scoreflow_stream_seconds_until_unread_deleted{partition=\"1\",topic=\"tx\"} +Inf\n")
                .contains("scoreflow_stream_unread_records_lost{partition=\"2\",topic=\"tx\"} 15.0\n")
                .contains("scoreflow_stream_oldest_unread_age_seconds{partition=\"0\",topic=\"tx\"} 5.0\n")
                // unread records whose age is unknown: no sample rather than a reassuring +Inf
                .doesNotContain("scoreflow_stream_seconds_until_unread_deleted{partition=\"3\",topic=\"tx\"}")
                .doesNotContain("scoreflow_stream_oldest_unread_age_seconds{partition=\"1\",topic=\"tx\"}");

        clock.addAndGet(1_000);
        monitor.poll();
        assertThat(registry.render())
                .contains("scoreflow_stream_seconds_until_unread_deleted{partition=\"0\",topic=\"tx\"} 9.0\n");
    }

    @Test
    void parsesThresholdsAsDurationsOrSharesOfRetention() {
        assertThat(AlertThreshold.parse("20%").millisFor(15_000)).isEqualTo(3_000);
        assertThat(AlertThreshold.parse("100 %").millisFor(15_000)).isEqualTo(15_000);
        assertThat(AlertThreshold.parse("500ms").millisFor(15_000)).isEqualTo(500);
        assertThat(AlertThreshold.parse("30s").millisFor(15_000)).isEqualTo(30_000);
        assertThat(AlertThreshold.parse("10m").millisFor(1)).isEqualTo(600_000);
        assertThat(AlertThreshold.parse("1.5h").millisFor(1)).isEqualTo(5_400_000);
        assertThat(AlertThreshold.parse("2d").millisFor(1)).isEqualTo(172_800_000);
        assertThat(AlertThreshold.parse("PT10M").millisFor(1)).isEqualTo(600_000);
        assertThatThrownBy(() -> AlertThreshold.parse("ten minutes"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'ten minutes'");
        assertThatThrownBy(() -> AlertThreshold.parse("0%")).hasMessageContaining("(0, 100] %");
        assertThatThrownBy(() -> AlertThreshold.parse("150%")).hasMessageContaining("150%");
        assertThatThrownBy(() -> AlertThreshold.parse("-PT1S")).hasMessageContaining("negative");
    }

    @Test
    void formatsDurationsAsPeopleReadThem() {
        assertThat(Durations.format(850)).isEqualTo("850ms");
        assertThat(Durations.format(12_399)).isEqualTo("12.3s");
        assertThat(Durations.format(252_000)).isEqualTo("4m12s");
        assertThat(Durations.format(7_380_000)).isEqualTo("2h03m");
        assertThat(Durations.format(273_600_000)).isEqualTo("3d04h");
        assertThat(Durations.format(-1_500)).isEqualTo("-1.5s");
    }
}
