package dev.scoreflow.api;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/** {@link FloatMatrix} over a row-major {@code float[]}. */
final class ArrayMatrix implements FloatMatrix {
    private final float[] data;
    private final int rows;
    private final int cols;

    ArrayMatrix(float[] data, int rows, int cols) {
        Objects.requireNonNull(data, "data");
        if (rows < 0 || cols < 0 || (long) rows * cols != data.length) {
            throw new IllegalArgumentException(
                    "a " + rows + " x " + cols + " matrix needs " + (long) rows * cols + " values, got " + data.length);
        }
        this.data = data;
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
        return data[row * cols + col];
    }

    @Override
    public void copyRowsTo(int fromRow, int rowCount, ByteBuffer dst) {
        Objects.checkFromIndexSize(fromRow, rowCount, rows);
        int n = rowCount * cols;
        if (dst.order() == ByteOrder.LITTLE_ENDIAN) {
            dst.asFloatBuffer().put(data, fromRow * cols, n);
            dst.position(dst.position() + n * 4);
        } else {
            for (int i = 0; i < n; i++) {
                dst.putInt(Integer.reverseBytes(Float.floatToRawIntBits(data[fromRow * cols + i])));
            }
        }
    }

    @Override
    public long firstNonFinite() {
        for (int i = 0; i < data.length; i++) {
            if (!Float.isFinite(data[i])) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public float[] toArray() {
        return data.clone();
    }
}
