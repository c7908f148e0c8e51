package dev.scoreflow.api;

import dev.scoreflow.api.internal.Floats;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.Optional;

/** {@link FloatMatrix} over little-endian float32 bytes, as they arrive on the wire. */
final class LittleEndianMatrix implements FloatMatrix {
    private final ByteBuffer bytes;
    private final int rows;
    private final int cols;

    LittleEndianMatrix(ByteBuffer littleEndianFloats, int rows, int cols) {
        if (rows < 0 || cols < 0 || 4L * rows * cols != littleEndianFloats.remaining()) {
            throw new IllegalArgumentException("a " + rows + " x " + cols + " float32 matrix needs "
                    + 4L * rows * cols + " bytes, got " + littleEndianFloats.remaining());
        }
        this.bytes = littleEndianFloats.slice().order(ByteOrder.LITTLE_ENDIAN);
        this.rows = rows;
        this.cols = cols;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public float get(int row, int col) {
        Objects.checkIndex(row, rows);
        Objects.checkIndex(col, cols);
        return bytes.getFloat((row * cols + col) * 4);
    }

    @Override
    public void copyRowsTo(int fromRow, int rowCount, ByteBuffer dst) {
        Objects.checkFromIndexSize(fromRow, rowCount, rows);
        int from = fromRow * cols * 4;
        int len = rowCount * cols * 4;
        if (dst.order() == ByteOrder.LITTLE_ENDIAN) {
            dst.put(bytes.duplicate().limit(from + len).position(from));
        } else {
            for (int i = 0; i < len; i += 4) {
                dst.putFloat(bytes.getFloat(from + i));
            }
        }
    }

    @Override
    public Optional<ByteBuffer> littleEndianBytes() {
        return Optional.of(bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN));
    }

    @Override
    public long firstNonFinite() {
        return Floats.firstNonFinite(bytes);
    }
}
