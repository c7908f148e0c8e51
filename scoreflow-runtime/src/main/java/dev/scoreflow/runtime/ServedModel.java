package dev.scoreflow.runtime;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ModelSignature;
import dev.scoreflow.api.Tensor;
import dev.scoreflow.api.TensorSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
    private final String platform;
    private final ModelConfig config;
    private final Batcher batcher;

    ServedModel(String name, String version, Path source, String platform, ModelConfig config, Batcher batcher) {
        this.name = name;
        this.version = version;
        this.source = source;
        this.platform = platform;
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

    /** The engine that loaded it, as the V2 model metadata names it ({@link ModelLoader#platform()}). */
    public String platform() {
        return platform;
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
        return score(rows, deadlineNanos, false);
    }

    /**
     * {@link #score(FloatMatrix, long)}; with {@code callerMayRun}, a quick batch of a fast model may run on the
     * calling thread instead of an inference thread (see {@link Batcher#submit(FloatMatrix, long, boolean)}): for
     * a server's event loops.
     */
    public CompletableFuture<float[]> score(FloatMatrix rows, long deadlineNanos, boolean callerMayRun) {
        if (!signature().hasScore()) {
            throw new BadInputException("model '" + name + "' has no score (" + signature().description() + ")");
        }
        validate(rows);
        return batcher.submit(rows, deadlineNanos, callerMayRun);
    }

    /**
     * Validates and queues {@code rows} for the model's own {@code outputs} (names from {@link #servedOutputs}),
     * each returned as a tensor over all the rows; batched dynamically with other requests, with the same
     * back-pressure and deadlines as {@link #score}.
     *
     * @throws BadInputException if an output is not served (the message lists those that are), or as
     *                           {@link #score}
     */
    public CompletableFuture<Map<String, Tensor>> infer(FloatMatrix rows, Set<String> outputs, long deadlineNanos) {
        for (String o : outputs) {
            if (!signature().serves(o)) {
                throw new BadInputException("model '" + name + "' has no output '" + o + "'; outputs: "
                        + servedOutputs());
            }
        }
        if (outputs.isEmpty()) {
            throw new BadInputException("no outputs asked of model '" + name + "'; outputs: " + servedOutputs());
        }
        validate(rows);
        return batcher.submit(rows, outputs, deadlineNanos);
    }

    /** The model's outputs that {@link #infer} serves, in the model's order. */
    public List<String> servedOutputs() {
        List<String> names = new ArrayList<>();
        for (TensorSpec t : signature().outputs()) {
            if (signature().serves(t.name())) {
                names.add(t.name());
            }
        }
        return names;
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
