package dev.scoreflow.server;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** The rule for how many jobs a worker thread asks for per receive, on a ticker the test moves. */
class JobWorkerReceiveSizeTest {
    final AtomicLong now = new AtomicLong(1_000_000_000L);
    final JobWorker.ReceiveSize size = new JobWorker.ReceiveSize(now::get);

    void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }

    @Test
    void startsAtTheMinimumAndDoublesWhileReceivesComeBackFullUpToTheMaximum() {
        assertThat(size.size()).isEqualTo(JobWorker.ReceiveSize.MIN).isEqualTo(4);
        size.received(4);
        assertThat(size.size()).isEqualTo(8);
        size.received(8);
        assertThat(size.size()).isEqualTo(16);
        size.received(16);
        assertThat(size.size()).isEqualTo(32);
        size.received(32);
        assertThat(size.size()).isEqualTo(JobWorker.ReceiveSize.MAX).isEqualTo(32);
    }

    @Test
    void halvesWhenAReceiveComesBackEmptyDownToTheMinimum() {
        for (int i = 0; i < 3; i++) {
            size.received(size.size());
        }
        assertThat(size.size()).isEqualTo(32);
        size.received(0);
        assertThat(size.size()).isEqualTo(16);
        size.received(0);
        size.received(0);
        size.received(0);
        assertThat(size.size()).isEqualTo(4);
    }

    @Test
    void keepsItsSizeWhilePartialReceivesComeWithinTheShrinkDelayThenHalves() {
        size.received(4);
        size.received(8);
        assertThat(size.size()).isEqualTo(16);
        advance(JobWorker.ReceiveSize.SHRINK_AFTER.minusMillis(1));
        size.received(10);
        assertThat(size.size()).as("partial, within the delay").isEqualTo(16);
        advance(Duration.ofMillis(1));
        size.received(10);
        assertThat(size.size()).as("no full receive for the whole delay").isEqualTo(8);
        size.received(7);
        assertThat(size.size()).as("the delay starts again after a change").isEqualTo(8);
    }

    @Test
    void staysWithinItsBoundsWhateverTheReceivesAndTheTicker() {
        Random random = new Random(20261203L);
        for (int i = 0; i < 100_000; i++) {
            int before = size.size();
            int got = random.nextInt(4) == 0 ? 0 : random.nextInt(before + 1);
            advance(Duration.ofMillis(random.nextInt(400)));
            size.received(got);
            assertThat(size.size()).isBetween(JobWorker.ReceiveSize.MIN, JobWorker.ReceiveSize.MAX);
            if (got == before) {
                assertThat(size.size()).isEqualTo(Math.min(JobWorker.ReceiveSize.MAX, 2 * before));
            } else if (got == 0) {
                assertThat(size.size()).isEqualTo(Math.max(JobWorker.ReceiveSize.MIN, before / 2));
            } else {
                assertThat(size.size()).isIn(before, Math.max(JobWorker.ReceiveSize.MIN, before / 2));
            }
        }
    }
}
