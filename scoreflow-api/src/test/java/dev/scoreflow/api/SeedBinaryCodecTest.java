package dev.scoreflow.api;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SeedBinaryCodecTest {

    @Property(tries = 200)
    void roundTripsAnyMatrix(@ForAll @IntRange(min = 1, max = 50) int rows,
                             @ForAll @IntRange(min = 1, max = 40) int cols, @ForAll long seed) {
        Random r = new Random(seed);
        float[] data = new float[rows * cols];
        for (int i = 0; i < data.length; i++) {
            data[i] = Float.intBitsToFloat(r.nextInt()); // every bit pattern, NaNs included, survives the trip
        }
        ByteBuffer body = SeedBinaryCodec.encode(FloatMatrix.of(data, rows, cols));
        FloatMatrix decoded = SeedBinaryCodec.decode(body, cols);
        assertThat(decoded.rows()).isEqualTo(rows);
        float[] back = decoded.toArray();
        for (int i = 0; i < data.length; i++) {
            assertThat(Float.floatToRawIntBits(back[i])).isEqualTo(Float.floatToRawIntBits(data[i]));
        }
    }

    @Property(tries = 200)
    void refusesEveryLengthThatIsNotWholeRows(@ForAll @IntRange(min = 1, max = 5000) int bytes,
                                              @ForAll @IntRange(min = 1, max = 300) int features) {
        if (bytes % (4 * features) == 0) {
            assertThat(SeedBinaryCodec.rows(bytes, features)).isEqualTo(bytes / (4 * features));
        } else {
            assertThatThrownBy(() -> SeedBinaryCodec.rows(bytes, features))
                    .isInstanceOf(BadInputException.class)
                    .hasMessageContaining("not a multiple of 4 x " + features + " features");
        }
    }

    @Property(tries = 300)
    void findsTheFirstNonFiniteValueAnywhere(@ForAll @IntRange(min = 1, max = 9000) int values,
                                             @ForAll @IntRange(min = 0, max = 3) int kind, @ForAll long seed) {
        Random r = new Random(seed);
        float[] data = new float[values];
        for (int i = 0; i < values; i++) {
            data[i] = (r.nextFloat() - 0.5f) * 1e30f;
        }
        int at = r.nextInt(values);
        float bad = switch (kind) {
            case 0 -> Float.NaN;
            case 1 -> Float.POSITIVE_INFINITY;
            case 2 -> Float.NEGATIVE_INFINITY;
            default -> Float.intBitsToFloat(0x7fc01234); // a NaN with payload
        };
        data[at] = bad;
        if (r.nextBoolean() && at + 1 < values) {
            data[values - 1] = Float.NaN; // a later one must not win
        }
        FloatMatrix m = SeedBinaryCodec.decode(SeedBinaryCodec.encode(FloatMatrix.of(data, values, 1)), 1);
        assertThat(m.firstNonFinite()).isEqualTo(at);
        data[at] = Float.MAX_VALUE;
        data[values - 1] = -Float.MAX_VALUE;
        m = SeedBinaryCodec.decode(SeedBinaryCodec.encode(FloatMatrix.of(data, values, 1)), 1);
        assertThat(m.firstNonFinite()).isEqualTo(-1);
    }

    @Test
    void refusesEmptyBodyNamingTheRowSize() {
        assertThatThrownBy(() -> SeedBinaryCodec.rows(0, 100))
                .isInstanceOf(BadInputException.class)
                .hasMessageContaining("empty body").hasMessageContaining("400 bytes per row");
    }

    @Test
    void scoresRoundTrip() {
        float[] scores = {0f, 0.5f, 1f, -3.25f};
        ByteBuffer b = SeedBinaryCodec.encode(scores);
        assertThat(b.order(ByteOrder.LITTLE_ENDIAN).getFloat(4)).isEqualTo(0.5f);
        assertThat(SeedBinaryCodec.decodeScores(b)).containsExactly(scores);
    }

    @Test
    void findsTheFirstNonFiniteValueInBothLayouts() {
        float[] data = {1, 2, 3, 4, Float.NaN, 6};
        assertThat(FloatMatrix.of(data, 3, 2).firstNonFinite()).isEqualTo(4);
        assertThat(SeedBinaryCodec.decode(SeedBinaryCodec.encode(FloatMatrix.of(data, 3, 2)), 2).firstNonFinite())
                .isEqualTo(4);
        data[4] = Float.NEGATIVE_INFINITY;
        assertThat(SeedBinaryCodec.decode(SeedBinaryCodec.encode(FloatMatrix.of(data, 3, 2)), 2).firstNonFinite())
                .isEqualTo(4);
        data[4] = Float.MAX_VALUE;
        assertThat(FloatMatrix.of(data, 3, 2).firstNonFinite()).isEqualTo(-1);
    }

    @Test
    void copiesRowRangesIntoAnotherBuffer() {
        float[] data = {1, 2, 3, 4, 5, 6};
        FloatMatrix m = SeedBinaryCodec.decode(SeedBinaryCodec.encode(FloatMatrix.of(data, 3, 2)), 2);
        ByteBuffer dst = ByteBuffer.allocateDirect(16).order(ByteOrder.LITTLE_ENDIAN);
        m.copyRowsTo(1, 2, dst);
        assertThat(dst.position()).isEqualTo(16);
        assertThat(dst.getFloat(0)).isEqualTo(3f);
        assertThat(dst.getFloat(12)).isEqualTo(6f);
    }
}
