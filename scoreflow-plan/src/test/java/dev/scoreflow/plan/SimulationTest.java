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
