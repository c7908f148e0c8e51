package dev.scoreflow.api;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;

/**
 * A row-major matrix of float32 values: {@code rows()} feature vectors of {@code cols()} features each.
 *
 * <p>Implementations are read-only views; they never copy on construction. The batcher gathers rows of several
 * matrices into one model input with {@link #copyRowsTo}, which is the only copy on the scoring path.
 * Instances are safe to read from several threads as long as nobody writes the underlying storage.
 */
public interface FloatMatrix {

    /** Number of rows (feature vectors). */
    int rows();

    /** Number of columns (features per row). */
    int cols();

    /** The value at {@code (row, col)}. */
    float get(int row, int col);

    /**
     * Copies rows {@code [fromRow, fromRow + rowCount)} into {@code dst} at its position as little-endian float32
     * and advances the position by {@code 4 * rowCount * cols()} bytes.
     *
     * @throws IndexOutOfBoundsException if the rows are outside the matrix or {@code dst} has too little room
     */
    void copyRowsTo(int fromRow, int rowCount, ByteBuffer dst);

    /**
     * The flat index ({@code row * cols + col}) of the first NaN or infinite value, or {@code -1} if every value
     * is finite.
     */
    default long firstNonFinite() {
        for (int r = 0; r < rows(); r++) {
            for (int c = 0; c < cols(); c++) {
                if (!Float.isFinite(get(r, c))) {
                    return (long) r * cols() + c;
                }
            }
        }
        return -1;
    }

    /**
     * The matrix's storage as little-endian float32 bytes (a duplicate positioned at the first value), when it is
     * stored that way; engines use it to hand the memory to native code without a copy.
     */
    default Optional<ByteBuffer> littleEndianBytes() {
        return Optional.empty();
    }

    /** All values, row-major, in a new array. */
    default float[] toArray() {
        float[] out = new float[Math.multiplyExact(rows(), cols())];
        ByteBuffer b = ByteBuffer.allocate(out.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        copyRowsTo(0, rows(), b);
        b.flip().asFloatBuffer().get(out);
        return out;
    }

    /** A matrix over {@code data} (row-major, {@code rows * cols} values); the array is not copied. */
    static FloatMatrix of(float[] data, int rows, int cols) {
        return new ArrayMatrix(data, rows, cols);
    }

    /** A matrix whose rows are the given arrays (copied); all must have the same length. */
    static FloatMatrix ofRows(float[]... rows) {
        int cols = rows.length == 0 ? 0 : rows[0].length;
        float[] data = new float[rows.length * cols];
        for (int r = 0; r < rows.length; r++) {
            if (rows[r].length != cols) {
                throw new BadInputException("row " + r + " has " + rows[r].length + " values, row 0 has " + cols);
            }
            System.arraycopy(rows[r], 0, data, r * cols, cols);
        }
        return new ArrayMatrix(data, rows.length, cols);
    }

    /**
     * A matrix over the remaining bytes of {@code littleEndianFloats}, which must hold exactly
     * {@code 4 * rows * cols} bytes. The buffer is not copied and its position is not changed.
     */
    static FloatMatrix wrap(ByteBuffer littleEndianFloats, int rows, int cols) {
        return new LittleEndianMatrix(littleEndianFloats, rows, cols);
    }
}
