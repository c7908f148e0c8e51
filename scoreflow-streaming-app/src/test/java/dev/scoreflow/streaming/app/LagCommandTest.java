package dev.scoreflow.streaming;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.function.Supplier;

import static dev.scoreflow.streaming.LagMonitorTest.FIFTEEN_SECONDS;
import static dev.scoreflow.streaming.LagMonitorTest.T;
import static dev.scoreflow.streaming.LagMonitorTest.partition;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code scoreflow lag}'s exit status, alert lines and watch loop, over made-up looks at a cluster. */
class LagCommandTest {
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
}
