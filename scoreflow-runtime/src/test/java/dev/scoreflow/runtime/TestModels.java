package dev.scoreflow.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The models the tests use (made by {@code models/make_models.py}, committed with their expected scores), found
 * from any module's working directory. Shared with other modules through the runtime's test jar.
 */
public final class TestModels {
    private TestModels() {
    }

    /** The repository root (the directory holding {@code models/make_models.py}). */
    public static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("models/make_models.py"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    /** The bundled example: 26 features, LinearClassifier with a [N, 2] probability tensor. */
    public static Path example() {
        return root().resolve("models/example/1/model.onnx");
    }

    /** A random forest (TreeEnsembleClassifier + ZipMap), 20 features. */
    public static Path forest() {
        return testModel("forest");
    }

    /** A random forest regressor (TreeEnsembleRegressor), 10 features. */
    public static Path regressor() {
        return testModel("regressor");
    }

    /** A three-class LinearClassifier, 8 features. */
    public static Path multiclass() {
        return testModel("multiclass");
    }

    /** {@code scoreflow-runtime/src/test/resources/models/<name>/1/model.onnx}. */
    public static Path testModel(String name) {
        return root().resolve("scoreflow-runtime/src/test/resources/models").resolve(name).resolve("1/model.onnx");
    }

    /**
     * How close a score must be to ONNX Runtime's: 1e-5, relative for values above 1 (a regressor's output of 229
     * has a float32 spacing of 1.5e-5, and batch composition changes the rounding).
     */
    public static float tolerance(float expected) {
        return 1e-5f * Math.max(1f, Math.abs(expected));
    }

    /** The model's {@code sample-input.f32} as a flat array. */
    public static float[] sampleInput(Path model) {
        return floats(model.resolveSibling("sample-input.f32"));
    }

    /** ONNX Runtime's (Python) scores for the sample input. */
    public static float[] sampleScores(Path model) {
        return floats(model.resolveSibling("sample-scores.f32"));
    }

    /** Little-endian float32 values of a file. */
    public static float[] floats(Path file) {
        try {
            byte[] b = Files.readAllBytes(file);
            float[] out = new float[b.length / 4];
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Copies a model's directory (model.onnx, model.json, samples) to {@code repo/name/version/}. */
    public static Path install(Path model, Path repo, String name, String version) {
        try {
            Path dir = Files.createDirectories(repo.resolve(name).resolve(version));
            try (java.util.stream.Stream<Path> files = Files.list(model.getParent())) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.copy(f, dir.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
            return dir.resolve("model.onnx");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code n} rows: the model's sample rows repeated, with a little seeded noise so rows differ. */
    public static float[] noisyRows(Path model, int n, int features, long seed) {
        float[] sample = sampleInput(model);
        java.util.Random r = new java.util.Random(seed);
        float[] out = new float[n * features];
        for (int i = 0; i < out.length; i++) {
            out[i] = sample[i % sample.length] * (1 + 0.01f * (float) r.nextGaussian());
        }
        return out;
    }

    /** In-process ONNX Runtime scores: the reference every path must match. */
    public static float[] inProcessScores(Path model, float[] rows, int features) {
        try (OnnxModel m = OnnxModel.load(model, ModelConfig.read(model.resolveSibling(ModelConfig.FILE_NAME),
                ModelConfig.defaults()), 1)) {
            return m.score(dev.scoreflow.api.FloatMatrix.of(rows, rows.length / features, features));
        }
    }
}
