package dev.scoreflow.api.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;

/** Fast checks over little-endian float32 bytes, which may arrive split over several buffers. Not API. */
public final class Floats {
    private static final ThreadLocal<long[]> CHUNK = ThreadLocal.withInitial(() -> new long[2048]);

    private Floats() {
    }

    /** Whether the float with these bits is NaN or infinite (all 8 exponent bits set). */
    public static boolean nonFinite(int bits) {
        return (bits & 0x7f800000) == 0x7f800000;
    }

    /**
     * The index of the first NaN or infinite float in the concatenation of the remaining bytes of {@code parts}
     * (little-endian float32; a float may straddle two parts), or -1. Positions are not changed.
     */
    public static long firstNonFinite(ByteBuffer... parts) {
        long index = 0;
        int carry = 0;
        int carryBytes = 0;
        for (ByteBuffer part : parts) {
            ByteBuffer p = part.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            while (carryBytes > 0 && p.hasRemaining()) {
                carry |= (p.get() & 0xff) << (8 * carryBytes++);
                if (carryBytes == 4) {
                    if (nonFinite(carry)) {
                        return index;
                    }
                    index++;
                    carry = 0;
                    carryBytes = 0;
                }
            }
            int whole = p.remaining() / 4;
            long at = firstNonFiniteAligned(p.slice().limit(whole * 4).order(ByteOrder.LITTLE_ENDIAN));
            if (at >= 0) {
                return index + at;
            }
            index += whole;
            p.position(p.position() + whole * 4);
            while (p.hasRemaining()) {
                carry |= (p.get() & 0xff) << (8 * carryBytes++);
            }
        }
        return -1;
    }

    /**
     * {@link #firstNonFinite} for one buffer of whole floats. This runs on every request, so it must go at memory
     * speed: chunks are copied out in bulk and tested two floats per long with a branch-free loop the JIT
     * vectorizes. A float is non-finite when its magnitude bits are at least 0x7f800000, so adding 0x00800000 to
     * them carries into the float's sign bit; no carry can cross from the low float into the high one.
     */
    private static long firstNonFiniteAligned(ByteBuffer le) {
        LongBuffer longs = le.asLongBuffer();
        long[] chunk = CHUNK.get();
        int done = 0;
        while (longs.hasRemaining()) {
            int k = Math.min(chunk.length, longs.remaining());
            longs.get(chunk, 0, k);
            long acc = 0;
            for (int i = 0; i < k; i++) {
                acc |= (chunk[i] & 0x7fffffff7fffffffL) + 0x0080000000800000L;
            }
            if ((acc & 0x8000000080000000L) != 0) {
                for (int i = done * 2; i < (done + k) * 2; i++) {
                    if (nonFinite(le.getInt(i * 4))) {
                        return i;
                    }
                }
            }
            done += k;
        }
        int floats = le.remaining() / 4;
        for (int i = done * 2; i < floats; i++) { // an odd last float
            if (nonFinite(le.getInt(i * 4))) {
                return i;
            }
        }
        return -1;
    }
}
