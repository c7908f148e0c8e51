package dev.scoreflow.plan;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The lecture's numbers, from the example plan files that ship. */
class LectureCasesTest {

    @Test
    void caseOneIsAThirdOfARequestPerSecondAndThreeMegabits() {
        Planner.Report r = Planner.plan(Examples.plan("case1"));
        assertThat(r.load().requestsPerDay()).isEqualTo(10_000);
        assertThat(r.load().averageRate()).isBetween(0.28 - 0.005, 0.30); // 10,000 / 36,000 s = 0.278
        assertThat(r.load().megabitsIn(r.load().averageRate())).isCloseTo(2.78, within(0.01)); // "~3 Mbit/s"
        Outcome one = r.outcomes().get(0);
        assertThat(one.design()).isEqualTo(new Design.Servers(1));
        assertThat(one.simulated().refused()).isZero();
    }

    @Test
    void caseTwoIsTwoPointEightRequestsPerSecondThirtyMegabitsAndTwelvePercentEfficient() {
        Planner.Report r = Planner.plan(Examples.plan("case2"));
        assertThat(r.load().averageRate()).isCloseTo(2.78, within(0.01));
        assertThat(r.load().megabitsIn(r.load().averageRate())).isCloseTo(27.8, within(0.1)); // "~30 Mbit/s"
        Outcome one = r.outcomes().get(0);
        assertThat(one.efficiency()).isCloseTo(0.116, within(0.001)); // "12 %: idle at night"
        assertThat(one.peakUtilisation()).isLessThan(1);
        assertThat(one.simulated().refused()).isZero();
    }

    @Test
    void caseThreePeaksAtFifteenRequestsPerSecondAndOneServerDoesNotFit() {
        Planner.Report r = Planner.plan(Examples.plan("case3"));
        Load l = r.load();
        assertThat(l.peakRate() * 3600).isCloseTo(55_000, within(0.5));
        assertThat(l.peakRate()).isCloseTo(15.28, within(0.01)); // "~15.3 requests/s"
        assertThat(l.megabitsIn(l.peakRate())).isCloseTo(152.8, within(0.1)); // "153 Mbit/s"
        assertThat(l.quietRate()).isCloseTo(1.39, within(0.01)); // "~1.4 requests/s"
        assertThat(l.megabitsIn(l.quietRate())).isCloseTo(13.9, within(0.1)); // "14 Mbit/s"
        assertThat(l.averageRate()).isCloseTo(2.78, within(0.01)); // "2.8/s should fit one server, but no"

        Outcome one = r.outcomes().get(0);
        assertThat(one.capacity()).isLessThan(l.peakRate());
        assertThat(one.serversNeeded()).isEqualTo(2);
        // the peak hour brings 55,000 and one server serves at most 36,000 of them: about 19,000 refused
        assertThat(one.simulated().refused()).isBetween(17_500L, 20_500L);

        Outcome two = r.outcomes().get(1);
        assertThat(two.design()).isEqualTo(new Design.Servers(2));
        assertThat(two.capacity()).isEqualTo(20); // "20 requests per second"
        assertThat(two.capacity() * Simulation.DAY_SECONDS).isEqualTo(1_728_000); // "1,728,000 a day"
        // the lecture writes "> 6 %"; 100,000 / 1,728,000 is 5.8 %: half of case 2's 11.6 %, which it rounds to 12
        assertThat(two.efficiency()).isCloseTo(0.0579, within(0.0005));
        assertThat(two.simulated().refused()).isZero();
        assertThat(two.costPerDay()).isEqualTo(24 * (2 * 1.0 + 0.5)); // "pay for two servers and a proxy"

        Outcome queue = r.outcomes().get(2);
        assertThat(queue.design()).isEqualTo(new Design.QueueWorkers(1));
        SimulatedDay d = queue.simulated();
        assertThat(d.refused()).isZero();
        assertThat(d.served()).isEqualTo(d.arrived());
        // fluid arithmetic: 19,000 left at 09:00, drained at 10 - 1.39 = 8.6/s: clear at about 09:37, the last of
        // the peak waiting 19,000 / 10 = 1,900 s; Poisson arrivals move it by a few per cent
        assertThat(d.maxWaiting()).isBetween(17_500, 20_500);
        assertThat(d.maxWait()).isBetween(1_750.0, 2_050.0);
        assertThat(d.clearedAt()).isBetween(9 * 3600 + 32 * 60.0, 9 * 3600 + 42 * 60.0);
        // "users complain that they wait"
        assertThat(d.p99Wait()).isGreaterThan(1_000);

        Outcome function = r.outcomes().get(3);
        assertThat(function.design()).isEqualTo(new Design.FunctionPerRequest());
        // 5 times a fully used server's price per request (1/h at 36,000 requests/h) for each of 100,000 requests
        assertThat(function.costPerDay()).isCloseTo(100_000 * 5 * 1.0 / 36_000, within(1e-9));
    }

    @Test
    void theSameSeedGivesTheSameDayAndAnotherSeedAnotherOne() {
        Plan p = Examples.plan("case3");
        SimulatedDay a = Planner.plan(p).outcomes().get(2).simulated();
        SimulatedDay b = Planner.plan(p).outcomes().get(2).simulated();
        SimulatedDay c = Planner.plan(p.toBuilder().seed(43).build()).outcomes().get(2).simulated();
        assertThat(b.arrived()).isEqualTo(a.arrived());
        assertThat(b.maxWait()).isEqualTo(a.maxWait());
        assertThat(c.arrived()).isNotEqualTo(a.arrived());
    }

    @Test
    void theTextReportShowsEveryDesignSideBySide() {
        String text = TextReport.render(Planner.plan(Examples.plan("case3")));
        assertThat(text).contains("1 server", "2 servers + proxy", "queue + 1 worker", "function per request",
                "15.28 requests/s", "152.8 Mbit/s", "1,728,000", "no (2 needed)");
    }
}
