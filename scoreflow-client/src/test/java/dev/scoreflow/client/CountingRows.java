package dev.scoreflow.client;

import java.util.Iterator;
import java.util.concurrent.atomic.AtomicLong;

/** Test input: {@code n} rows whose first feature is their index; counts how many were read. */
final class CountingRows implements Iterator<float[]> {
    final long n;
    final AtomicLong read = new AtomicLong();

    CountingRows(long n) {
        this.n = n;
    }

    @Override
    public boolean hasNext() {
        return read.get() < n;
    }

    @Override
    public float[] next() {
        return new float[]{read.getAndIncrement(), 1f, 2f};
    }
}
