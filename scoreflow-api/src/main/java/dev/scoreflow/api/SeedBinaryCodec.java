package dev.scoreflow.api;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The seed article's binary protocol: the request body is {@code m x n} little-endian float32 values, row-major,
 * where {@code n} is the model's feature count; the answer is {@code m} little-endian float32 scores.
 *
 * <p>Stateless and thread-safe.
 */
public final class SeedBinaryCodec {
    /** Content type of both the request and the answer. */
    public static final String CONTENT_TYPE = "application/octet-stream";

    private SeedBinaryCodec() {
    }

    /**
     * The number of rows in a body of {@code bodyBytes} bytes for a model of {@code features} features.
     *
     * @throws BadInputException if the body is empty or its length is not a multiple of {@code 4 * features}
     */
    public static int rows(long bodyBytes, int features) {
        if (features <= 0) {
            throw new IllegalArgumentException("features must be > 0, got " + features);
        }
        if (bodyBytes == 0) {
            throw new BadInputException("empty body: expected rows of " + features
                    + " little-endian float32 values (" + 4 * features + " bytes per row)");
        }
        long rowBytes = 4L * features;
        if (bodyBytes % rowBytes != 0) {
            throw new BadInputException("body has " + bodyBytes + " bytes, which is not a multiple of 4 x "
                    + features + " features = " + rowBytes + " bytes per row (" + bodyBytes / rowBytes
                    + " whole rows and " + bodyBytes % rowBytes + " bytes left over)");
        }
        long rows = bodyBytes / rowBytes;
        if (rows > Integer.MAX_VALUE) {
            throw new BadInputException("body has " + rows + " rows, more than " + Integer.MAX_VALUE);
        }
        return (int) rows;
    }

    /** Decodes a request body (its remaining bytes) into a matrix of {@code features} columns, without copying. */
    public static FloatMatrix decode(ByteBuffer body, int features) {
        return FloatMatrix.wrap(body, rows(body.remaining(), features), features);
    }

    /** Encodes scores as the answer body: {@code 4 * scores.length} little-endian bytes, ready to read. */
    public static ByteBuffer encode(float[] scores) {
        ByteBuffer out = ByteBuffer.allocate(scores.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        out.asFloatBuffer().put(scores);
        return out;
    }

    /** Decodes an answer body into scores. */
    public static float[] decodeScores(ByteBuffer answer) {
        if (answer.remaining() % 4 != 0) {
            throw new BadInputException("answer has " + answer.remaining() + " bytes, not a multiple of 4");
        }
        float[] out = new float[answer.remaining() / 4];
        answer.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    /** Encodes a matrix as a request body. */
    public static ByteBuffer encode(FloatMatrix rows) {
        ByteBuffer out = ByteBuffer.allocate(Math.multiplyExact(4 * rows.rows(), rows.cols()))
                .order(ByteOrder.LITTLE_ENDIAN);
        rows.copyRowsTo(0, rows.rows(), out);
        return out.flip();
    }
}
