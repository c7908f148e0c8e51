package dev.scoreflow.plan;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The replay's reading of the jobs' own times: backlog, clearing and the rate the workers achieved. */
class JobTimesTest {

    @Test
    void aBurstServedBackToBackGivesTheWorkersRateAndItsBacklog() {
        // 100 jobs at once, one worker finishing one every 10 ms
        double[] submitted = new double[100];
        double[] finished = new double[100];
        for (int i = 0; i < 100; i++) {
            finished[i] = 0.01 * (i + 1);
        }
        Replay.JobTimes t = new Replay.JobTimes(submitted, finished);
        assertThat(t.saturatedRate(1)).isCloseTo(100, within(1e-6));
        assertThat(t.maxWaiting(1)).isEqualTo(99);
        assertThat(t.clearedAt(1)).isCloseTo(0.99, within(1e-9));
        // two workers behind the same times: each did half the work in the same spell
        assertThat(t.saturatedRate(2)).isCloseTo(98 / 0.98 / 2, within(1e-6));
    }

    @Test
    void jobsThatNeverWaitedSayNothingAboutTheRate() {
        // one job at a time with idle gaps: the wake-up latency is not work
        double[] submitted = new double[50];
        double[] finished = new double[50];
        for (int i = 0; i < 50; i++) {
            submitted[i] = i;
            finished[i] = i + 0.3;
        }
        Replay.JobTimes t = new Replay.JobTimes(submitted, finished);
        assertThat(t.saturatedRate(1)).isNaN();
        assertThat(t.maxWaiting(1)).isZero();
    }
}
