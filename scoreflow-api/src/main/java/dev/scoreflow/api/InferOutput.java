package dev.scoreflow.api;

import java.util.List;

/**
 * One output tensor of an Open Inference Protocol response.
 *
 * @param name     output name
 * @param datatype {@code FP32} (data is float[]) or {@code INT32} (data is int[])
 * @param shape    {@code [rows, 1]}
 * @param data     {@code float[]} or {@code int[]}, one value per row
 * @param binary   true to send the values with the binary tensor extension rather than in the JSON
 */
public record InferOutput(String name, String datatype, List<Long> shape, Object data, boolean binary) {
    public InferOutput {
        shape = List.copyOf(shape);
        if (!(data instanceof float[] && datatype.equals("FP32")) && !(data instanceof int[] && datatype.equals("INT32"))) {
            throw new IllegalArgumentException("output " + name + ": datatype " + datatype
                    + " does not match data of type " + data.getClass().getSimpleName());
        }
    }

    /** Number of values. */
    public int length() {
        return data instanceof float[] f ? f.length : ((int[]) data).length;
    }
}
