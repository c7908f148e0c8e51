package dev.scoreflow.api;

import java.util.List;

/**
 * One input tensor of an Open Inference Protocol request, already decoded to float32 rows.
 *
 * @param name     the tensor name the client sent
 * @param datatype the datatype the client declared (JSON data of any numeric type is read as float32)
 * @param shape    the declared shape; {@code [rows, features]}, or {@code [features]} for a single row
 * @param data     the values as a matrix of {@code rows x features}
 */
public record InferInput(String name, String datatype, List<Long> shape, FloatMatrix data) {
    public InferInput {
        shape = List.copyOf(shape);
    }
}
