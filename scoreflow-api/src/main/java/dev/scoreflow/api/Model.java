package dev.scoreflow.api;

/**
 * A loaded model that turns feature vectors into one score per row.
 *
 * <p>This is the SPI a model engine implements (ONNX Runtime is the first). Implementations must be safe to call
 * from several threads at once: the batcher runs one batch per inference thread. {@link #score} never keeps a
 * reference to its input after it returns.
 */
public interface Model extends AutoCloseable {

    /** What the model takes and gives: input name, feature count, outputs and which output is the score. */
    ModelSignature signature();

    /**
     * Scores every row of {@code rows} ({@code rows.cols()} must equal {@link ModelSignature#featureCount()}).
     *
     * @return one score per row, in row order
     * @throws BadInputException if the matrix does not fit the model
     * @throws ScoreflowException if the engine fails
     */
    float[] score(FloatMatrix rows);

    /** Releases the engine's resources; later calls to {@link #score} fail. */
    @Override
    void close();
}
