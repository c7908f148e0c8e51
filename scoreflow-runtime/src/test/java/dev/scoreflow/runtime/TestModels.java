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

    /** The stream scorer's bundled fraud model: a random forest (TreeEnsembleClassifier + ZipMap), 11 features. */
    public static Path fraud() {
        return root().resolve("models/fraud/1/model.onnx");
    }

    /** The fraud model's inputs, declared for the stream scorer. */
    public static Path fraudFeatures() {
        return root().resolve("models/fraud/features.txt");
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

    /**
     * Three iris classes with string labels: LinearClassifier + ZipMap, 4 features; outputs output_label (BYTES)
     * and output_probability (ZipMap); no score (no model.json).
     */
    public static Path iris() {
        return testModel("iris");
    }

    /**
     * A two-target linear regressor, 6 features: targets FP32 [N, 2], total FP32 [N, 1] (the score, per its
     * model.json), total_fp64 FP64, positive BOOL, bucket INT32, total_int64 INT64, each [N, 1].
     */
    public static Path multitarget() {
        return testModel("multitarget");
    }

    /** An embedding-like model, 16 features: embedding FP32 [N, 8]; no score. */
    public static Path embedding() {
        return testModel("embedding");
    }

    /**
     * ONNX Runtime's (Python) values of output {@code name} for the sample input, from
     * {@code sample-<name>.<f32|f64|i64|i32|bool|txt>}: float[], double[], long[], int[], boolean[] or String[]
     * (a ZipMap as float32 [rows, classes], classes in ascending label order).
     */
    public static Object sampleOutput(Path model, String name) {
        try {
            for (String ext : new String[]{"f32", "f64", "i64", "i32", "bool", "txt"}) {
                Path file = model.resolveSibling("sample-" + name + "." + ext);
                if (!Files.exists(file)) {
                    continue;
                }
                byte[] b = Files.readAllBytes(file);
                ByteBuffer le = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                switch (ext) {
                    case "f32": {
                        float[] v = new float[b.length / 4];
                        le.asFloatBuffer().get(v);
                        return v;
                    }
                    case "f64": {
                        double[] v = new double[b.length / 8];
                        le.asDoubleBuffer().get(v);
                        return v;
                    }
                    case "i64": {
                        long[] v = new long[b.length / 8];
                        le.asLongBuffer().get(v);
                        return v;
                    }
                    case "i32": {
                        int[] v = new int[b.length / 4];
                        le.asIntBuffer().get(v);
                        return v;
                    }
                    case "bool": {
                        boolean[] v = new boolean[b.length];
                        for (int i = 0; i < b.length; i++) {
                            v[i] = b[i] != 0;
                        }
                        return v;
                    }
                    default:
                        return Files.readAllLines(file, java.nio.charset.StandardCharsets.UTF_8).toArray(new String[0]);
                }
            }
            throw new IllegalArgumentException("no sample values of output " + name + " beside " + model);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Asserts that {@code got} equals {@code expected} (arrays of a datatype's Java type): floating-point values
     * within {@link #tolerance}, the others exactly.
     */
    public static void assertSameValues(String what, Object got, Object expected) {
        if (expected instanceof float[] e) {
            float[] g = (float[]) got;
            org.assertj.core.api.Assertions.assertThat(g).as(what).hasSameSizeAs(e);
            for (int i = 0; i < e.length; i++) {
                org.assertj.core.api.Assertions.assertThat(g[i]).as("%s[%d]", what, i)
                        .isCloseTo(e[i], org.assertj.core.api.Assertions.within(tolerance(e[i])));
            }
        } else if (expected instanceof double[] e) {
            double[] g = (double[]) got;
            org.assertj.core.api.Assertions.assertThat(g).as(what).hasSameSizeAs(e);
            for (int i = 0; i < e.length; i++) {
                org.assertj.core.api.Assertions.assertThat(g[i]).as("%s[%d]", what, i)
                        .isCloseTo(e[i], org.assertj.core.api.Assertions.within(1e-5 * Math.max(1, Math.abs(e[i]))));
            }
        } else {
            org.assertj.core.api.Assertions.assertThat(got).as(what).isEqualTo(expected);
        }
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
