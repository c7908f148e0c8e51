package dev.scoreflow.api;

import java.util.List;

/**
 * Name, Open-Inference-Protocol datatype ({@code FP32}, {@code INT64}, ...) and shape of a model input or output;
 * {@code -1} marks a variable dimension (usually the batch).
 *
 * @param classLabels for an output of class probabilities converted from a ZipMap (a sequence of label ->
 *                    probability maps), the class label of each column, in column order (ascending): {@code Long}
 *                    or {@code String} elements as the model's labels are int64 or strings; null for any other
 *                    tensor, or when the labels are not known before a call
 */
public record TensorSpec(String name, String datatype, List<Long> shape, List<Object> classLabels) {
    public TensorSpec {
        shape = List.copyOf(shape);
        if (classLabels != null) {
            classLabels = List.copyOf(classLabels);
            for (Object label : classLabels) {
                if (!(label instanceof Long) && !(label instanceof String)) {
                    throw new IllegalArgumentException("class labels are Long or String, got " + label);
                }
            }
        }
    }

    /** A tensor without class labels. */
    public TensorSpec(String name, String datatype, List<Long> shape) {
        this(name, datatype, shape, null);
    }
}
