package dev.scoreflow.streaming;

/**
 * Turns events' feature vectors into scores. Called by one stream thread at a time per instance.
 */
interface EventScorer extends AutoCloseable {

    /**
     * Scores {@code n} vectors laid out one after the other in {@code rows}.
     *
     * @throws RuntimeException if the model fails (on any row): the caller finds the bad rows one by one
     */
    float[] score(float[] rows, int n);

    /** Features the model takes. */
    int featureCount();

    /** The model's name, written with every score. */
    String modelName();

    /** The model's version, written with every score. */
    String modelVersion();

    @Override
    void close();
}
