package dev.scoreflow.runtime;

import dev.scoreflow.api.FloatMatrix;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The size-or-time rules, driven with explicit times: no threads, no sleeping. */
class BatchQueueTest {
    private static final long MS = 1_000_000L;

    private static ScoringJob job(int rows) {
        return new ScoringJob(FloatMatrix.of(new float[rows * 2], rows, 2), 1, Long.MAX_VALUE);
    }

    @Test
    void withoutDelayAnyQueuedRowsAreDueAtOnce() {
        BatchQueue q = new BatchQueue(new BatchPolicy(100, 0, 1000));
        q.offer(job(3), 0);
        assertThat(q.nanosUntilDue(0)).isZero();
        assertThat(q.poll(0)).hasSize(1);
        assertThat(q.isEmpty()).isTrue();
    }

    @Test
    void flushesPartialBatchAfterMaxDelay() {
        BatchQueue q = new BatchQueue(new BatchPolicy(100, 5 * MS, 1000));
        q.offer(job(10), 0);
        q.offer(job(10), 2 * MS);
        assertThat(q.poll(4 * MS)).isNull();
        assertThat(q.nanosUntilDue(4 * MS)).isEqualTo(MS);
        List<ScoringJob.Part> batch = q.poll(5 * MS);
        assertThat(batch).hasSize(2);
        assertThat(q.queuedRows()).isZero();
    }

    @Test
    void sendsFullBatchBeforeTheDelay() {
        BatchQueue q = new BatchQueue(new BatchPolicy(100, 5 * MS, 1000));
        q.offer(job(60), 0);
        assertThat(q.poll(0)).isNull();
        q.offer(job(60), MS);
        assertThat(q.nanosUntilDue(MS)).isZero();
        List<ScoringJob.Part> batch = q.poll(MS);
        // 60 + 60 > 100: the first alone makes the batch, the second waits its turn
        assertThat(batch).extracting(ScoringJob.Part::rows).containsExactly(60);
        assertThat(q.queuedRows()).isEqualTo(60);
    }

    @Test
    void refusesWhatDoesNotFitButAdmitsAnOversizedJobIntoAnEmptyQueue() {
        BatchQueue q = new BatchQueue(new BatchPolicy(100, 0, 150));
        assertThat(q.offer(job(1000), 0)).isTrue(); // alone: admitted, split in 10
        assertThat(q.queuedParts()).isEqualTo(10);
        assertThat(q.offer(job(1), 0)).isFalse();
        q.drainAll();
        assertThat(q.offer(job(100), 0)).isTrue();
        assertThat(q.offer(job(50), 0)).isTrue();
        assertThat(q.offer(job(1), 0)).isFalse();
        assertThat(q.queuedRows()).isEqualTo(150);
    }

    @Property(tries = 300)
    void splitsAndRegroupsEveryRowExactlyOnceInOrder(@ForAll @Size(min = 1, max = 30) List<@IntRange(min = 0, max = 700) Integer> sizes,
                                                     @ForAll @IntRange(min = 1, max = 256) int maxBatch) {
        BatchQueue q = new BatchQueue(new BatchPolicy(maxBatch, 0, Integer.MAX_VALUE));
        List<ScoringJob> jobs = new ArrayList<>();
        for (int s : sizes) {
            ScoringJob j = job(s);
            jobs.add(j);
            assertThat(q.offer(j, 0)).isTrue();
        }
        List<ScoringJob.Part> all = new ArrayList<>();
        List<ScoringJob.Part> batch;
        while ((batch = q.poll(0)) != null) {
            assertThat(batch.stream().mapToInt(ScoringJob.Part::rows).sum()).isLessThanOrEqualTo(maxBatch);
            assertThat(batch).isNotEmpty();
            all.addAll(batch);
        }
        // parts come out in job order, each job's parts contiguous and covering its rows once
        int at = 0;
        for (ScoringJob j : jobs) {
            int next = 0;
            do {
                ScoringJob.Part p = all.get(at++);
                assertThat(p.job()).isSameAs(j);
                assertThat(p.fromRow()).isEqualTo(next);
                next += p.rows();
            } while (next < j.rows.rows());
            assertThat(next).isEqualTo(j.rows.rows());
        }
        assertThat(at).isEqualTo(all.size());
        assertThat(q.queuedRows()).isZero();
    }
}
