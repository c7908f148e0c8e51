package dev.scoreflow.api;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The values of one model output for some rows: an Open Inference Protocol datatype, a shape whose first dimension
 * is the rows, and the values in row-major order.
 *
 * <p>The data's Java type follows the datatype: {@code FP32} float[], {@code FP64} double[], {@code INT64} long[],
 * {@code INT32} int[], {@code BOOL} boolean[], {@code BYTES} String[] (UTF-8 on the wire; class labels as ONNX
 * Runtime gives them). The arrays are not copied: a tensor is immutable by convention, and nobody writes to an
 * array after handing it over.
 *
 * @param datatype one of {@link #DATATYPES}
 * @param shape    the dimensions, the first being the rows ({@code [rows]}, {@code [rows, k]}, ...)
 * @param data     the values, as many as the shape's product
 */
public record Tensor(String datatype, List<Long> shape, Object data) {
    /** The datatypes a tensor can hold, with their Java array types above. */
    public static final Set<String> DATATYPES = Set.of("FP32", "FP64", "INT64", "INT32", "BOOL", "BYTES");

    public Tensor {
        shape = List.copyOf(shape);
        check("tensor", datatype, data);
        if (shape.isEmpty()) {
            throw new IllegalArgumentException("a tensor's shape starts with its rows; got []");
        }
        long count = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("dimensions must be >= 0, got shape " + shape);
            }
            count *= d;
        }
        if (count != Array.getLength(data)) {
            throw new IllegalArgumentException("shape " + shape + " needs " + count + " values, data has "
                    + Array.getLength(data));
        }
    }

    /** Refuses data whose Java type does not match {@code datatype} (see the class comment). */
    static void check(String what, String datatype, Object data) {
        boolean ok = switch (datatype) {
            case "FP32" -> data instanceof float[];
            case "FP64" -> data instanceof double[];
            case "INT64" -> data instanceof long[];
            case "INT32" -> data instanceof int[];
            case "BOOL" -> data instanceof boolean[];
            case "BYTES" -> data instanceof String[];
            default -> false;
        };
        if (!ok) {
            throw new IllegalArgumentException(what + ": datatype " + datatype + " does not match data of type "
                    + (data == null ? "null" : data.getClass().getSimpleName()) + "; datatypes and data: FP32"
                    + " float[], FP64 double[], INT64 long[], INT32 int[], BOOL boolean[], BYTES String[]");
        }
    }

    /** Number of values. */
    public int length() {
        return Array.getLength(data);
    }

    /** Number of rows (the first dimension). */
    public int rows() {
        return Math.toIntExact(shape.get(0));
    }

    /** Values per row: the product of the dimensions after the first. */
    public int rowWidth() {
        long w = 1;
        for (int i = 1; i < shape.size(); i++) {
            w *= shape.get(i);
        }
        return Math.toIntExact(w);
    }

    /** Rows {@code [from, from + count)} as a new tensor (copied). */
    public Tensor rows(int from, int count) {
        if (from < 0 || count < 0 || from + count > rows()) {
            throw new IndexOutOfBoundsException("rows [" + from + ", " + (from + count) + ") of " + rows());
        }
        int width = rowWidth();
        Object out = Array.newInstance(data.getClass().getComponentType(), count * width);
        System.arraycopy(data, from * width, out, 0, count * width);
        List<Long> s = new ArrayList<>(shape);
        s.set(0, (long) count);
        return new Tensor(datatype, s, out);
    }

    /**
     * One value of every row as float32 ({@code column} indexes the values of a row): how a score is read from a
     * {@code [rows]} or {@code [rows, k]} FP32 output.
     */
    public float[] column(int column) {
        if (!(data instanceof float[] f)) {
            throw new IllegalStateException("a " + datatype + " tensor has no float32 column");
        }
        int width = rowWidth();
        if (column < 0 || column >= width) {
            throw new IndexOutOfBoundsException("column " + column + " of rows of " + width);
        }
        float[] out = new float[rows()];
        for (int r = 0; r < out.length; r++) {
            out[r] = f[r * width + column];
        }
        return out;
    }

    /** Tensors of the same datatype and row shape, their rows one after the other. */
    public static Tensor concat(List<Tensor> parts) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("nothing to concatenate");
        }
        if (parts.size() == 1) {
            return parts.get(0);
        }
        Tensor first = parts.get(0);
        long rows = 0;
        int length = 0;
        for (Tensor t : parts) {
            if (!t.datatype.equals(first.datatype) || !t.shape.subList(1, t.shape.size())
                    .equals(first.shape.subList(1, first.shape.size()))) {
                throw new IllegalArgumentException("cannot concatenate " + t.datatype + " " + t.shape + " to "
                        + first.datatype + " " + first.shape);
            }
            rows += t.shape.get(0);
            length += t.length();
        }
        Object out = Array.newInstance(first.data.getClass().getComponentType(), length);
        int at = 0;
        for (Tensor t : parts) {
            System.arraycopy(t.data, 0, out, at, t.length());
            at += t.length();
        }
        List<Long> s = new ArrayList<>(first.shape);
        s.set(0, rows);
        return new Tensor(first.datatype, s, out);
    }
}
