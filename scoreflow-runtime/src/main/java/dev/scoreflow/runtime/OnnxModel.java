package dev.scoreflow.runtime;

import ai.onnxruntime.MapInfo;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxMap;
import ai.onnxruntime.OnnxSequence;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.SequenceInfo;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.ValueInfo;
import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.ModelLoadException;
import dev.scoreflow.api.ModelSignature;
import dev.scoreflow.api.ScoreflowException;
import dev.scoreflow.api.TensorSpec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@link Model} run by ONNX Runtime (CPU), including the {@code ai.onnx.ml} operators that scikit-learn,
 * XGBoost and LightGBM exports use.
 *
 * <p>The signature is read from the model: its one float input {@code [N, features]}, and the output the score
 * comes from — the positive-class probability of a binary classifier (a {@code [N, 2]} tensor or a ZipMap
 * sequence of maps), or the only float output of a regressor. {@code model.json} can name another output and
 * column. Only the score output is computed on each call.
 *
 * <p>Thread-safe: ONNX Runtime sessions may be run from several threads at once.
 */
public final class OnnxModel implements Model {
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final ModelSignature signature;
    private final Set<String> fetch;
    private final boolean zipMap;

    private OnnxModel(OrtSession session, ModelSignature signature, boolean zipMap) {
        this.session = session;
        this.signature = signature;
        this.fetch = Set.of(signature.scoreOutput());
        this.zipMap = zipMap;
    }

    /**
     * Loads {@code file}.
     *
     * @throws ModelLoadException if the file cannot be read, is not a valid ONNX model, or has no output Scoreflow
     *                            can take a score from (the message lists the model's inputs and outputs)
     */
    public static OnnxModel load(Path file, ModelConfig config, int intraOpThreads) {
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException("model file " + file + " does not exist or is not a file");
        }
        CommandLineGuard.check();
        OrtSession session;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(intraOpThreads);
            options.setInterOpNumThreads(1);
            options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            session = OrtEnvironment.getEnvironment().createSession(file.toString(), options);
        } catch (OrtException e) {
            throw new ModelLoadException("cannot load " + file + " with ONNX Runtime: " + firstLine(e.getMessage()), e);
        }
        try {
            return inspect(session, config, file);
        } catch (OrtException | RuntimeException e) {
            closeQuietly(session);
            if (e instanceof ModelLoadException m) {
                throw m;
            }
            throw new ModelLoadException("cannot read the signature of " + file + ": " + e.getMessage(), e);
        }
    }

    private static OnnxModel inspect(OrtSession session, ModelConfig config, Path file) throws OrtException {
        Map<String, NodeInfo> inputs = session.getInputInfo();
        Map<String, NodeInfo> outputs = session.getOutputInfo();
        String shape = "inputs " + describe(inputs) + ", outputs " + describe(outputs);
        if (inputs.size() != 1) {
            throw new ModelLoadException(file + " has " + inputs.size() + " inputs; Scoreflow feeds one float"
                    + " input [N, features] (export the model with a single input). The model has " + shape);
        }
        NodeInfo input = inputs.values().iterator().next();
        if (!(input.getInfo() instanceof TensorInfo ti) || ti.type != OnnxJavaType.FLOAT) {
            throw new ModelLoadException(file + ": input '" + input.getName() + "' is not a float32 tensor; "
                    + "the model has " + shape);
        }
        long[] inShape = ti.getShape();
        if (inShape.length != 2 || inShape[1] <= 0) {
            throw new ModelLoadException(file + ": input '" + input.getName() + "' has shape "
                    + Arrays.toString(inShape) + "; Scoreflow needs [N, features] with a fixed feature count");
        }
        int features = Math.toIntExact(inShape[1]);

        NodeInfo out = chooseOutput(outputs, config, file, shape);
        int classes = columns(out.getInfo());
        boolean zipMap = out.getInfo() instanceof SequenceInfo;
        int column;
        String how;
        if (config.column() != null) {
            column = config.column();
            if (classes > 0 && column >= classes) {
                throw new ModelLoadException(file + ": model.json column " + column + " but output '"
                        + out.getName() + "' has " + classes + " columns");
            }
            how = "column " + column + " of " + out.getName();
        } else if (classes == 2) {
            column = 1;
            how = "P(class 1) from " + out.getName();
        } else if (classes == 1) {
            column = 0;
            how = "the value of " + out.getName();
        } else {
            throw new ModelLoadException(file + ": output '" + out.getName() + "' has "
                    + (classes < 0 ? "an unknown number of" : String.valueOf(classes)) + " columns; set \"column\""
                    + " in " + ModelConfig.FILE_NAME + " to pick the one that is the score");
        }
        List<TensorSpec> inSpecs = List.of(new TensorSpec(input.getName(), "FP32", List.of(-1L, (long) features)));
        List<TensorSpec> outSpecs = new ArrayList<>();
        for (NodeInfo o : outputs.values()) {
            outSpecs.add(spec(o));
        }
        ModelSignature sig = new ModelSignature(input.getName(), features, inSpecs, outSpecs, out.getName(), column,
                how);
        return new OnnxModel(session, sig, zipMap);
    }

    private static NodeInfo chooseOutput(Map<String, NodeInfo> outputs, ModelConfig config, Path file, String shape) {
        if (config.output() != null) {
            NodeInfo o = outputs.get(config.output());
            if (o == null) {
                throw new ModelLoadException(file + ": model.json names output '" + config.output()
                        + "', but the model has " + shape);
            }
            if (!scorable(o.getInfo())) {
                throw new ModelLoadException(file + ": output '" + config.output() + "' is not a float tensor or a"
                        + " sequence of class->probability maps");
            }
            return o;
        }
        List<NodeInfo> candidates = new ArrayList<>();
        for (NodeInfo o : outputs.values()) {
            if (scorable(o.getInfo())) {
                candidates.add(o);
            }
        }
        // a classifier exported by skl2onnx/onnxmltools has a label output (int64) and a probability output
        for (NodeInfo o : candidates) {
            if (o.getInfo() instanceof SequenceInfo || o.getName().toLowerCase().contains("prob")) {
                return o;
            }
        }
        if (candidates.size() == 1) {
            return candidates.get(0);
        }
        throw new ModelLoadException(file + ": cannot tell which output is the score (" + candidates.size()
                + " float outputs); set \"output\" in " + ModelConfig.FILE_NAME + ". The model has " + shape);
    }

    private static boolean scorable(ValueInfo info) {
        if (info instanceof TensorInfo t) {
            return t.type == OnnxJavaType.FLOAT && t.getShape().length >= 1 && t.getShape().length <= 2;
        }
        if (info instanceof SequenceInfo s && s.sequenceOfMaps) {
            MapInfo m = s.mapInfo;
            return m.valueType == OnnxJavaType.FLOAT;
        }
        return false;
    }

    /** Columns per row of a scorable output: 1 for [N], the last dimension for [N, k], -1 if unknown. */
    private static int columns(ValueInfo info) {
        if (info instanceof TensorInfo t) {
            long[] s = t.getShape();
            return s.length == 1 ? 1 : (int) s[1];
        }
        return ((SequenceInfo) info).mapInfo.size > 0 ? ((SequenceInfo) info).mapInfo.size : 2;
    }

    private static TensorSpec spec(NodeInfo n) {
        if (n.getInfo() instanceof TensorInfo t) {
            List<Long> shape = new ArrayList<>();
            for (long d : t.getShape()) {
                shape.add(d < 0 ? -1L : d);
            }
            return new TensorSpec(n.getName(), datatype(t.type), shape);
        }
        return new TensorSpec(n.getName(), "SEQUENCE", List.of(-1L));
    }

    private static String datatype(OnnxJavaType t) {
        return switch (t) {
            case FLOAT -> "FP32";
            case DOUBLE -> "FP64";
            case INT8 -> "INT8";
            case INT16 -> "INT16";
            case INT32 -> "INT32";
            case INT64 -> "INT64";
            case UINT8 -> "UINT8";
            case BOOL -> "BOOL";
            case STRING -> "BYTES";
            case FLOAT16 -> "FP16";
            case BFLOAT16 -> "BF16";
            default -> t.name();
        };
    }

    private static String describe(Map<String, NodeInfo> nodes) {
        List<String> parts = new ArrayList<>();
        for (NodeInfo n : nodes.values()) {
            parts.add(n.getName() + " " + n.getInfo());
        }
        return parts.toString();
    }

    @Override
    public ModelSignature signature() {
        return signature;
    }

    @Override
    public float[] score(FloatMatrix rows) {
        int features = signature.featureCount();
        if (rows.cols() != features) {
            throw new BadInputException("rows have " + rows.cols() + " features, the model takes " + features);
        }
        int n = rows.rows();
        if (n == 0) {
            return new float[0];
        }
        ByteBuffer bytes = rows.littleEndianBytes()
                .filter(b -> b.isDirect() && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN)
                .orElseGet(() -> copyToDirect(rows));
        long[] shape = {n, features};
        try (OnnxTensor input = OnnxTensor.createTensor(env, bytes, shape, OnnxJavaType.FLOAT);
             OrtSession.Result result = session.run(Map.of(signature.inputName(), input), fetch)) {
            OnnxValue value = result.get(0);
            return zipMap ? fromMaps((OnnxSequence) value, n) : fromTensor((OnnxTensor) value, n);
        } catch (OrtException e) {
            throw new ScoreflowException("ONNX Runtime failed to score " + n + " rows: " + e.getMessage(), e);
        }
    }

    private float[] fromTensor(OnnxTensor t, int n) {
        FloatBuffer fb = t.getFloatBuffer();
        int width = fb.remaining() / n;
        int column = signature.scoreColumn();
        float[] out = new float[n];
        if (width == 1) {
            fb.get(out);
        } else {
            for (int i = 0; i < n; i++) {
                out[i] = fb.get(i * width + column);
            }
        }
        return out;
    }

    private float[] fromMaps(OnnxSequence seq, int n) throws OrtException {
        List<? extends OnnxValue> maps = seq.getValue();
        float[] out = new float[n];
        long column = signature.scoreColumn();
        for (int i = 0; i < n; i++) {
            Map<?, ?> m = ((OnnxMap) maps.get(i)).getValue();
            Object v = m.get(column);
            if (v == null) {
                v = m.get(String.valueOf(column));
            }
            if (v == null) {
                throw new ScoreflowException("output " + signature.scoreOutput() + " has no class " + column
                        + " (keys " + m.keySet() + ")");
            }
            out[i] = ((Number) v).floatValue();
        }
        return out;
    }

    private static ByteBuffer copyToDirect(FloatMatrix rows) {
        ByteBuffer b = ByteBuffer.allocateDirect(Math.multiplyExact(4 * rows.rows(), rows.cols()))
                .order(ByteOrder.nativeOrder());
        if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            rows.copyRowsTo(0, rows.rows(), b);
        } else {
            for (int r = 0; r < rows.rows(); r++) {
                for (int c = 0; c < rows.cols(); c++) {
                    b.putFloat(rows.get(r, c));
                }
            }
        }
        return b.flip();
    }

    @Override
    public void close() {
        closeQuietly(session);
    }

    private static void closeQuietly(OrtSession s) {
        try {
            s.close();
        } catch (OrtException | RuntimeException ignored) {
            // closing a session only frees native memory; nothing useful to do if it fails
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unknown error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
