package dev.scoreflow.api;

import dev.scoreflow.api.internal.Json;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Codec for Open Inference Protocol (KServe V2) REST inference messages, with Triton's binary tensor data
 * extension ({@code binary_data_size}, {@code binary_data}, {@code binary_data_output},
 * {@code Inference-Header-Content-Length}).
 *
 * <p>Scoreflow's models take one float32 matrix, so inputs decode to {@link FloatMatrix}: binary inputs must be
 * {@code FP32}; JSON inputs of any numeric datatype are read as float32. Every malformed message raises a
 * {@link BadInputException} that names the tensor and the problem. Stateless and thread-safe.
 */
public final class V2Codec {
    /** The header that carries the JSON length when binary tensors follow it. */
    public static final String HEADER_LENGTH = "Inference-Header-Content-Length";

    private static final Set<String> NUMERIC = Set.of("FP32", "FP64", "FP16", "INT8", "INT16", "INT32", "INT64",
            "UINT8", "UINT16", "UINT32", "UINT64");

    private V2Codec() {
    }

    // ------------------------------------------------------------------ requests

    /**
     * Decodes a request body.
     *
     * @param body         the whole body (its remaining bytes)
     * @param headerLength the {@code Inference-Header-Content-Length} value, or -1 if the header was absent
     */
    public static InferenceRequest decodeRequest(ByteBuffer body, long headerLength) {
        if (!body.hasRemaining()) {
            throw new BadInputException("empty body: expected an inference request in JSON");
        }
        if (headerLength == 0) {
            throw new BadInputException("raw binary requests (" + HEADER_LENGTH + ": 0) are not supported;"
                    + " send a JSON header, or PUT headerless float32 rows to /models/{name}/score");
        }
        if (headerLength > body.remaining()) {
            throw new BadInputException(HEADER_LENGTH + " is " + headerLength + " but the body has only "
                    + body.remaining() + " bytes");
        }
        int jsonLength = headerLength < 0 ? body.remaining() : (int) headerLength;
        ByteBuffer json = body.duplicate().limit(body.position() + jsonLength);
        ByteBuffer binary = body.duplicate().position(body.position() + jsonLength).slice();
        Map<String, Object> root = Json.parseObject(json, "the inference request");

        String id = optString(root, "id", "request");
        Map<String, Object> parameters = optObject(root, "parameters", "request");
        List<Object> rawInputs = requireList(root, "inputs", "request");
        if (rawInputs.isEmpty()) {
            throw new BadInputException("request: 'inputs' is empty");
        }
        List<InferInput> inputs = new ArrayList<>();
        long binaryUsed = 0;
        for (int i = 0; i < rawInputs.size(); i++) {
            Map<String, Object> in = asObject(rawInputs.get(i), "inputs[" + i + "]");
            String name = requireString(in, "name", "inputs[" + i + "]");
            String where = "input '" + name + "'";
            String datatype = requireString(in, "datatype", where);
            List<Long> shape = shape(in.get("shape"), where);
            long count = product(shape, where);
            int[] dims = matrixDims(shape, where);
            Map<String, Object> params = optObject(in, "parameters", where);
            Object binarySize = params.get("binary_data_size");
            FloatMatrix data;
            if (binarySize != null) {
                if (headerLength < 0) {
                    throw new BadInputException(where + " has binary_data_size but the request has no "
                            + HEADER_LENGTH + " header");
                }
                if (in.containsKey("data")) {
                    throw new BadInputException(where + " has both binary_data_size and data");
                }
                long size = nonNegativeLong(binarySize, where + " binary_data_size");
                if (!datatype.equals("FP32")) {
                    throw new BadInputException(where + ": binary data must be FP32, got " + datatype);
                }
                if (size != 4 * count) {
                    throw new BadInputException(where + ": shape " + shape + " needs " + 4 * count
                            + " bytes of FP32, binary_data_size is " + size);
                }
                if (binaryUsed + size > binary.remaining()) {
                    throw new BadInputException(where + ": binary data ends at byte " + (binaryUsed + size)
                            + " after the JSON, but only " + binary.remaining() + " bytes follow it");
                }
                ByteBuffer slice = binary.duplicate().position((int) binaryUsed).limit((int) (binaryUsed + size));
                data = FloatMatrix.wrap(slice.slice(), dims[0], dims[1]);
                binaryUsed += size;
            } else {
                if (!NUMERIC.contains(datatype)) {
                    throw new BadInputException(where + ": datatype " + datatype + " is not numeric; expected FP32");
                }
                Object raw = in.get("data");
                if (raw == null) {
                    throw new BadInputException(where + " has neither data nor binary_data_size");
                }
                float[] values = flatten(raw, count, where);
                data = FloatMatrix.of(values, dims[0], dims[1]);
            }
            inputs.add(new InferInput(name, datatype, shape, data));
        }
        if (binaryUsed != binary.remaining()) {
            throw new BadInputException("the inputs declare " + binaryUsed + " bytes of binary data but "
                    + binary.remaining() + " bytes follow the JSON header");
        }
        List<RequestedOutput> outputs = new ArrayList<>();
        Object rawOutputs = root.get("outputs");
        if (rawOutputs != null) {
            List<Object> list = asList(rawOutputs, "request 'outputs'");
            for (int i = 0; i < list.size(); i++) {
                Map<String, Object> o = asObject(list.get(i), "outputs[" + i + "]");
                String name = requireString(o, "name", "outputs[" + i + "]");
                Object b = optObject(o, "parameters", "output '" + name + "'").get("binary_data");
                if (b != null && !(b instanceof Boolean)) {
                    throw new BadInputException("output '" + name + "': binary_data must be a boolean");
                }
                outputs.add(new RequestedOutput(name, (Boolean) b));
            }
        }
        return new InferenceRequest(id, parameters, inputs, outputs);
    }

    /**
     * Encodes a request; inputs go as binary FP32 when {@code binaryInputs}, and all outputs are asked for as
     * binary when {@code binaryOutputs}.
     */
    public static V2Message encodeRequest(String id, List<InferInput> inputs, List<String> outputs,
                                          boolean binaryInputs, boolean binaryOutputs) {
        Map<String, Object> root = new LinkedHashMap<>();
        if (id != null) {
            root.put("id", id);
        }
        if (binaryOutputs) {
            root.put("parameters", Map.of("binary_data_output", true));
        }
        List<Object> ins = new ArrayList<>();
        List<ByteBuffer> binary = new ArrayList<>();
        for (InferInput in : inputs) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("name", in.name());
            t.put("shape", in.shape());
            t.put("datatype", "FP32");
            if (binaryInputs) {
                t.put("parameters", Map.of("binary_data_size", 4L * in.data().rows() * in.data().cols()));
                binary.add(SeedBinaryCodec.encode(in.data()));
            } else {
                t.put("data", in.data().toArray());
            }
            ins.add(t);
        }
        root.put("inputs", ins);
        if (!outputs.isEmpty()) {
            List<Object> outs = new ArrayList<>();
            for (String o : outputs) {
                outs.add(Map.of("name", o));
            }
            root.put("outputs", outs);
        }
        return new V2Message(Json.write(root).getBytes(StandardCharsets.UTF_8), binary);
    }

    // ------------------------------------------------------------------ responses

    /** Encodes a response; outputs marked {@link InferOutput#binary()} go after the JSON. */
    public static V2Message encodeResponse(InferenceResponse response) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("model_name", response.modelName());
        if (response.modelVersion() != null) {
            root.put("model_version", response.modelVersion());
        }
        if (response.id() != null) {
            root.put("id", response.id());
        }
        List<Object> outs = new ArrayList<>();
        List<ByteBuffer> binary = new ArrayList<>();
        for (InferOutput o : response.outputs()) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("name", o.name());
            t.put("datatype", o.datatype());
            t.put("shape", o.shape());
            if (o.binary()) {
                ByteBuffer b = ByteBuffer.allocate(o.length() * 4).order(ByteOrder.LITTLE_ENDIAN);
                if (o.data() instanceof float[] f) {
                    b.asFloatBuffer().put(f);
                } else {
                    b.asIntBuffer().put((int[]) o.data());
                }
                t.put("parameters", Map.of("binary_data_size", (long) b.capacity()));
                binary.add(b);
            } else if (o.data() instanceof float[] f) {
                t.put("data", f);
            } else {
                List<Integer> ints = new ArrayList<>();
                for (int v : (int[]) o.data()) {
                    ints.add(v);
                }
                t.put("data", ints);
            }
            outs.add(t);
        }
        root.put("outputs", outs);
        return new V2Message(Json.write(root).getBytes(StandardCharsets.UTF_8), binary);
    }

    /** Decodes a response body; {@code headerLength} is -1 when the header was absent. */
    public static InferenceResponse decodeResponse(ByteBuffer body, long headerLength) {
        int jsonLength = headerLength < 0 ? body.remaining() : (int) headerLength;
        if (jsonLength > body.remaining()) {
            throw new BadInputException(HEADER_LENGTH + " is " + headerLength + " but the body has only "
                    + body.remaining() + " bytes");
        }
        Map<String, Object> root = Json.parseObject(body.duplicate().limit(body.position() + jsonLength),
                "the inference response");
        ByteBuffer binary = body.duplicate().position(body.position() + jsonLength).slice()
                .order(ByteOrder.LITTLE_ENDIAN);
        List<InferOutput> outputs = new ArrayList<>();
        List<Object> raw = requireList(root, "outputs", "response");
        for (int i = 0; i < raw.size(); i++) {
            Map<String, Object> o = asObject(raw.get(i), "outputs[" + i + "]");
            String name = requireString(o, "name", "outputs[" + i + "]");
            String where = "output '" + name + "'";
            String datatype = requireString(o, "datatype", where);
            List<Long> shape = shape(o.get("shape"), where);
            int count = Math.toIntExact(product(shape, where));
            Object size = optObject(o, "parameters", where).get("binary_data_size");
            boolean isInt = datatype.startsWith("INT") || datatype.startsWith("UINT") || datatype.equals("BOOL");
            Object data;
            if (size != null) {
                if (!datatype.equals("FP32") && !datatype.equals("INT32")) {
                    throw new BadInputException(where + ": binary " + datatype + " is not supported");
                }
                int n = Math.toIntExact(nonNegativeLong(size, where + " binary_data_size"));
                if (n != 4 * count || binary.remaining() < n) {
                    throw new BadInputException(where + ": binary_data_size " + n + " does not fit shape " + shape
                            + " or the " + binary.remaining() + " bytes left");
                }
                ByteBuffer slice = binary.slice().limit(n).order(ByteOrder.LITTLE_ENDIAN);
                binary.position(binary.position() + n);
                if (datatype.equals("FP32")) {
                    float[] f = new float[count];
                    slice.asFloatBuffer().get(f);
                    data = f;
                } else {
                    int[] v = new int[count];
                    slice.asIntBuffer().get(v);
                    data = v;
                }
            } else {
                float[] f = flatten(o.get("data"), count, where);
                if (isInt) {
                    int[] v = new int[count];
                    for (int k = 0; k < count; k++) {
                        v[k] = (int) f[k];
                    }
                    data = v;
                } else {
                    data = f;
                }
            }
            outputs.add(new InferOutput(name, data instanceof int[] ? "INT32" : "FP32", shape, data, size != null));
        }
        return new InferenceResponse(requireString(root, "model_name", "response"),
                optString(root, "model_version", "response"), optString(root, "id", "response"), outputs);
    }

    // ------------------------------------------------------------------ helpers

    private static float[] flatten(Object raw, long count, String where) {
        if (!(raw instanceof List)) {
            throw new BadInputException(where + ": data must be an array, got " + Json.typeName(raw));
        }
        if (count > Integer.MAX_VALUE) {
            throw new BadInputException(where + ": " + count + " values are too many for JSON data");
        }
        float[] out = new float[(int) count];
        int n = flattenInto(raw, out, 0, where, 0);
        if (n != count) {
            throw new BadInputException(where + ": shape needs " + count + " values, data has " + n);
        }
        return out;
    }

    private static int flattenInto(Object raw, float[] out, int at, String where, int depth) {
        if (raw instanceof List<?> list) {
            for (Object o : list) {
                at = flattenInto(o, out, at, where, depth + 1);
            }
            return at;
        }
        float v;
        if (raw instanceof Double d) {
            v = d.floatValue();
        } else if (raw instanceof Boolean b) {
            v = b ? 1f : 0f;
        } else {
            throw new BadInputException(where + ": data holds " + Json.typeName(raw) + ", expected numbers");
        }
        if (at < out.length) {
            out[at] = v;
        }
        return at + 1;
    }

    private static List<Long> shape(Object raw, String where) {
        if (!(raw instanceof List<?> list)) {
            throw new BadInputException(where + ": shape must be an array of non-negative integers, got "
                    + Json.typeName(raw));
        }
        List<Long> shape = new ArrayList<>();
        for (Object o : list) {
            shape.add(nonNegativeLong(o, where + " shape"));
        }
        return shape;
    }

    private static long product(List<Long> shape, String where) {
        long p = 1;
        for (long d : shape) {
            try {
                p = Math.multiplyExact(p, d);
            } catch (ArithmeticException e) {
                throw new BadInputException(where + ": shape " + shape + " is too large");
            }
        }
        return p;
    }

    private static int[] matrixDims(List<Long> shape, String where) {
        if (shape.size() == 2) {
            if (shape.get(0) > Integer.MAX_VALUE || shape.get(1) > Integer.MAX_VALUE) {
                throw new BadInputException(where + ": shape " + shape + " is too large");
            }
            return new int[]{shape.get(0).intValue(), shape.get(1).intValue()};
        }
        if (shape.size() == 1 && shape.get(0) <= Integer.MAX_VALUE) {
            return new int[]{1, shape.get(0).intValue()};
        }
        throw new BadInputException(where + ": shape " + shape + " must be [rows, features] or [features]");
    }

    private static long nonNegativeLong(Object o, String what) {
        if (o instanceof Double d && d >= 0 && d == Math.rint(d) && d <= 9.007199254740992E15) {
            return d.longValue();
        }
        throw new BadInputException(what + " must be a non-negative integer, got " + Json.write(o));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asObject(Object o, String where) {
        if (o instanceof Map) {
            return (Map<String, Object>) o;
        }
        throw new BadInputException(where + " must be an object, got " + Json.typeName(o));
    }

    @SuppressWarnings("unchecked")
    private static List<Object> asList(Object o, String where) {
        if (o instanceof List) {
            return (List<Object>) o;
        }
        throw new BadInputException(where + " must be an array, got " + Json.typeName(o));
    }

    private static Map<String, Object> optObject(Map<String, Object> m, String key, String where) {
        Object o = m.get(key);
        return o == null ? Map.of() : asObject(o, where + " '" + key + "'");
    }

    private static List<Object> requireList(Map<String, Object> m, String key, String where) {
        if (!m.containsKey(key)) {
            throw new BadInputException(where + " has no '" + key + "'");
        }
        return asList(m.get(key), where + " '" + key + "'");
    }

    private static String requireString(Map<String, Object> m, String key, String where) {
        Object o = m.get(key);
        if (o instanceof String s) {
            return s;
        }
        throw new BadInputException(where + (o == null ? " has no '" + key + "'"
                : ": '" + key + "' must be a string, got " + Json.typeName(o)));
    }

    private static String optString(Map<String, Object> m, String key, String where) {
        Object o = m.get(key);
        if (o == null || o instanceof String) {
            return (String) o;
        }
        throw new BadInputException(where + ": '" + key + "' must be a string, got " + Json.typeName(o));
    }
}
