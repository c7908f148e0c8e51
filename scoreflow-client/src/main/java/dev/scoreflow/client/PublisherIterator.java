package dev.scoreflow.client;

import dev.scoreflow.api.ScoreflowException;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.Flow;

/**
 * A blocking {@link Iterator} over a {@link Flow.Publisher}: the bounded buffer between the publisher's threads and
 * the one thread that iterates. It never asks for more than {@code capacity} items beyond what was taken, so a fast
 * publisher cannot fill memory; it asks for more in chunks of half the capacity as items are taken. An error from
 * the publisher is rethrown by {@link #hasNext()} on the iterating thread; {@link #cancel()} stops the publisher.
 */
final class PublisherIterator<T> implements Iterator<T>, Flow.Subscriber<T> {
    private final int capacity;
    private final int refill;
    private final ArrayDeque<T> buffer;
    private Flow.Subscription subscription;
    private boolean done;
    private boolean cancelled;
    private Throwable error;
    private int takenSinceRequest;

    PublisherIterator(Flow.Publisher<T> publisher, int capacity) {
        if (capacity < 2) {
            throw new IllegalArgumentException("capacity must be >= 2, got " + capacity);
        }
        this.capacity = capacity;
        this.refill = capacity / 2;
        this.buffer = new ArrayDeque<>(capacity);
        publisher.subscribe(this);
    }

    @Override
    public synchronized void onSubscribe(Flow.Subscription s) {
        if (subscription != null || cancelled) { // a second subscription, or one that came after cancel()
            s.cancel();
            return;
        }
        subscription = s;
        s.request(capacity);
    }

    @Override
    public synchronized void onNext(T item) {
        if (cancelled) {
            return; // in flight when cancel() ran: dropped
        }
        if (buffer.size() >= capacity) { // the publisher sent more than was asked for
            error = new ScoreflowException("the publisher sent more than the " + capacity + " items asked for");
            subscription.cancel();
        } else {
            buffer.add(item);
        }
        notifyAll();
    }

    @Override
    public synchronized void onError(Throwable t) {
        error = t;
        notifyAll();
    }

    @Override
    public synchronized void onComplete() {
        done = true;
        notifyAll();
    }

    @Override
    public synchronized boolean hasNext() {
        while (buffer.isEmpty() && !done && error == null) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                cancel();
                throw new ScoreflowException("interrupted while waiting for input", e);
            }
        }
        if (!buffer.isEmpty()) {
            return true;
        }
        if (error != null) {
            throw error instanceof ScoreflowException s ? s : new ScoreflowException("the input failed: " + error,
                    error);
        }
        return false;
    }

    @Override
    public synchronized T next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        T item = buffer.poll();
        if (++takenSinceRequest == refill) {
            takenSinceRequest = 0;
            subscription.request(refill);
        }
        return item;
    }

    /**
     * Stops the publisher (the consumer gave up): drops what is buffered, wakes a waiting {@link #hasNext()} (which
     * then answers false) and cancels the subscription, now or as soon as it arrives. Any thread may call it, any
     * number of times.
     */
    void cancel() {
        Flow.Subscription s;
        synchronized (this) {
            if (cancelled) {
                return;
            }
            cancelled = true;
            done = true;
            buffer.clear();
            s = subscription;
            notifyAll();
        }
        if (s != null) {
            s.cancel(); // outside the lock: a publisher may signal from another thread while it cancels
        }
    }
}
