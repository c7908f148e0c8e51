package dev.scoreflow.spark;


import dev.scoreflow.client.BatchScorer;
import dev.scoreflow.runtime.FeatureCheck;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.api.Model;
import dev.scoreflow.runtime.ModelLoaders;
import org.apache.spark.SparkFiles;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The in-process models of one JVM (a Spark executor, or the driver in local mode): each model file is loaded once
 * (through {@link ModelLoaders}, as the server's repository does) and shared by every task, because an ONNX Runtime session is safe to run from several threads and loading one per
 * partition would cost more than scoring it. Sessions use one intra-op thread: Spark already runs a task per core.
 */
final class ExecutorModels {
    /** A session and the settings it was loaded with (model.json: output, threshold, allowNonFinite...). */
    private record Loaded(Model model, ModelConfig config) {
    }

    private static final ConcurrentHashMap<String, Loaded> MODELS = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> MODELS.values().forEach(l -> l.model().close()),
                "scoreflow-models-close"));
    }

    private ExecutorModels() {
    }

    /** A scorer over the JVM's session for {@code modelPath}; scoring runs on the calling (task) thread. */
    static BatchScorer scorer(String modelPath) {
        Loaded loaded = MODELS.computeIfAbsent(modelPath, ExecutorModels::load);
        Model model = loaded.model();
        String name = "model " + Path.of(modelPath).getFileName();
        return rows -> {
            try {
                // the same checks as the server's, so both modes refuse the same rows the same way
                FeatureCheck.check(name, model.signature().featureCount(), loaded.config(), rows);
                return CompletableFuture.completedFuture(model.score(rows));
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        };
    }

    /** Model loads in this JVM so far (a test hook: once per model file per executor). */
    static int loads() {
        return LOADS.get();
    }

    private static Loaded load(String modelPath) {
        Path file = Path.of(modelPath);
        if (!Files.exists(file)) {
            // shipped with spark-submit --files: executors find it in their SparkFiles directory
            Path shipped = Path.of(SparkFiles.get(file.getFileName().toString()));
            if (!Files.exists(shipped)) {
                throw new IllegalArgumentException("model file " + modelPath + " is not on this executor, nor in "
                        + "its SparkFiles (" + shipped + "); put it on storage every node sees or ship it with "
                        + "--files");
            }
            file = shipped;
        }
        LOADS.incrementAndGet();
        ModelConfig config = ModelConfig.read(file.resolveSibling(ModelConfig.FILE_NAME), ModelConfig.defaults());
        return new Loaded(ModelLoaders.load(file, config, 1), config);
    }

}
