package dev.scoreflow.plan;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Arrival profiles finer than an hour: read, simulated per step, and what they change against the hourly view. */
class FinerProfileTest {

    static Plan case3(Map<String, String> overrides) {
        return PlanFile.parse("case3", Examples.text("case3").lines().toList(), overrides);
    }

    @Test
    void theStepIsDerivedFromTheWeightsCountOrGiven() {
        assertThat(case3(Map.of()).profileStepMinutes()).isEqualTo(60);
        assertThat(case3(Map.of("profile", "5.5*2 0.5*18")).profileStepMinutes()).isEqualTo(30);
        assertThat(case3(Map.of("profile", "5.5*4 0.5*36")).profileStepMinutes()).isEqualTo(15);
        assertThat(case3(Map.of("profile", "1*600")).profileStepMinutes()).isEqualTo(1);
        assertThat(case3(Map.of("profile-step", "15", "profile", "5.5*4 0.5*36")).profileStepMinutes()).isEqualTo(15);
        // an even day at a finer step is still an even day
        assertThat(case3(Map.of("profile", "", "profile-step", "15")).profileStepMinutes()).isEqualTo(15);
    }

    @Test
    void aStepThatDoesNotFitTheHourOrTheWeightsIsRefused() {
        assertThatThrownBy(() -> case3(Map.of("profile-step", "7")))
                .hasMessageContaining("dividing the hour").hasMessageContaining("was 7");
        assertThatThrownBy(() -> case3(Map.of("profile-step", "15")))
                .hasMessageContaining("step of 15 min (40), had 10");
        // 10 hours in 25 weights is 24 minutes each, which does not divide the hour
        assertThatThrownBy(() -> case3(Map.of("profile", "1*25")))
                .hasMessageContaining("40 for 15 min").hasMessageContaining("had 25");
        assertThatThrownBy(() -> case3(Map.of("profile", "1*0")))
                .hasMessageContaining("W*N repeats W N times");
        assertThatThrownBy(() -> case3(Map.of("profile-step", "quarter")))
                .hasMessageContaining("the command line's profile-step").hasMessageContaining("'quarter'");
    }

    @Test
    void anHourlyProfileCutIntoEqualQuartersIsTheSameLoad() {
        Load hourly = Load.of(case3(Map.of()));
        Load quarters = Load.of(case3(Map.of("profile", "5.5*4 0.5*36")));
        assertThat(quarters.stepSeconds()).isEqualTo(900);
        assertThat(quarters.stepRates()).hasSize(96);
        assertThat(quarters.hourlyRates()).containsExactly(hourly.hourlyRates(), within(1e-12));
        assertThat(quarters.peakRate()).isCloseTo(hourly.peakRate(), within(1e-12));
        assertThat(quarters.peakStart()).isEqualTo(8 * 3600);
        assertThat(quarters.quietRate()).isCloseTo(hourly.quietRate(), within(1e-12));
        // and the same day, but for the random draws: the queue's backlog within Poisson noise
        SimulatedDay a = Planner.plan(case3(Map.of())).outcomes().get(2).simulated();
        SimulatedDay b = Planner.plan(case3(Map.of("profile", "5.5*4 0.5*36"))).outcomes().get(2).simulated();
        assertThat((double) b.maxWaiting()).isCloseTo(a.maxWaiting(), within(a.maxWaiting() * 0.03));
    }

    @Test
    void theSimulationKeepsEachStepsRate() {
        // case 3's first hour all in its first quarter: 55,000 arrivals in 08:00-08:15, none until 09:00
        Planner.Report r = Planner.plan(Examples.plan("case3-burst"));
        long[] perMinute = r.outcomes().get(0).simulated().arrivalsByBucket();
        long burst = 0;
        long rest = 0;
        for (int m = 8 * 60; m < 9 * 60; m++) {
            if (m < 8 * 60 + 15) {
                burst += perMinute[m];
            } else {
                rest += perMinute[m];
            }
        }
        assertThat((double) burst).isCloseTo(55_000, within(55_000 * 0.02)); // Poisson: sd 235
        assertThat(rest).isZero();
        assertThat(perMinute[9 * 60 + 30]).isBetween(40L, 130L); // 0.125 of 10 a quarter: 1.39/s, 83 a minute
    }

    @Test
    void aBurstInTheFirstQuarterHourPeaksFourTimesHigherAndQueuesMoreThanTheHourlyViewShows() {
        Planner.Report hourly = Planner.plan(Examples.plan("case3"));
        Planner.Report burst = Planner.plan(Examples.plan("case3-burst"));
        // the same hours, so the same hourly view
        assertThat(burst.load().hourlyRates()).containsExactly(hourly.load().hourlyRates(), within(1e-9));
        assertThat(burst.load().peakHourRate()).isCloseTo(15.28, within(0.01));
        // but the peak is the quarter's: 55,000 in 900 s
        assertThat(burst.load().peakRate()).isCloseTo(61.11, within(0.01));
        assertThat(burst.load().megabitsIn(burst.load().peakRate())).isCloseTo(611.1, within(0.1));
        assertThat(hourly.serversForPeak()).isEqualTo(2);
        assertThat(burst.serversForPeak()).isEqualTo(7);
        assertThat(burst.outcomes().get(0).peakUtilisation()).isCloseTo(6.111, within(0.001));

        // two servers: the hour fits them, the quarter does not; 20/s x 900 s served and 200 held, the rest refused
        assertThat(hourly.outcomes().get(1).simulated().refused()).isZero();
        assertThat(burst.outcomes().get(1).simulated().refused()).isBetween(35_000L, 38_500L);

        // the queue: for 15 min at 61.1 - 10 = 51.1/s, about 46,000 waiting, not an hour at 5.3/s (19,000); the last
        // of the burst waits for 55,000 / 10 s less the 900 it took to arrive; the backlog clears when the hourly one
        // does (09:00 finds 19,000 left either way, drained at 10 - 1.39/s)
        SimulatedDay h = hourly.outcomes().get(2).simulated();
        SimulatedDay q = burst.outcomes().get(2).simulated();
        assertThat(q.maxWaiting()).isBetween(44_000, 48_000);
        assertThat(h.maxWaiting()).isBetween(17_500, 20_500);
        assertThat(q.maxWaitingAt()).isCloseTo(8 * 3600 + 900, within(60.0));
        assertThat(q.maxWait()).isBetween(4_300.0, 4_900.0);
        assertThat(h.maxWait()).isBetween(1_750.0, 2_050.0);
        assertThat(q.clearedAt()).isCloseTo(h.clearedAt(), within(5 * 60.0));
    }

    @Test
    void theProfileFlagsGiveTheBurst() throws Exception {
        PlanCommandTest.Run r = PlanCommandTest.run("--example", "case3", "--profile-step", "15", "--profile",
                "5.5 0*3 0.125*36");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("profile per 15 min [5.5 0*3 0.125*36]",
                "peak 15 min 08:00-08:15 61.11 requests/s (55,000 requests): 611.1 Mbit/s in",
                "hourly view: 08:00-09:00 averages 15.28 requests/s", "7 for the peak");
        // the hourly case keeps its hourly wording
        assertThat(PlanCommandTest.run("--example", "case3").out())
                .contains("peak hour 08:00-09:00 15.28 requests/s (55,000 requests): 152.8 Mbit/s in")
                .doesNotContain("hourly view");
    }

    @Test
    void aPlanMadeInCodeIsTheSameAsFromAFile() {
        Plan file = Examples.plan("case3");
        // case 3 differs from the defaults (case 1) in these fields only
        Plan code = Plan.builder().name(file.name()).users(file.users()).profile(file.profile())
                .serverCounts(file.serverCounts()).build();
        assertThat(code).isEqualTo(file);
        assertThat(code.toBuilder().seed(7).build()).isNotEqualTo(file).extracting(Plan::seed).isEqualTo(7L);
        assertThatThrownBy(() -> Plan.builder().profile(List.of(1.0, 1.0)).profileStepMinutes(60).build())
                .hasMessageContaining("one weight per working hour (10)");
    }
}
