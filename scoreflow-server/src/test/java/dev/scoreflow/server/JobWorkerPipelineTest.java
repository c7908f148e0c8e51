package dev.scoreflow.server;

import dev.scoreflow.jobs.Delivery;
import dev.scoreflow.jobs.Job;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobRequest;
import dev.scoreflow.jobs.QueueSettings;
import dev.scoreflow.jobs.QueueUnavailableException;
import dev.scoreflow.jobs.Submitted;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.runtime.ThreadBudget;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The worker's outcome pipeline against a queue whose outcomes the test stores by hand: at most
 * {@link JobWorker#MAX_PENDING_OUTCOMES} outcomes of a thread are in flight, a job counts as done only once its
 * outcome is stored, refused and failed outcomes never count, and a backlog makes the thread ask for more per receive.
 */
class JobWorkerPipelineTest {
    static final int JOBS = 400;

    @Test
    void keepsAtMost64OutcomesInFlightAndCountsAJobDoneOnlyOnceTheQueueStoredIt() throws Exception {
        ModelRepository repo = ModelRepository.builder().threads(new ThreadBudget(1, 1))
                .model("example", TestModels.example()).build();
        HandStoredQueue q = new HandStoredQueue();
        JobRequest request = JobRequest.seed("example", JobsOnPostgresTest.sampleRows());
        for (int i = 0; i < JOBS; i++) {
            q.ready.add(new Delivery("job-" + i, "receipt-" + i, request, 1));
        }
        int stored = 0;
        try (JobWorker worker = JobWorker.start(ScoringServer.builder(repo), q, 1)) {
            // unanswered, the thread scores on (receives of 4, 8, 16 and 32 jobs) until its next receive could
            // exceed the bound
            List<CompletableFuture<Boolean>> first = q.awaitHandedOver(JobWorker.MAX_PENDING_OUTCOMES / 2 + 1);
            assertThat(worker.done()).as("nothing is done before the queue stored it").isZero();
            int answered = 0;
            while (answered < JOBS) {
                List<CompletableFuture<Boolean>> handed = answered == 0 ? first : q.awaitHandedOver(answered + 1);
                for (int i = answered; i < handed.size(); i++) {
                    if (i % 11 == 5) {
                        handed.get(i).completeExceptionally(new QueueUnavailableException("commit failed", null));
                    } else if (i % 7 == 3) {
                        handed.get(i).complete(false); // the lease had passed on
                    } else {
                        handed.get(i).complete(true);
                        stored++;
                    }
                }
                answered = handed.size();
                assertThat(worker.done()).as("done is never ahead of the stored outcomes").isLessThanOrEqualTo(stored);
            }
            worker.close();
            assertThat(worker.done()).as("done counts exactly the stored outcomes").isEqualTo(stored);
            assertThat(worker.failed()).isZero();
        }
        assertThat(q.mostInFlight).as("outcomes in flight at most")
                .isGreaterThan(JobWorker.MAX_PENDING_OUTCOMES / 2).isLessThanOrEqualTo(JobWorker.MAX_PENDING_OUTCOMES);
        assertThat(q.asked).as("receive sizes").contains(JobWorker.ReceiveSize.MAX)
                .allMatch(n -> n >= JobWorker.ReceiveSize.MIN && n <= JobWorker.ReceiveSize.MAX);
        assertThat(q.synchronousCalls).as("the worker never waits on complete or fail").isZero();
    }

    /** Hands out the jobs of {@code ready}; its outcomes are stored when the test completes their futures. */
    static final class HandStoredQueue implements JobQueue {
        final ArrayDeque<Delivery> ready = new ArrayDeque<>(); // guarded by this
        final List<CompletableFuture<Boolean>> handedOver = new ArrayList<>(); // guarded by this
        final List<Integer> asked = new ArrayList<>(); // guarded by this
        int mostInFlight; // guarded by this
        int synchronousCalls; // guarded by this

        synchronized List<CompletableFuture<Boolean>> awaitHandedOver(int n) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (handedOver.size() < n) {
                long left = deadline - System.nanoTime();
                assertThat(left).as("%d outcomes handed over within 60 s, got %d", n, handedOver.size()).isPositive();
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            return new ArrayList<>(handedOver);
        }

        private synchronized CompletableFuture<Boolean> handOver() {
            CompletableFuture<Boolean> f = new CompletableFuture<>();
            handedOver.add(f);
            mostInFlight = Math.max(mostInFlight, (int) handedOver.stream().filter(o -> !o.isDone()).count());
            notifyAll();
            return f;
        }

        @Override
        public synchronized List<Delivery> receive(int max, Duration wait) throws InterruptedException {
            asked.add(max);
            long deadline = System.nanoTime() + wait.toNanos();
            while (ready.isEmpty() && deadline - System.nanoTime() > 0) {
                TimeUnit.NANOSECONDS.timedWait(this, deadline - System.nanoTime());
            }
            List<Delivery> out = new ArrayList<>();
            while (out.size() < max && !ready.isEmpty()) {
                out.add(ready.poll());
            }
            return out;
        }

        @Override
        public CompletableFuture<Boolean> completeAsync(Delivery d, byte[] result, String resultType) {
            return handOver();
        }

        @Override
        public CompletableFuture<Boolean> failAsync(Delivery d, String error, Duration retryAfter) {
            return handOver();
        }

        @Override
        public synchronized boolean complete(Delivery d, byte[] result, String resultType) {
            synchronousCalls++;
            return false;
        }

        @Override
        public synchronized boolean fail(Delivery d, String error, Duration retryAfter) {
            synchronousCalls++;
            return false;
        }

        @Override
        public Submitted submit(JobRequest request) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Optional<Job> get(String id) {
            return Optional.empty();
        }

        @Override
        public boolean cancel(String id) {
            return false;
        }

        @Override
        public void onFinished(Consumer<String> listener) {
        }

        @Override
        public void publish(String event) {
        }

        @Override
        public void onEvent(Consumer<String> listener) {
        }

        @Override
        public void noteCallbacks(String id, String status) {
        }

        @Override
        public QueueSettings settings() {
            return QueueSettings.defaults();
        }

        @Override
        public void close() {
        }
    }
}
