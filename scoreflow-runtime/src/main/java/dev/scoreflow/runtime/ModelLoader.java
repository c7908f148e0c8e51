package dev.scoreflow.runtime;

import dev.scoreflow.api.Model;

import java.nio.file.Path;

/**
 * The model-engine SPI: how a model file becomes a {@link Model}. The repository, the V2 metadata and the Spark
 * executors' models all load through {@link ModelLoaders}, which finds the loader for a file. ONNX Runtime is the
 * built-in one; another engine registers a loader in {@code META-INF/services/dev.scoreflow.runtime.ModelLoader}.
 */
public interface ModelLoader {

    /** The engine and format as the Open Inference Protocol's model metadata names it, e.g. {@code onnxruntime_onnx}. */
    String platform();

    /** The file a repository's {@code <name>/<version>/} directory holds for this engine, e.g. {@code model.onnx}. */
    String fileName();

    /** Whether this loader reads {@code file}: by default, files whose extension is {@link #fileName()}'s. */
    default boolean accepts(Path file) {
        String own = fileName();
        String name = file.getFileName().toString();
        return name.endsWith(own.substring(own.lastIndexOf('.')));
    }

    /**
     * Loads {@code file} with {@code config}'s settings and {@code intraOpThreads} threads per call.
     *
     * @throws dev.scoreflow.api.ModelLoadException if the file cannot be loaded; the message names the file and why
     */
    Model load(Path file, ModelConfig config, int intraOpThreads);
}
