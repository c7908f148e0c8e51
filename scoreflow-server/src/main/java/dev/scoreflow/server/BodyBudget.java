package dev.scoreflow.server;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of request bodies held in memory at once, over all connections, kept under a limit.
 *
 * <p>Bytes are reserved as they arrive, not from what a request declares: a client that declares 64 MiB and
 * sends one byte holds one byte. The one exception is bounded: a body of a moderate declared length is received
 * into one buffer of that length, allocated (and so reserved whole) when its header arrives, but only while the
 * bytes held stay under half the limit (see {@link HttpConnection#WHOLE_MIN}), so declaring alone never takes the
 * budget from the rest. A {@link Reservation} belongs to one request; whoever owns the request's body
 * closes it when the body is released, so the count always equals the bytes really held. Thread-safe.
 */
final class BodyBudget {
    /** The metrics' gauge itself: one atomic add per read, nothing to copy. */
    private final AtomicLong inUse;
    private final long limit;

    BodyBudget(long limit, ServerMetrics metrics) {
        this.limit = limit;
        this.inUse = metrics.inflightBodyBytes;
    }

    long limit() {
        return limit;
    }

    long inUse() {
        return inUse.get();
    }

    Reservation open() {
        return new Reservation();
    }

    /** The bytes one request holds. Used by one thread at a time; {@link #close} is idempotent. */
    final class Reservation implements AutoCloseable {
        private long bytes;

        /**
         * Reserves {@code n} more bytes.
         *
         * @return false if that would pass the limit (nothing is reserved then); a request alone may exceed the
         *         limit, so a budget smaller than the largest body never refuses everything
         */
        boolean take(long n) {
            long now = inUse.addAndGet(n);
            if (now > limit && now != bytes + n) {
                inUse.addAndGet(-n);
                return false;
            }
            bytes += n;
            return true;
        }

        long bytes() {
            return bytes;
        }

        @Override
        public void close() {
            if (bytes != 0) {
                inUse.addAndGet(-bytes);
                bytes = 0;
            }
        }
    }
}
