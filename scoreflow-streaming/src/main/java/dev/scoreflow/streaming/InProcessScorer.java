package dev.scoreflow.streaming;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;

/** Scores with a model loaded in this JVM (ONNX Runtime): what exactly-once processing needs. */
final class InProcessScorer implements EventScorer {
    private final Model model;
    private final String name;
    private final String version;

    InProcessScorer(Model model, String name, String version) {
        this.model = model;
        this.name = name;
        this.version = version;
    }

    @Override
    public float[] score(float[] rows, int n) {
        return model.score(FloatMatrix.of(rows, n, rows.length / n));
    }

    @Override
    public int featureCount() {
        return model.signature().featureCount();
    }

    @Override
    public String modelName() {
        return name;
    }

    @Override
    public String modelVersion() {
        return version;
    }

    @Override
    public void close() {
        model.close();
    }
}
