package dev.scoreflow.plan;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The replay's reading of the jobs' own times: backlog, clearing and the rate the workers achieved. */
class JobTimesTest {

    /** 100 jobs submitted at once at 0, one worker finishing one every 10 ms. */
    static Replay.JobTimes burst() {
        double[] submitted = new double[100];
        double[] finished = new double[100];
        for (int i = 0; i < 100; i++) {
            finished[i] = 0.01 * (i + 1);
        }
        return new Replay.JobTimes(submitted, finished);
    }

    @Test
    void aBurstServedBackToBackGivesTheWorkersRateAndItsBacklog() {
        Replay.JobTimes t = burst();
        assertThat(t.saturatedRate(1)).isCloseTo(100, within(1e-6));
        assertThat(t.maxWaiting(1)).isEqualTo(99);
        assertThat(t.clearedAt(1)).isCloseTo(0.99, within(1e-9));
        // two workers behind the same times: each did half the work in the same spell
        assertThat(t.saturatedRate(2)).isCloseTo(98 / 0.98 / 2, within(1e-6));
    }

    @Test
    void theBacklogOverTimeIsTheMostWaitingInEachBucket() {
        // the same burst submitted at 1.005 s on the replay's clock: 99 waiting, one fewer every 10 ms
        Replay.JobTimes t = burst().after(1.005);
        assertThat(t.submitted()[0]).isEqualTo(1.005);
        assertThat(t.responseTimes()[99]).isCloseTo(1.0, within(1e-9));
        // buckets of 0.3 s: what a bucket starts with counts (80 left waiting at 1.2 s, 50 at 1.5, 20 at 1.8)
        assertThat(t.maxWaitingBy(0.3, 8, 1)).containsExactly(0, 0, 0, 99, 80, 50, 20, 0);
        // two workers serve two at a time: one fewer waiting
        assertThat(t.maxWaitingBy(0.3, 8, 2)).containsExactly(0, 0, 0, 98, 79, 49, 19, 0);
    }

    @Test
    void fineBucketsRegroupIntoHoursAndTwentiethsDespiteRounding() {
        // 600 plan minutes of 0.1 s (600 times faster) into 10 plan hours of 6 s: 60 each, none lost to 0.1's error
        long[] minutes = new long[601]; // a sliver beyond the end goes to the last hour
        java.util.Arrays.fill(minutes, 1);
        assertThat(Buckets.sum(minutes, 0.1, 6.0, 10)).containsExactly(60, 60, 60, 60, 60, 60, 60, 60, 60, 61);
        int[] depth = new int[600];
        depth[61] = 7;
        depth[599] = 3;
        int[] twentieths = Buckets.max(depth, 0.1, 3.0, 20);
        assertThat(twentieths[2]).isEqualTo(7);
        assertThat(twentieths[19]).isEqualTo(3);
        assertThat(java.util.Arrays.stream(twentieths).sum()).isEqualTo(10);
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
