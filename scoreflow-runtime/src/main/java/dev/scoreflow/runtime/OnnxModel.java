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
import dev.scoreflow.api.Tensor;
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
 * column. {@link #score} computes only the score output, into a float[] (the fast path of the seed protocol and
 * of V2's {@code score}).
 *
 * <p>{@link #infer} returns any outputs by name as typed tensors: float, double, int64, int32, bool and string
 * tensors as FP32, FP64, INT64, INT32, BOOL and BYTES, and a ZipMap (sequence of label -> probability maps) as FP32
 * {@code [rows, classes]}, the classes in ascending label order (scikit-learn's {@code classes_} order). The labels
 * are read once at load, by running the model on a row of zeros, and published as the output's
 * {@link TensorSpec#classLabels()}. Outputs of other types are listed in the signature but not served.
 *
 * <p>A model whose score is ambiguous (three or more classes and no {@code column} in {@code model.json}, several
 * float outputs and no {@code output}, a {@code [N, k]} output such as an embedding) loads without a score: it
 * serves its outputs, and {@link #score} refuses with a message that says what to set.
 *
 * <p>Thread-safe: ONNX Runtime sessions may be run from several threads at once.
 */
public final class OnnxModel implements Model {
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final ModelSignature signature;
    private final Set<String> fetch;
    private final boolean zipMap;
    /** The ZipMap key of the score's class, if known at load; else the column, as int64 or string. */
    private final Object scoreKey;

    private OnnxModel(OrtSession session, ModelSignature signature, boolean zipMap) {
        this.session = session;
        this.signature = signature;
        this.fetch = signature.hasScore() ? Set.of(signature.scoreOutput()) : Set.of();
        this.zipMap = zipMap;
        List<Object> labels = zipMap && signature.hasScore()
                ? signature.output(signature.scoreOutput()).classLabels() : null;
        this.scoreKey = labels != null ? labels.get(signature.scoreIndex()) : null;
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
        Map<String, List<Object>> labels = zipMapLabels(session, input.getName(), features, outputs);
        String scoreOutput = null;
        int column = -1;
        boolean zipMap = false;
        String how;
        if (out == null) {
            if (config.column() != null) {
                throw new ModelLoadException(file + ": model.json sets \"column\" but Scoreflow cannot tell which"
                        + " output it is a column of; set \"output\" too. The model has " + shape);
            }
            how = "no score: cannot tell which output is the score; set \"output\" (and \"column\") in "
                    + ModelConfig.FILE_NAME + ", or ask the V2 endpoint for the model's outputs";
        } else {
            zipMap = out.getInfo() instanceof SequenceInfo;
            int classes = zipMap && labels.containsKey(out.getName()) ? labels.get(out.getName()).size()
                    : columns(out.getInfo());
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
                how = "no score: output '" + out.getName() + "' has " + (classes < 0 ? "an unknown number of"
                        : String.valueOf(classes)) + " columns; set \"column\" in " + ModelConfig.FILE_NAME
                        + " to pick the one that is the score, or ask the V2 endpoint for the model's outputs";
            }
            if (column >= 0) {
                scoreOutput = out.getName();
            }
        }
        List<TensorSpec> inSpecs = List.of(new TensorSpec(input.getName(), "FP32", List.of(-1L, (long) features)));
        List<TensorSpec> outSpecs = new ArrayList<>();
        for (NodeInfo o : outputs.values()) {
            outSpecs.add(spec(o, labels.get(o.getName())));
        }
        ModelSignature sig = new ModelSignature(input.getName(), features, inSpecs, outSpecs, scoreOutput, column,
                how);
        if (sig.hasScore() && zipMap && labels.containsKey(scoreOutput)) {
            try {
                sig.scoreIndex();
            } catch (IllegalStateException e) {
                throw new ModelLoadException(file + ": " + e.getMessage() + "; set \"column\" in "
                        + ModelConfig.FILE_NAME + " to a class label", e);
            }
        }
        return new OnnxModel(session, sig, zipMap);
    }

    /**
     * The class labels of each ZipMap output, in ascending order, read from one call on a row of zeros (a ZipMap
     * gives every row the same keys). An output whose labels cannot be read so is left out: its labels are then
     * read from each call's first row.
     */
    private static Map<String, List<Object>> zipMapLabels(OrtSession session, String input, int features,
                                                          Map<String, NodeInfo> outputs) {
        Set<String> maps = new java.util.LinkedHashSet<>();
        for (NodeInfo o : outputs.values()) {
            if (isZipMap(o.getInfo())) {
                maps.add(o.getName());
            }
        }
        Map<String, List<Object>> labels = new java.util.HashMap<>();
        if (maps.isEmpty()) {
            return labels;
        }
        ByteBuffer zeros = ByteBuffer.allocateDirect(4 * features).order(ByteOrder.nativeOrder());
        try (OnnxTensor in = OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), zeros,
                new long[]{1, features}, OnnxJavaType.FLOAT);
             OrtSession.Result result = session.run(Map.of(input, in), maps)) {
            for (String name : maps) {
                List<? extends OnnxValue> rows = ((OnnxSequence) result.get(name).orElseThrow()).getValue();
                if (rows.size() == 1) {
                    labels.put(name, sortedLabels(((OnnxMap) rows.get(0)).getValue().keySet()));
                }
            }
        } catch (OrtException | RuntimeException e) {
            // the labels are then read on each call
        }
        return labels;
    }

    private static List<Object> sortedLabels(Set<?> keys) {
        List<Object> labels = new ArrayList<>(keys);
        labels.sort((a, b) -> a instanceof Long x && b instanceof Long y ? Long.compare(x, y)
                : String.valueOf(a).compareTo(String.valueOf(b)));
        return labels;
    }

    private static boolean isZipMap(ValueInfo info) {
        return info instanceof SequenceInfo s && s.sequenceOfMaps && s.mapInfo.valueType == OnnxJavaType.FLOAT
                && (s.mapInfo.keyType == OnnxJavaType.INT64 || s.mapInfo.keyType == OnnxJavaType.STRING);
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
        // none, or several float outputs: no score unless model.json names the output
        return candidates.size() == 1 ? candidates.get(0) : null;
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

    /**
     * How an output is presented: a tensor by its datatype and shape (-1 for a variable dimension), a ZipMap as
     * FP32 {@code [-1, classes]} with its labels, anything else by its kind (not served).
     */
    private static TensorSpec spec(NodeInfo n, List<Object> labels) {
        if (n.getInfo() instanceof TensorInfo t) {
            List<Long> shape = new ArrayList<>();
            for (long d : t.getShape()) {
                shape.add(d < 0 ? -1L : d);
            }
            String datatype = datatype(t.type);
            boolean servable = SERVED.contains(t.type) && !shape.isEmpty();
            return new TensorSpec(n.getName(), servable ? datatype : unserved(datatype), shape);
        }
        if (isZipMap(n.getInfo())) {
            return new TensorSpec(n.getName(), "FP32", List.of(-1L, labels == null ? -1L : labels.size()), labels);
        }
        return new TensorSpec(n.getName(), n.getInfo() instanceof SequenceInfo ? "SEQUENCE" : "MAP", List.of(-1L));
    }

    /** The ONNX tensor types {@link #infer} serves. */
    private static final Set<OnnxJavaType> SERVED = Set.of(OnnxJavaType.FLOAT, OnnxJavaType.DOUBLE,
            OnnxJavaType.INT64, OnnxJavaType.INT32, OnnxJavaType.BOOL, OnnxJavaType.STRING);

    /** A served datatype name for a tensor that is not served (a scalar), so it is listed but never asked for. */
    private static String unserved(String datatype) {
        return Tensor.DATATYPES.contains(datatype) ? datatype + " (scalar)" : datatype;
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
        if (!signature.hasScore()) {
            throw new BadInputException(signature.description());
        }
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

    @Override
    public Map<String, Tensor> infer(FloatMatrix rows, Set<String> outputs) {
        int features = signature.featureCount();
        if (rows.cols() != features) {
            throw new BadInputException("rows have " + rows.cols() + " features, the model takes " + features);
        }
        for (String name : outputs) {
            if (!signature.serves(name)) {
                throw new BadInputException("the model has no output '" + name + "' it can serve");
            }
        }
        int n = rows.rows();
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        if (n == 0 || outputs.isEmpty()) {
            for (String name : outputs) {
                out.put(name, empty(signature.output(name)));
            }
            return out;
        }
        ByteBuffer bytes = rows.littleEndianBytes()
                .filter(b -> b.isDirect() && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN)
                .orElseGet(() -> copyToDirect(rows));
        try (OnnxTensor input = OnnxTensor.createTensor(env, bytes, new long[]{n, features}, OnnxJavaType.FLOAT);
             OrtSession.Result result = session.run(Map.of(signature.inputName(), input), outputs)) {
            for (String name : outputs) {
                OnnxValue value = result.get(name).orElseThrow();
                out.put(name, value instanceof OnnxSequence seq ? fromZipMap(name, seq, n)
                        : fromAnyTensor(name, (OnnxTensor) value, n));
            }
            return out;
        } catch (OrtException e) {
            throw new ScoreflowException("ONNX Runtime failed to compute " + outputs + " for " + n + " rows: "
                    + e.getMessage(), e);
        }
    }

    /** A tensor of no rows shaped like {@code spec} (a variable dimension after the first counts as 0). */
    private static Tensor empty(TensorSpec spec) {
        List<Long> shape = new ArrayList<>();
        for (long d : spec.shape()) {
            shape.add(shape.isEmpty() || d < 0 ? 0L : d);
        }
        Object data = switch (spec.datatype()) {
            case "FP32" -> new float[0];
            case "FP64" -> new double[0];
            case "INT64" -> new long[0];
            case "INT32" -> new int[0];
            case "BOOL" -> new boolean[0];
            default -> new String[0];
        };
        return new Tensor(spec.datatype(), shape, data);
    }

    private static Tensor fromAnyTensor(String name, OnnxTensor t, int n) throws OrtException {
        TensorInfo info = t.getInfo();
        long[] dims = info.getShape();
        if (dims.length == 0 || dims[0] != n) {
            throw new ScoreflowException("output " + name + " has shape " + Arrays.toString(dims) + " for " + n
                    + " rows; Scoreflow serves outputs with one entry per row");
        }
        int count = Math.toIntExact(info.getNumElements());
        List<Long> shape = new ArrayList<>();
        for (long d : dims) {
            shape.add(d);
        }
        return switch (info.type) {
            case FLOAT -> {
                float[] a = new float[count];
                t.getFloatBuffer().get(a);
                yield new Tensor("FP32", shape, a);
            }
            case DOUBLE -> {
                double[] a = new double[count];
                t.getDoubleBuffer().get(a);
                yield new Tensor("FP64", shape, a);
            }
            case INT64 -> {
                long[] a = new long[count];
                t.getLongBuffer().get(a);
                yield new Tensor("INT64", shape, a);
            }
            case INT32 -> {
                int[] a = new int[count];
                t.getIntBuffer().get(a);
                yield new Tensor("INT32", shape, a);
            }
            case BOOL -> {
                ByteBuffer b = t.getByteBuffer();
                boolean[] a = new boolean[count];
                for (int i = 0; i < count; i++) {
                    a[i] = b.get(i) != 0;
                }
                yield new Tensor("BOOL", shape, a);
            }
            case STRING -> {
                String[] a = new String[count];
                flatten(t.getValue(), a, new int[1]);
                yield new Tensor("BYTES", shape, a);
            }
            default -> throw new ScoreflowException("output " + name + " is a " + info.type + " tensor, which"
                    + " Scoreflow does not serve");
        };
    }

    /** The strings of ONNX Runtime's nested String arrays, row-major. */
    private static void flatten(Object value, String[] out, int[] at) {
        if (value instanceof String s) {
            out[at[0]++] = s;
        } else {
            for (int i = 0, n = java.lang.reflect.Array.getLength(value); i < n; i++) {
                flatten(java.lang.reflect.Array.get(value, i), out, at);
            }
        }
    }

    /** A ZipMap's probabilities as FP32 {@code [rows, classes]}, the classes in the signature's label order. */
    private Tensor fromZipMap(String name, OnnxSequence seq, int n) throws OrtException {
        List<? extends OnnxValue> maps = seq.getValue();
        if (maps.size() != n) {
            throw new ScoreflowException("output " + name + " has " + maps.size() + " maps for " + n + " rows");
        }
        List<Object> labels = signature.output(name).classLabels();
        float[] out = null;
        for (int i = 0; i < n; i++) {
            Map<?, ?> m = ((OnnxMap) maps.get(i)).getValue();
            if (labels == null) {
                labels = sortedLabels(m.keySet());
            }
            if (out == null) {
                out = new float[Math.multiplyExact(n, labels.size())];
            }
            if (m.size() != labels.size()) {
                throw new ScoreflowException("output " + name + " row " + i + " has classes " + m.keySet()
                        + ", expected " + labels);
            }
            for (int c = 0; c < labels.size(); c++) {
                Object v = m.get(labels.get(c));
                if (v == null) {
                    throw new ScoreflowException("output " + name + " row " + i + " has no class " + labels.get(c)
                            + " (classes " + m.keySet() + ")");
                }
                out[i * labels.size() + c] = ((Number) v).floatValue();
            }
        }
        return new Tensor("FP32", List.of((long) n, (long) labels.size()), out);
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
            Object v = m.get(scoreKey != null ? scoreKey : column);
            if (v == null && scoreKey == null) {
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

    /** ONNX Runtime as a {@link ModelLoader}: the built-in engine. */
    static final class Loader implements ModelLoader {
        @Override
        public String platform() {
            return "onnxruntime_onnx";
        }

        @Override
        public String fileName() {
            return ModelRepository.MODEL_FILE;
        }

        @Override
        public Model load(Path file, ModelConfig config, int intraOpThreads) {
            return OnnxModel.load(file, config, intraOpThreads);
        }
    }
}
