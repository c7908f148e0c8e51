package dev.scoreflow.streaming;

/**
 * Turns one event's feature vector into a score. Called by one stream thread at a time per instance.
 */
interface EventScorer extends AutoCloseable {

    /** @throws RuntimeException if the model fails: the event goes to the dead letters */
    float score(float[] vector);

    /** Features the model takes. */
    int featureCount();

    /** The model's name, written with every score. */
    String modelName();

    /** The model's version, written with every score. */
    String modelVersion();

    @Override
    void close();
}
