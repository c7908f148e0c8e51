package dev.scoreflow.client;

import java.util.concurrent.Executor;
import java.util.concurrent.Flow;

/**
 * Scoring as a Reactive Streams ({@link Flow}) stage: a publisher of items in, a publisher of {@link Scored} items
 * out, in input order. Demand flows back end to end: the scored publisher emits only what its subscriber requested;
 * while it waits, at most {@code maxInFlight} batches are being scored and at most {@code batchRows * (maxInFlight +
 * 1)} items are asked of the input, so memory stays bounded whatever the speeds of the three parties.
 *
 * <p>Each subscription runs the ordered pipeline on one thread of {@code executor}, which blocks while it waits
 * (for input, for answers, for demand); give it a pool that may hold one thread per concurrent subscription. A
 * failure (with {@link ErrorMode#FAIL}) or a failing input ends the output with {@code onError} and cancels the
 * input; cancelling the output cancels the input. Single subscriber per {@link #publisher} call.
 */
public final class FlowScoring {
    private FlowScoring() {
    }

    /** The scored publisher; nothing is read from {@code input} until someone subscribes. */
    public static <T> Flow.Publisher<Scored<T>> publisher(Flow.Publisher<T> input, OrderedScoring.Features<T> features,
                                                          BatchScorer scorer, int batchRows, int maxInFlight,
                                                          ErrorMode mode, Executor executor) {
        return subscriber -> {
            Run<T> run = new Run<>(subscriber);
            subscriber.onSubscribe(run);
            executor.execute(() -> run.drive(input, features, scorer, batchRows, maxInFlight, mode));
        };
    }

    /** One subscription: the downstream demand, and the loop that serves it. */
    private static final class Run<T> implements Flow.Subscription {
        private final Flow.Subscriber<? super Scored<T>> downstream;
        private long demand;
        private boolean cancelled;
        private Throwable badRequest;

        Run(Flow.Subscriber<? super Scored<T>> downstream) {
            this.downstream = downstream;
        }

        @Override
        public synchronized void request(long n) {
            if (n <= 0) { // rule 3.9: a non-positive request is an error, signalled by the loop (signals are serial)
                badRequest = new IllegalArgumentException("request(" + n + "): demand must be positive");
                cancelled = true;
                notifyAll();
                return;
            }
            demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
            notifyAll();
        }

        @Override
        public synchronized void cancel() {
            cancelled = true;
            notifyAll();
        }

        /** Waits for demand; false if cancelled. */
        private synchronized boolean awaitDemand() throws InterruptedException { // called by the loop only
            while (demand == 0 && !cancelled) {
                wait();
            }
            if (cancelled) {
                return false;
            }
            demand--;
            return true;
        }

        void drive(Flow.Publisher<T> input, OrderedScoring.Features<T> features, BatchScorer scorer, int batchRows,
                   int maxInFlight, ErrorMode mode) {
            PublisherIterator<T> in = new PublisherIterator<>(input, Math.max(2, batchRows * (maxInFlight + 1)));
            try {
                OrderedScoring<T> scored = OrderedScoring.of(in, features, scorer, batchRows, maxInFlight, mode);
                while (scored.hasNext()) {
                    if (!awaitDemand()) {
                        in.cancel();
                        if (badRequest != null) {
                            downstream.onError(badRequest);
                        }
                        return;
                    }
                    downstream.onNext(scored.next());
                }
                downstream.onComplete();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                in.cancel();
                downstream.onError(e);
            } catch (RuntimeException e) {
                in.cancel();
                downstream.onError(e);
            }
        }
    }
}
