package dev.scoreflow.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.UncheckedBooleanSupplier;

import java.util.function.Supplier;

/**
 * The socket-read buffers of one plaintext connection: while a large body of known length is being received, the
 * socket is read straight into the rest of that body's buffer, so the kernel's copy is the only one (a body gathered
 * from Netty's own read buffers would be copied once more, 400 KB for a 1000-row request). Otherwise reads go to
 * the channel's usual buffers.
 *
 * <p>A read into the body's buffer is capped at the bytes the body still lacks, so it never holds a byte of the
 * next request; the HTTP decoder passes those bytes on as content slices of the same memory, and
 * {@link HttpConnection} only counts them. Not for TLS: there the socket carries ciphertext, not the body.
 */
final class BodyReads implements RecvByteBufAllocator {
    private final RecvByteBufAllocator usual;
    /** The connection's view of where the next body bytes go, or null when no body is read in place. */
    private final Supplier<ByteBuf> inPlace;

    BodyReads(RecvByteBufAllocator usual, Supplier<ByteBuf> inPlace) {
        this.usual = usual;
        this.inPlace = inPlace;
    }

    @Override
    public Handle newHandle() {
        // the epoll transport requires an extended handle (the usual allocators all give one)
        return new InPlaceHandle((ExtendedHandle) usual.newHandle());
    }

    private final class InPlaceHandle extends DelegatingHandle implements ExtendedHandle {
        InPlaceHandle(ExtendedHandle usual) {
            super(usual);
        }

        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            ByteBuf view = inPlace.get();
            return view != null ? view : delegate().allocate(alloc);
        }

        @Override
        public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
            return ((ExtendedHandle) delegate()).continueReading(maybeMoreDataSupplier);
        }
    }
}
