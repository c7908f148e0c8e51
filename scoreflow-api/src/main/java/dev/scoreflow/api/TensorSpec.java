package dev.scoreflow.api;

import java.util.List;

/**
 * Name, Open-Inference-Protocol datatype ({@code FP32}, {@code INT64}, ...) and shape of a model input or output;
 * {@code -1} marks a variable dimension (usually the batch).
 */
public record TensorSpec(String name, String datatype, List<Long> shape) {
    public TensorSpec {
        shape = List.copyOf(shape);
    }
}
