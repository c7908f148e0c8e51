package dev.scoreflow.api;

import java.lang.reflect.Array;
import java.util.List;

/**
 * One output tensor of an Open Inference Protocol response.
 *
 * @param name     output name
 * @param datatype {@code FP32} (data is float[]), {@code FP64} (double[]), {@code INT64} (long[]), {@code INT32}
 *                 (int[]), {@code BOOL} (boolean[]) or {@code BYTES} (String[], UTF-8 on the wire); see
 *                 {@link Tensor}
 * @param shape    the dimensions, e.g. {@code [rows, 1]} for a score, {@code [rows, classes]} for probabilities
 * @param data     the values in row-major order
 * @param binary   true to send the values with the binary tensor extension rather than in the JSON
 */
public record InferOutput(String name, String datatype, List<Long> shape, Object data, boolean binary) {
    public InferOutput {
        shape = List.copyOf(shape);
        Tensor.check("output " + name, datatype, data);
    }

    /** The output named {@code name} holding {@code values}. */
    public static InferOutput of(String name, Tensor values, boolean binary) {
        return new InferOutput(name, values.datatype(), values.shape(), values.data(), binary);
    }

    /** Number of values. */
    public int length() {
        return Array.getLength(data);
    }

    /**
     * The values as float32 (numbers widened or rounded to the nearest float, booleans as 0 and 1), for a caller
     * that reads a score from any numeric output.
     *
     * @throws IllegalStateException for BYTES
     */
    public float[] asFloats() {
        float[] out = new float[length()];
        if (data instanceof float[] f) {
            System.arraycopy(f, 0, out, 0, f.length);
        } else if (data instanceof double[] d) {
            for (int i = 0; i < d.length; i++) {
                out[i] = (float) d[i];
            }
        } else if (data instanceof long[] l) {
            for (int i = 0; i < l.length; i++) {
                out[i] = l[i];
            }
        } else if (data instanceof int[] v) {
            for (int i = 0; i < v.length; i++) {
                out[i] = v[i];
            }
        } else if (data instanceof boolean[] b) {
            for (int i = 0; i < b.length; i++) {
                out[i] = b[i] ? 1 : 0;
            }
        } else {
            throw new IllegalStateException("output " + name + " is " + datatype + ", not numeric");
        }
        return out;
    }
}
