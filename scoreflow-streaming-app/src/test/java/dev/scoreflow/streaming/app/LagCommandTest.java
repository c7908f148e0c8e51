package dev.scoreflow.streaming.app;

import dev.scoreflow.api.internal.Json;
import dev.scoreflow.streaming.StreamingException;
import dev.scoreflow.streaming.internal.AlertThreshold;
import dev.scoreflow.streaming.internal.LagMonitor;
import dev.scoreflow.streaming.internal.Observation;
import dev.scoreflow.streaming.internal.PartitionLag;
import dev.scoreflow.streaming.internal.Retention;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code scoreflow lag}'s exit status, alert lines, watch loop, table and JSON, over made-up looks at a cluster. */
class LagCommandTest {
    static final long T = 1_767_225_600_000L;
    static final Retention FIFTEEN_SECONDS = new Retention(15_000, -1, "delete");

    final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    /** What each look sees, in turn: a list of observations, or an exception to throw. */
    final Deque<Supplier<List<Observation>>> looks = new ArrayDeque<>();

    LagCommand command(Double watch, String alertBefore) {
        LagCommand cmd = new LagCommand();
        cmd.group = "app";
        cmd.watch = watch;
        cmd.alertBefore = alertBefore;
        cmd.out = new PrintStream(buf, true, StandardCharsets.UTF_8);
        cmd.clock = () -> T;
        cmd.monitors = () -> new LagMonitor("app", () -> looks.remove().get(), cmd.clock);
        return cmd;
    }

    /** Partition {@code p} of topic tx as a look at the cluster sees it (null: nothing committed, no timestamp). */
    static Observation partition(int p, Long committed, long start, long end, Long oldestUnreadTs, Retention r) {
        return new Observation(new TopicPartition("tx", p),
                committed == null ? OptionalLong.empty() : OptionalLong.of(committed), start, end,
                oldestUnreadTs == null ? OptionalLong.empty() : OptionalLong.of(oldestUnreadTs), r,
                OptionalLong.empty());
    }

    String out() {
        return buf.toString(StandardCharsets.UTF_8);
    }

    static Supplier<List<Observation>> secondsLeft(long left) {
        return () -> List.of(partition(0, 4L, 0, 10, T - FIFTEEN_SECONDS.ms() + left * 1000, FIFTEEN_SECONDS));
    }

    @Test
    void exitsZeroWithoutAlertAndTwoWithOne() throws Exception {
        looks.add(secondsLeft(10));
        assertThat(command(null, "20%").call()).isZero();
        assertThat(out()).contains("10.0s").doesNotContain("ALERT");

        looks.add(secondsLeft(2));
        assertThat(command(null, "20%").call()).isEqualTo(2);
        assertThat(out()).contains("ALERT tx-0: the oldest unread record of group app may be deleted in 2.0s");
    }

    @Test
    void aBadThresholdIsRefusedBeforeLooking() {
        assertThatThrownBy(() -> command(null, "soon").call()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'soon'");
        assertThatThrownBy(() -> command(0.0, "20%").call()).hasMessage("--watch must be > 0 seconds, was 0.0");
    }

    @Test
    void watchingKeepsLookingThroughAFailedLookAndExitsZero() throws Exception {
        looks.add(secondsLeft(2));
        looks.add(() -> {
            throw new StreamingException("cannot list the offsets of [tx-0]: broker gone");
        });
        looks.add(secondsLeft(1));
        LagCommand cmd = command(0.01, "20%");
        cmd.maxLooks = 3;

        assertThat(cmd.call()).isZero();
        assertThat(looks).isEmpty();
        assertThat(out().split("group app at ", -1)).hasSize(3);
        assertThat(out()).contains("may be deleted in 2.0s").contains("may be deleted in 1.0s");
    }

    @Test
    void watchingStopsWhenTheFirstLookFails() {
        looks.add(() -> {
            throw new StreamingException("consumer group app does not exist on 127.0.0.1:9092");
        });
        assertThatThrownBy(() -> command(0.01, "20%").call()).isInstanceOf(StreamingException.class)
                .hasMessageContaining("consumer group app does not exist");
    }

    @Test
    void helpNamesEveryOptionWithItsDefault() {
        String help = new CommandLine(new LagCommand()).getUsageMessage();
        assertThat(help).contains("Usage: lag ").contains("--group=ID").contains("--topic=TOPIC")
                .contains("--watch=S").contains("(default: 20%)").contains("--json").contains("--bootstrap-servers")
                .contains("Exit status: 0 no alert; 2 an alert");
    }

    @Test
    void tableShowsEveryPartitionWithHumanTimes() {
        List<PartitionLag> lags = lags(partition(0, 40L, 0, 100, T - 5_000, FIFTEEN_SECONDS),
                partition(1, null, 3, 9, T - 20_000, FIFTEEN_SECONDS),
                new Observation(new TopicPartition("tx", 2), OptionalLong.of(7), 7, 7, OptionalLong.empty(),
                        new Retention(604_800_000L, 10L << 20, "delete"), OptionalLong.of(3L << 20)));

        String[] lines = LagCommand.table(lags).split(System.lineSeparator());
        assertThat(lines).hasSize(4);
        assertThat(lines[0]).startsWith("TOPIC  PARTITION  COMMITTED");
        assertThat(lines[1].split("\\s+")).containsExactly("tx", "0", "40", "0", "100", "60", "-", "5.0s", "10.0s",
                "15.0s", "-");
        assertThat(lines[2].split("\\s+")).containsExactly("tx", "1", "-", "3", "9", "6", "-", "20.0s", "overdue",
                "5.0s", "15.0s", "-");
        assertThat(lines[3]).contains("7d00h, 10.0 MiB").endsWith("3.0 MiB (30%)");
    }

    @Test
    void tableSaysWhatIsKeptForeverOrOnlyCompacted() {
        List<PartitionLag> lags = lags(partition(0, 0L, 0, 100, T - 86_400_000L, new Retention(-1, -1, "delete")),
                partition(1, 0L, 0, 100, T - 86_400_000L, new Retention(1_000, -1, "compact")));
        assertThat(LagCommand.table(lags)).contains("never").contains("forever").contains("compact");
    }

    @Test
    void jsonCarriesTheNumbers() {
        LagMonitor monitor = new LagMonitor("app", () -> List.of(partition(0, 10L, 25, 30, T - 2_000,
                FIFTEEN_SECONDS)), () -> T);
        List<PartitionLag> lags = monitor.poll();

        String json = Json.write(LagCommand.json("app", lags, monitor.alerts(lags, AlertThreshold.parse("20%"))));
        assertThat(json).startsWith("{\"group\":\"app\",\"time\":" + T + ",\"partitions\":[{\"topic\":\"tx\","
                        + "\"partition\":0,\"committed\":10,\"log_start\":25,\"log_end\":30,\"lag\":20,\"lost\":15,")
                .contains("\"ms_until_deletion\":13000").contains("\"size_bytes\":null")
                .contains("\"alerts\":[\"tx-0: 15 records were deleted");
    }

    @Test
    void formatsSizesInBinaryUnits() {
        assertThat(LagCommand.bytes(512)).isEqualTo("512 B");
        assertThat(LagCommand.bytes(1536)).isEqualTo("1.5 KiB");
        assertThat(LagCommand.bytes(20L << 20)).isEqualTo("20.0 MiB");
    }

    /** One look at T that sees {@code observations}. */
    static List<PartitionLag> lags(Observation... observations) {
        return new LagMonitor("app", () -> List.of(observations), () -> T).poll();
    }
}
