package dev.scoreflow.api;

import java.util.List;

/**
 * What a model takes and gives, as Scoreflow scores it.
 *
 * @param inputName    the model's input tensor, fed {@code [rows, featureCount]} float32
 * @param featureCount features per row
 * @param inputs       every input the model declares (Scoreflow feeds exactly one)
 * @param outputs      every output the model declares
 * @param scoreOutput  the output the score is read from
 * @param scoreColumn  the column of {@code scoreOutput} that holds the score (the positive class of a binary
 *                     classifier, 0 for a single-valued output)
 * @param description  one line for people: how the score is derived, e.g. "P(class 1) from output_probability"
 */
public record ModelSignature(String inputName, int featureCount, List<TensorSpec> inputs, List<TensorSpec> outputs,
                             String scoreOutput, int scoreColumn, String description) {
    public ModelSignature {
        if (featureCount <= 0) {
            throw new IllegalArgumentException("featureCount must be > 0, got " + featureCount);
        }
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }
}
