package dev.scoreflow.plan;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * What {@code plan replay} prints, from results made here rather than by a server: the prediction's own numbers
 * regrouped into plan hours and twentieths of the replay, and the observed ones beside them.
 */
class ReplayOutputTest {

    static Replay.Settings settings(String example, boolean jobs) {
        return new Replay.Settings(Examples.plan(example), 600, 100, 1, 8, jobs);
    }

    /** A replay that observed exactly what was predicted. */
    static Replay.Result asPredicted(Replay.Settings s) {
        double[] times = Simulation.arrivals(s.rates(), s.stepSeconds(), s.plan().seed());
        Simulation.Traced p = s.predict(times, s.realRate());
        Replay.Result shape = new Replay.Result(s, p, 0, 0, 0, 0, 0, null, 0, 0, null, null, 0, Double.NaN, null);
        SimulatedDay d = p.day();
        return new Replay.Result(s, p, d.arrived(), d.served(), d.refused(), 0, 0, shape.refusedByHour(p),
                d.maxWaiting(), d.clearedAt(), Replay.Times.of(p.responses()), s.jobs() ? shape.depth(p) : null,
                s.horizon(), Double.NaN, null);
    }

    @Test
    void aReplayOfAQuarterHourProfileStepsByQuartersAndCountsByHours() {
        Replay.Settings s = settings("case3-burst", false);
        assertThat(s.stepSeconds()).isEqualTo(1.5);
        assertThat(s.rates()).hasSize(40);
        // the burst: 55,000 of case 3's 100,000 in the first quarter, at 100/s per plan 10/s
        assertThat(s.rates()[0]).isCloseTo(611.1, within(0.1));
        assertThat(s.rates()[1]).isZero();
        Replay.Result r = asPredicted(s);
        long[] arrivals = r.arrivalsByHour(r.predicted());
        assertThat(arrivals).hasSize(10);
        assertThat(Arrays.stream(arrivals).sum()).isEqualTo(r.predicted().day().arrived());
        assertThat((double) arrivals[0]).isCloseTo(0.55 * r.predicted().day().arrived(), within(60.0));
        String out = ReplayCommand.render(r);
        assertThat(out).contains("response p50", "response p99", "response max", "plan hour", "08:00", "17:00")
                .doesNotContain("most waiting in each 5 %");
        assertThat(r.predicted().day().refused()).isPositive();
        assertThat(out).containsPattern("08:00 +" + String.format(java.util.Locale.ROOT, "%,d", arrivals[0]) + " +"
                + String.format(java.util.Locale.ROOT, "%,d", r.refusedByHour()[0]));
    }

    @Test
    void aJobsReplayShowsTheQueueDepthEveryFivePercentAndTheTimesToResult() {
        Replay.Settings s = settings("case3", true);
        Replay.Result r = asPredicted(s);
        int[] depth = r.depth(r.predicted());
        assertThat(depth).hasSize(20);
        // the peak hour is the first tenth: the backlog peaks at its end (in the second twentieth, or as the third
        // begins) and is gone by the half
        int top = 0;
        for (int i = 1; i < depth.length; i++) {
            top = depth[i] > depth[top] ? i : top;
        }
        assertThat(top).isBetween(1, 2);
        assertThat(Arrays.stream(depth).max().orElseThrow()).isEqualTo(r.predicted().day().maxWaiting());
        assertThat(depth[10]).isLessThan(5);
        String out = ReplayCommand.render(r);
        assertThat(out).contains("most waiting in each 5 % of the replay", "to result p50", "to result p99",
                "max waiting", "backlog clears at");
        assertThat(out.lines().filter(l -> l.matches("\\+[0-9.]+ s +[0-9]{2}:[0-9]{2} .*"))).hasSize(20);
        assertThat(out).containsPattern("\\+3\\.0 s +08:30 +" + String.format(java.util.Locale.ROOT, "%,d",
                depth[1]) + " +" + String.format(java.util.Locale.ROOT, "%,d", depth[1]));
        // a response is a wait and a service: never shorter than the wait, the p99 near the longest wait's
        Replay.Times t = Replay.Times.of(r.predicted().responses());
        assertThat(t.max()).isGreaterThanOrEqualTo(r.predicted().day().maxWait());
        assertThat(t.p99()).isGreaterThanOrEqualTo(r.predicted().day().p99Wait());
    }

    @Test
    void theReplaysArrivalsAreThePlansAtTheRealRate() {
        Plan p = PlanFile.parse("case3", Examples.text("case3").lines().toList(), Map.of());
        Replay.Settings s = new Replay.Settings(p, 600, 20, 1, 8, false);
        // an hourly plan steps by its hours: 6 s each at 600x, each hour's rate times 20/10
        assertThat(s.stepSeconds()).isEqualTo(6);
        assertThat(s.rates()).hasSize(10);
        assertThat(s.rates()[0]).isCloseTo(2 * 15.28, within(0.01));
        assertThat(s.horizon()).isEqualTo(60);
    }
}
