package dev.scoreflow.api;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * An encoded Open Inference Protocol message: the JSON header and, with the binary tensor extension, the binary
 * tensors that follow it in the body, in the order their tensors appear in the JSON.
 *
 * <p>When {@link #hasBinary()} is true the sender must set {@code Inference-Header-Content-Length} to
 * {@link #headerLength()}.
 */
public record V2Message(byte[] json, List<ByteBuffer> binary) {
    public V2Message {
        binary = List.copyOf(binary);
    }

    /** Bytes of JSON at the start of the body. */
    public int headerLength() {
        return json.length;
    }

    /** Whether binary tensors follow the JSON. */
    public boolean hasBinary() {
        return !binary.isEmpty();
    }

    /** Total body length. */
    public long bodyLength() {
        long n = json.length;
        for (ByteBuffer b : binary) {
            n += b.remaining();
        }
        return n;
    }

    /** The whole body in one buffer, ready to read. */
    public ByteBuffer toByteBuffer() {
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(bodyLength()));
        out.put(json);
        for (ByteBuffer b : binary) {
            out.put(b.duplicate());
        }
        return out.flip();
    }
}
