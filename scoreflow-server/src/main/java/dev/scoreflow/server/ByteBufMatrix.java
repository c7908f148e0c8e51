package dev.scoreflow.server;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.internal.Floats;
import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.Optional;

/**
 * A {@link FloatMatrix} over a request body as Netty holds it: usually a composite of the buffers it was read
 * into. Nothing is copied until the batcher gathers the rows into its model input, so each body is copied once
 * and no per-request buffer is allocated. Valid until the request is released.
 */
final class ByteBufMatrix implements FloatMatrix {
    private final ByteBuf buf;
    private final int offset;
    private final int rows;
    private final int cols;

    ByteBufMatrix(ByteBuf buf, int rows, int cols) {
        if (4L * rows * cols != buf.readableBytes()) {
            throw new IllegalArgumentException("a " + rows + " x " + cols + " float32 matrix needs "
                    + 4L * rows * cols + " bytes, got " + buf.readableBytes());
        }
        this.buf = buf;
        this.offset = buf.readerIndex();
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
        return buf.getFloatLE(offset + (row * cols + col) * 4);
    }

    @Override
    public void copyRowsTo(int fromRow, int rowCount, ByteBuffer dst) {
        Objects.checkFromIndexSize(fromRow, rowCount, rows);
        int from = offset + fromRow * cols * 4;
        int len = rowCount * cols * 4;
        if (dst.order() == ByteOrder.LITTLE_ENDIAN) {
            ByteBuffer view = dst.duplicate();
            view.limit(view.position() + len);
            buf.getBytes(from, view);
            dst.position(dst.position() + len);
        } else {
            for (int i = 0; i < len; i += 4) {
                dst.putFloat(buf.getFloatLE(from + i));
            }
        }
    }

    @Override
    public Optional<ByteBuffer> littleEndianBytes() {
        if (buf.nioBufferCount() != 1) {
            return Optional.empty();
        }
        return Optional.of(buf.nioBuffer(offset, rows * cols * 4).order(ByteOrder.LITTLE_ENDIAN));
    }

    @Override
    public long firstNonFinite() {
        return Floats.firstNonFinite(buf.nioBuffers(offset, rows * cols * 4));
    }
}
