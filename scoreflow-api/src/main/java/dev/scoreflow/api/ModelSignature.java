package dev.scoreflow.api;

import java.util.List;

/**
 * What a model takes and gives, as Scoreflow scores it.
 *
 * <p>A model may have no score: a classifier of three or more classes whose {@code model.json} names no column, an
 * embedding, a model whose outputs leave the score ambiguous. Such a model serves its own outputs
 * ({@link Model#infer}) and refuses {@link Model#score} with a {@link BadInputException} that says why.
 *
 * @param inputName    the model's input tensor, fed {@code [rows, featureCount]} float32
 * @param featureCount features per row
 * @param inputs       every input the model declares (Scoreflow feeds exactly one)
 * @param outputs      every output the model declares; those of a datatype in {@link Tensor#DATATYPES} can be
 *                     asked for by name with {@link Model#infer} (a ZipMap is listed as FP32 {@code [-1, classes]})
 * @param scoreOutput  the output the score is read from, or null if the model has no score
 * @param scoreColumn  the column of {@code scoreOutput} that holds the score (the positive class of a binary
 *                     classifier, 0 for a single-valued output); for a ZipMap output with int64 labels, the
 *                     class label, with string labels the position in ascending label order; -1 without a score
 * @param description  one line for people: how the score is derived, e.g. "P(class 1) from output_probability",
 *                     or why there is none
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

    /** Whether the model has a score ({@link #scoreOutput} is set). */
    public boolean hasScore() {
        return scoreOutput != null;
    }

    /** The output named {@code name}, or null. */
    public TensorSpec output(String name) {
        for (TensorSpec t : outputs) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }

    /** Whether {@link Model#infer} can return the output named {@code name}. */
    public boolean serves(String name) {
        TensorSpec t = output(name);
        return t != null && Tensor.DATATYPES.contains(t.datatype());
    }

    /**
     * Where the score is within a row of {@link #scoreOutput}'s tensor as {@link Model#infer} returns it: the
     * column for a tensor, the position of the class label {@link #scoreColumn} for a ZipMap.
     *
     * @throws IllegalStateException if the model has no score, or the label is not among the output's classes
     */
    public int scoreIndex() {
        if (!hasScore()) {
            throw new IllegalStateException(description);
        }
        TensorSpec t = output(scoreOutput);
        if (t == null || t.classLabels() == null) {
            return scoreColumn;
        }
        List<Object> labels = t.classLabels();
        int at = labels.indexOf((long) scoreColumn);
        if (at < 0 && !labels.isEmpty() && labels.get(0) instanceof String) {
            at = scoreColumn < labels.size() ? scoreColumn : -1; // string labels: the column is a position
        }
        if (at < 0) {
            throw new IllegalStateException("output " + scoreOutput + " has no class " + scoreColumn + " (classes "
                    + t.classLabels() + ")");
        }
        return at;
    }
}
