package dev.scoreflow.plan;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The simulation against closed-form queueing results where they exist. */
class SimulationTest {

    static double[] allDay(double rate) {
        double[] r = new double[24];
        Arrays.fill(r, rate);
        return r;
    }

    @Test
    void mm1MeanWaitMatchesTheFormula() {
        // λ = 8, μ = 10: Wq = ρ / (μ - λ) = 0.4 s; 690,000 arrivals in a day
        SimulatedDay d = Simulation.run(allDay(8), 1, 10, ServiceTime.exponential(), Integer.MAX_VALUE, 1);
        double expected = Queueing.meanWait(1, 8, 10);
        assertThat(expected).isCloseTo(0.4, within(1e-12));
        assertThat(d.meanWait()).isCloseTo(expected, within(expected * 0.05));
        assertThat(d.utilisation()).isCloseTo(0.8, within(0.01));
        assertThat(d.refused()).isZero();
    }

    @Test
    void mmcMeanWaitMatchesErlangC() {
        for (int c : new int[]{2, 4, 8}) {
            double lambda = 0.85 * c * 5;
            SimulatedDay d = Simulation.run(allDay(lambda), c, 5, ServiceTime.exponential(), Integer.MAX_VALUE,
                    c * 1000L);
            double expected = Queueing.meanWait(c, lambda, 5);
            assertThat(d.meanWait()).as("M/M/%d", c).isCloseTo(expected, within(expected * 0.06));
        }
    }

    @Test
    void md1MeanWaitIsHalfTheMm1One() {
        // Pollaczek-Khinchine: deterministic service halves M/M/1's mean wait
        SimulatedDay d = Simulation.run(allDay(8), 1, 10, new ServiceTime(ServiceTime.Kind.DETERMINISTIC, 0),
                Integer.MAX_VALUE, 3);
        assertThat(d.meanWait()).isCloseTo(0.2, within(0.2 * 0.05));
    }

    @Test
    void erlangCKnownValues() {
        // a textbook value: c = 2, a = 1 -> C = 1/3
        assertThat(Queueing.erlangC(2, 1)).isCloseTo(1.0 / 3, within(1e-12));
        assertThat(Queueing.erlangC(1, 0.5)).isCloseTo(0.5, within(1e-12));
    }

    @Test
    void theServersSoThatFewWaitAreTheFewestWithErlangCWithinTheThreshold() {
        // case 3's peak: 15.28/s at 10/s a server, a = 1.53
        double a = 55_000 / 3600.0 / 10;
        int c = Queueing.serversForWaitProbability(a, 0.01);
        assertThat(Queueing.erlangC(c, a)).isLessThanOrEqualTo(0.01);
        assertThat(Queueing.erlangC(c - 1, a)).isGreaterThan(0.01);
        assertThat(c).isEqualTo(6);
        // a looser threshold needs fewer, never fewer than the load
        assertThat(Queueing.serversForWaitProbability(a, 0.5)).isEqualTo(3);
        assertThat(Queueing.serversForWaitProbability(a, 0.999)).isEqualTo(2);
        assertThat(Queueing.serversForWaitProbability(0, 0.01)).isEqualTo(1);
    }

    @Test
    void withThoseServersTheSimulatedShareThatWaitsIsWhatErlangCSays() {
        // a whole day at case 3's peak rate, exponential service: about 1.3 million arrivals
        double lambda = 55_000 / 3600.0;
        int c = Queueing.serversForWaitProbability(lambda / 10, 0.01);
        double[] arrivals = Simulation.arrivals(allDay(lambda), 3600, 11);
        for (int servers : new int[]{c - 1, c}) {
            double share = Simulation.traced(arrivals, Simulation.DAY_SECONDS, 60, servers, 10,
                    ServiceTime.exponential(), Integer.MAX_VALUE, 11).waitedShare();
            double expected = Queueing.erlangC(servers, lambda / 10);
            assertThat(share).as("%d servers", servers).isCloseTo(expected, within(expected * 0.1));
        }
        // c - 1 servers let more than 1 % wait, c no more than 1 % (plus the simulation's noise)
        assertThat(Simulation.traced(arrivals, Simulation.DAY_SECONDS, 60, c - 1, 10, ServiceTime.exponential(),
                Integer.MAX_VALUE, 11).waitedShare()).isGreaterThan(0.012);
        assertThat(Simulation.traced(arrivals, Simulation.DAY_SECONDS, 60, c, 10, ServiceTime.exponential(),
                Integer.MAX_VALUE, 11).waitedShare()).isLessThan(0.011);
    }

    @Test
    void theReportShowsBothServerCounts() {
        Planner.Report r = Planner.plan(Examples.plan("case3"));
        assertThat(r.serversForPeak()).isEqualTo(2);
        assertThat(r.serversSoFewWait()).isEqualTo(6);
        assertThat(TextReport.render(r)).contains("Servers of 10 requests/s: 2 for the peak (capacity >= 15.28 "
                + "requests/s); 6 so that at most 1 % of requests wait at the peak (Erlang C, M/M/c)");
        Plan looser = PlanFile.parse("case3", Examples.text("case3").lines().toList(),
                java.util.Map.of("wait-probability", "0.5"));
        Planner.Report l = Planner.plan(looser);
        assertThat(l.serversSoFewWait()).isEqualTo(3);
        assertThat(TextReport.render(l)).contains("3 so that at most 50 % of requests wait");
        assertThat(Charts.html(l)).contains("3 so that at most 50 % of requests wait");
    }

    @Test
    void aServerWithoutAQueueRefusesWhatFindsItBusyAsErlangBSays() {
        // M/M/1/1 (no waiting room): blocking = a / (1 + a); λ = 5, μ = 10 -> 1/3
        SimulatedDay d = Simulation.run(allDay(5), 1, 10, ServiceTime.exponential(), 0, 5);
        assertThat((double) d.refused() / d.arrived()).isCloseTo(1.0 / 3, within(0.01));
        assertThat(d.served() + d.refused()).isEqualTo(d.arrived());
        assertThat(d.maxWaiting()).isZero();
    }

    @Test
    void lognormalServiceTimesKeepTheirMean() {
        ServiceTime t = ServiceTime.parse("lognormal:0.5");
        java.util.Random r = new java.util.Random(9);
        double sum = 0;
        int n = 200_000;
        for (int i = 0; i < n; i++) {
            sum += t.sample(r, 0.1);
        }
        assertThat(sum / n).isCloseTo(0.1, within(0.001));
    }
}
