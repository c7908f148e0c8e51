package dev.scoreflow.server;

import dev.scoreflow.api.BadInputException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;

/**
 * One fully received request on its way to an answer: the request, its parsed path, when it arrived, and what it
 * holds — the body, a copy of it if one was made, and the body's share of the {@link BodyBudget}.
 *
 * <p>Ownership: {@link HttpConnection} creates it and owns it until it hands it to the router; from then on the
 * exchange is released exactly once, after its answer is ready (the runtime reads no part of the body after the
 * scoring future completes). Used by one thread at a time.
 */
final class Exchange implements HttpConnection.Item {
    /** Header with the caller's time budget in milliseconds; a request that cannot start within it is refused. */
    static final String TIMEOUT_HEADER = "Scoreflow-Timeout-Ms";

    final FullHttpRequest request;
    final long startNanos;
    final List<String> path;
    final boolean keepAlive;
    private final ByteBufAllocator alloc;
    private final BodyBudget.Reservation reservation;
    private ByteBuf copy;
    private boolean released;

    /** Takes ownership of {@code request} and {@code reservation}; never throws. */
    Exchange(FullHttpRequest request, List<String> path, boolean keepAlive, BodyBudget.Reservation reservation,
             ByteBufAllocator alloc, long startNanos) {
        this.request = request;
        this.path = path;
        this.keepAlive = keepAlive;
        this.reservation = reservation;
        this.alloc = alloc;
        this.startNanos = startNanos;
    }

    /**
     * The body as one buffer. Netty keeps a large body as the list of buffers it arrived in; those are copied once
     * into a single direct buffer (released with the exchange), which the engine can then read in place.
     */
    ByteBuffer body() {
        ByteBuf content = request.content();
        if (copy != null) {
            return copy.nioBuffer();
        }
        if (content.nioBufferCount() == 1) {
            return content.nioBuffer();
        }
        int n = content.readableBytes();
        copy = alloc.directBuffer(n);
        // getBytes walks the components; writeBytes(composite) would first merge them into a temporary buffer
        content.getBytes(content.readerIndex(), copy, 0, n);
        copy.writerIndex(n);
        return copy.nioBuffer();
    }

    long bodyLength() {
        return request.content().readableBytes();
    }

    /** The media type without parameters, lower case; null if absent. */
    String mediaType() {
        String ct = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
        if (ct == null || ct.isBlank()) {
            return null;
        }
        int semi = ct.indexOf(';');
        return (semi < 0 ? ct : ct.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
    }

    /** The deadline in {@link System#nanoTime()} terms from {@value #TIMEOUT_HEADER}, or {@code Long.MAX_VALUE}. */
    long deadline() {
        String v = request.headers().get(TIMEOUT_HEADER);
        if (v == null) {
            return Long.MAX_VALUE;
        }
        try {
            long ms = Long.parseLong(v.trim());
            if (ms <= 0) {
                throw new NumberFormatException();
            }
            return startNanos + Math.min(ms, 86_400_000L) * 1_000_000L;
        } catch (NumberFormatException e) {
            throw new BadInputException(TIMEOUT_HEADER + " must be a positive number of milliseconds, got '" + v
                    + "'");
        }
    }

    /** Gives back everything the exchange holds; later calls do nothing. */
    void release() {
        if (released) {
            return;
        }
        released = true;
        try {
            request.release();
            if (copy != null) {
                copy.release();
                copy = null;
            }
        } finally {
            reservation.close();
        }
    }
}
