package dev.scoreflow.client;

import java.util.Objects;
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
 * input; cancelling the output cancels the input at once, even while the loop waits for input or for an answer,
 * and the loop's thread returns to {@code executor}. Each subscriber gets its own run over a new subscription to
 * {@code input}.
 */
public final class FlowScoring {
    private FlowScoring() {
    }

    /** The scored publisher; nothing is read from {@code input} until someone subscribes. */
    public static <T> Flow.Publisher<Scored<T>> publisher(Flow.Publisher<T> input, OrderedScoring.Features<T> features,
                                                          BatchScorer scorer, int batchRows, int maxInFlight,
                                                          ErrorMode mode, Executor executor) {
        return subscriber -> {
            Objects.requireNonNull(subscriber, "subscriber"); // rule 2.13
            Run<T> run = new Run<>(subscriber);
            subscriber.onSubscribe(run);
            executor.execute(() -> run.drive(input, features, scorer, batchRows, maxInFlight, mode));
        };
    }

    /**
     * One subscription: the downstream demand, and the loop that serves it. {@link #cancel()} ends the loop
     * wherever it waits: for demand, for input (the input is cancelled, which wakes its iterator) or for an answer
     * (the ordered stream is aborted, its batches cancelled), so the thread returns to its pool at once.
     */
    private static final class Run<T> implements Flow.Subscription {
        private final Flow.Subscriber<? super Scored<T>> downstream;
        private long demand;
        private boolean cancelled;
        private Throwable badRequest;
        private PublisherIterator<T> in;    // set by the loop; guarded by this
        private OrderedScoring<T> scored;   // set by the loop; guarded by this

        Run(Flow.Subscriber<? super Scored<T>> downstream) {
            this.downstream = downstream;
        }

        @Override
        public void request(long n) {
            if (n <= 0) { // rule 3.9: a non-positive request is an error, signalled by the loop (signals are serial)
                synchronized (this) {
                    if (cancelled) {
                        return; // rule 3.6: after cancel, requests are no-ops
                    }
                    badRequest = new IllegalArgumentException("request(" + n + "): demand must be positive "
                            + "(Reactive Streams rule 3.9)");
                }
                stop();
                return;
            }
            synchronized (this) {
                demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
                notifyAll();
            }
        }

        @Override
        public void cancel() {
            stop();
        }

        /** Marks the run cancelled and unblocks the loop wherever it waits; idempotent, any thread. */
        private void stop() {
            PublisherIterator<T> input;
            OrderedScoring<T> stream;
            synchronized (this) {
                if (cancelled) {
                    return;
                }
                cancelled = true;
                input = in;
                stream = scored;
                notifyAll();
            }
            if (input != null) {
                input.cancel(); // upstream: the input stops, and a loop waiting for an item wakes
            }
            if (stream != null) {
                stream.abort(); // a loop waiting for an answer wakes; batches still out are cancelled
            }
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

        private synchronized boolean cancelled() {
            return cancelled;
        }

        void drive(Flow.Publisher<T> input, OrderedScoring.Features<T> features, BatchScorer scorer, int batchRows,
                   int maxInFlight, ErrorMode mode) {
            PublisherIterator<T> it = null;
            try {
                it = new PublisherIterator<>(input, Math.max(2, batchRows * (maxInFlight + 1)));
                OrderedScoring<T> stream = OrderedScoring.of(it, features, scorer, batchRows, maxInFlight, mode);
                synchronized (this) {
                    in = it;
                    scored = stream;
                }
                if (cancelled()) { // cancelled before the loop could be reached: stop() did not see these
                    it.cancel();
                    stream.abort();
                }
                while (stream.hasNext()) {
                    if (!awaitDemand()) {
                        break;
                    }
                    downstream.onNext(stream.next());
                }
                if (!cancelled()) {
                    downstream.onComplete();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                end(it, e);
            } catch (RuntimeException e) {
                end(it, e);
            }
            Throwable bad;
            synchronized (this) {
                bad = badRequest;
                in = null;
                scored = null;
            }
            if (bad != null) {
                downstream.onError(bad);
            }
        }

        /** The loop failed: cancel the input and tell downstream, unless it cancelled (then it hears nothing). */
        private void end(PublisherIterator<T> it, Exception e) {
            if (it != null) {
                it.cancel();
            }
            if (!cancelled()) {
                downstream.onError(e);
            }
        }
    }
}
