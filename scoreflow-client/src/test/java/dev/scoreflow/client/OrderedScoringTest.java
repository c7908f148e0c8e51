package dev.scoreflow.client;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ScoreflowException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OrderedScoringTest {
    private final ScheduledExecutorService timer = Executors.newScheduledThreadPool(4);

    @AfterEach
    void stop() {
        timer.shutdownNow();
    }

    /** Answers each row's first feature after a random delay; tracks concurrency and rows. */
    private final class FakeService implements BatchScorer {
        final AtomicInteger outstanding = new AtomicInteger();
        final AtomicInteger maxOutstanding = new AtomicInteger();
        final AtomicLong rows = new AtomicLong();
        final Random random;
        volatile int failAtCall = -1;
        final AtomicInteger calls = new AtomicInteger();

        FakeService(long seed) {
            random = new Random(seed);
        }

        @Override
        public CompletableFuture<float[]> score(FloatMatrix batch) {
            int call = calls.getAndIncrement();
            maxOutstanding.accumulateAndGet(outstanding.incrementAndGet(), Math::max);
            rows.addAndGet(batch.rows());
            CompletableFuture<float[]> f = new CompletableFuture<>();
            long delay;
            synchronized (random) {
                delay = random.nextInt(3000);
            }
            timer.schedule(() -> {
                outstanding.decrementAndGet();
                if (call == failAtCall) {
                    f.completeExceptionally(new ScoreflowException("HTTP 500 from the service"));
                    return;
                }
                float[] s = new float[batch.rows()];
                for (int r = 0; r < s.length; r++) {
                    s[r] = batch.get(r, 0);
                }
                f.complete(s);
            }, delay, TimeUnit.MICROSECONDS);
            return f;
        }
    }

    @RepeatedTest(20)
    void scoresEveryRowOnceInOrderWithABoundedWindow() {
        Random r = new Random();
        int n = 1 + r.nextInt(20_000);
        int batchRows = 1 + r.nextInt(700);
        int window = 1 + r.nextInt(8);
        CountingRows input = new CountingRows(n);
        FakeService service = new FakeService(r.nextLong());
        OrderedScoring<float[]> scores = OrderedScoring.ofRows(input, service, batchRows, window);
        long consumed = 0;
        while (scores.hasNext()) {
            assertThat(scores.next().score()).isEqualTo((float) consumed);
            consumed++;
            // memory bound: rows read but not yet consumed never exceed the window plus the batch being consumed
            assertThat(input.read.get() - consumed).isLessThanOrEqualTo((long) (window + 1) * batchRows);
            assertThat(scores.inFlight()).isLessThanOrEqualTo(window);
        }
        assertThat(consumed).isEqualTo(n);
        assertThat(service.rows.get()).isEqualTo(n); // each row sent exactly once
        assertThat(service.maxOutstanding.get()).isLessThanOrEqualTo(window);
    }

    @Test
    void hasNextWaitsForTheLastAnswerBeforeSayingFalse() throws Exception {
        List<CompletableFuture<float[]>> pending = new ArrayList<>();
        BatchScorer manual = batch -> {
            CompletableFuture<float[]> f = new CompletableFuture<>();
            synchronized (pending) {
                pending.add(f);
            }
            return f;
        };
        OrderedScoring<float[]> scores = OrderedScoring.ofRows(new CountingRows(3), manual, 2, 4);
        CompletableFuture<Boolean> first = CompletableFuture.supplyAsync(scores::hasNext);
        awaitCondition(() -> {
            synchronized (pending) {
                return pending.size() == 2;
            }
        });
        assertThat(first).isNotDone(); // both batches are out and unanswered: no answer yet
        pending.get(1).complete(new float[]{2f});
        assertThat(first).isNotDone(); // the second answer alone does not release the first row
        pending.get(0).complete(new float[]{0f, 1f});
        assertThat(first.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(scores.next().score()).isEqualTo(0f);
        assertThat(scores.next().score()).isEqualTo(1f);
        assertThat(scores.next().score()).isEqualTo(2f);
        assertThat(scores.hasNext()).isFalse();
    }

    @Test
    void rethrowsAFailureOnTheCallerAndStopsReadingInput() {
        CountingRows input = new CountingRows(100_000);
        FakeService service = new FakeService(7);
        service.failAtCall = 3;
        OrderedScoring<float[]> scores = OrderedScoring.ofRows(input, service, 100, 4);
        long consumed = 0;
        Throwable thrown = null;
        try {
            while (scores.hasNext()) {
                scores.next();
                consumed++;
            }
        } catch (ScoreflowException e) {
            thrown = e;
        }
        assertThat(thrown).hasMessageContaining("HTTP 500 from the service");
        assertThat(consumed).isEqualTo(300); // the three batches before the failed one
        long readAtFailure = input.read.get();
        assertThatThrownBy(scores::hasNext).isSameAs(thrown);
        assertThat(input.read.get()).isEqualTo(readAtFailure).isLessThanOrEqualTo(800);
    }

    @Test
    void refusesRowsOfDifferentWidthsAndBadSettings() {
        Iterator<float[]> mixed = List.of(new float[]{1, 2}, new float[]{1, 2, 3}).iterator();
        OrderedScoring<float[]> scores = OrderedScoring.ofRows(mixed, b -> CompletableFuture.completedFuture(new float[b.rows()]),
                10, 1);
        assertThatThrownBy(scores::hasNext).isInstanceOf(ScoreflowException.class)
                .hasMessageContaining("row has 3 features, earlier rows have 2");
        assertThatThrownBy(() -> OrderedScoring.ofRows(mixed, null, 0, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got 0");
    }

    @Test
    void refusesAnAnswerWithTheWrongNumberOfScores() {
        OrderedScoring<float[]> scores = OrderedScoring.ofRows(new CountingRows(5),
                b -> CompletableFuture.completedFuture(new float[1]), 5, 1);
        assertThatThrownBy(scores::hasNext).isInstanceOf(ScoreflowException.class)
                .hasMessageContaining("answered 1 scores for 5 rows");
    }

    @Test
    void inValueModeRowsOfTheWrongWidthAndFailedBatchesBecomeErrorValues() {
        List<float[]> rows = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            rows.add(i == 4 ? new float[]{4} : new float[]{i, 1, 2});
        }
        BatchScorer failsSecondBatch = b -> b.get(0, 0) >= 10 && b.get(0, 0) < 20
                ? CompletableFuture.failedFuture(new ScoreflowException("HTTP 500 from node: model crashed"))
                : CompletableFuture.completedFuture(firstColumn(b));
        OrderedScoring<float[]> scores = OrderedScoring.of(rows.iterator(), r -> r, failsSecondBatch, 10, 2,
                ErrorMode.VALUE);
        int i = 0;
        while (scores.hasNext()) {
            Scored<float[]> s = scores.next();
            assertThat(s.item()).isSameAs(rows.get(i));
            if (i == 4) {
                assertThat(s.error()).contains("row has 1 features, earlier rows have 3");
            } else if (i >= 10 && i < 20) {
                assertThat(s.error()).contains("model crashed");
                assertThat(s.score()).isNaN();
            } else {
                assertThat(s.error()).isNull();
                assertThat(s.score()).isEqualTo((float) i);
            }
            i++;
        }
        assertThat(i).isEqualTo(30);
    }

    private static float[] firstColumn(FloatMatrix b) {
        float[] s = new float[b.rows()];
        for (int r = 0; r < s.length; r++) {
            s[r] = b.get(r, 0);
        }
        return s;
    }

    private static void awaitCondition(java.util.function.BooleanSupplier c) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!c.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition within 10 s").isLessThan(end);
            Thread.sleep(1);
        }
    }
}
