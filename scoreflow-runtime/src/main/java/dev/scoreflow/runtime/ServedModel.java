package dev.scoreflow.runtime;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ModelSignature;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * One loaded version of a model, ready to score: the model, its settings and its batcher.
 *
 * <p>Thread-safe. {@link #score} checks the input against the model before anything is queued, so bad input is
 * refused at once with a {@link BadInputException} that names the problem.
 */
public final class ServedModel {
    private final String name;
    private final String version;
    private final Path source;
    private final ModelConfig config;
    private final Batcher batcher;

    ServedModel(String name, String version, Path source, ModelConfig config, Batcher batcher) {
        this.name = name;
        this.version = version;
        this.source = source;
        this.config = config;
        this.batcher = batcher;
    }

    public String name() {
        return name;
    }

    public String version() {
        return version;
    }

    /** The model file this was loaded from. */
    public Path source() {
        return source;
    }

    public ModelConfig config() {
        return config;
    }

    public ModelSignature signature() {
        return batcher.model().signature();
    }

    /** Rows waiting in this model's queue. */
    public long queuedRows() {
        return batcher.queuedRows();
    }

    /**
     * Validates and queues {@code rows}; see {@link Batcher#submit} for back-pressure and deadlines.
     *
     * @throws BadInputException if the feature count is wrong, or a value is NaN or infinite and the model's
     *                           settings do not allow that
     */
    public CompletableFuture<float[]> score(FloatMatrix rows, long deadlineNanos) {
        validate(rows);
        return batcher.submit(rows, deadlineNanos);
    }

    /** Checks {@code rows} against the model without scoring. */
    public void validate(FloatMatrix rows) {
        FeatureCheck.check("model '" + name + "'", signature().featureCount(), config, rows);
    }

    Batcher batcher() {
        return batcher;
    }

    @Override
    public String toString() {
        return "model " + name + " version " + version;
    }
}
