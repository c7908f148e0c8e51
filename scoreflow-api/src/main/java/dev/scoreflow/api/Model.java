package dev.scoreflow.api;

import java.util.Map;
import java.util.Set;

/**
 * A loaded model that turns feature vectors into one score per row, and, if it can, into any of its own outputs.
 *
 * <p>This is the SPI a model engine implements (ONNX Runtime is the first). Implementations must be safe to call
 * from several threads at once: the batcher runs one batch per inference thread. {@link #score} and
 * {@link #infer} never keep a reference to their input after they return.
 */
public interface Model extends AutoCloseable {

    /** What the model takes and gives: input name, feature count, outputs and which output is the score. */
    ModelSignature signature();

    /**
     * Scores every row of {@code rows} ({@code rows.cols()} must equal {@link ModelSignature#featureCount()}).
     *
     * @return one score per row, in row order
     * @throws BadInputException if the matrix does not fit the model, or the model has no score
     * @throws ScoreflowException if the engine fails
     */
    float[] score(FloatMatrix rows);

    /**
     * Runs the model over every row of {@code rows} and returns the named outputs, each a {@link Tensor} whose first
     * dimension is the rows. The default serves no output: only engines that can override it.
     *
     * @param outputs names of outputs the signature {@link ModelSignature#serves serves}
     * @throws BadInputException if the matrix does not fit the model or an output is not served
     * @throws ScoreflowException if the engine fails
     */
    default Map<String, Tensor> infer(FloatMatrix rows, Set<String> outputs) {
        throw new BadInputException("this model serves its score only, not its outputs " + outputs);
    }

    /** Releases the engine's resources; later calls to {@link #score} fail. */
    @Override
    void close();
}
