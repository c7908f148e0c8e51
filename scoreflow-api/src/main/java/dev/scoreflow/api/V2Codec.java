package dev.scoreflow.api;

import dev.scoreflow.api.internal.Json;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
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

    /** The protocol's datatypes; anything else is refused by name. */
    private static final List<String> DATATYPES = List.of("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8",
            "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BF16", "BYTES");
    /** Datatypes whose JSON data is read as float32. */
    private static final Set<String> NUMERIC = Set.of("FP32", "FP64", "FP16", "INT8", "INT16", "INT32", "INT64",
            "UINT8", "UINT16", "UINT32", "UINT64");
    /** 2^53: the largest integer a JSON number (a double) holds exactly. */
    private static final double MAX_SAFE_INTEGER = 9.007199254740992E15;

    private V2Codec() {
    }

    // ------------------------------------------------------------------ requests

    /**
     * Decodes a request body.
     *
     * <p>Every value the codec reads is checked: a parameter of the wrong type, an unknown datatype, a negative or
     * oversized shape, data whose count or nesting does not match the shape, or binary sizes that do not add up
     * raise a {@link BadInputException} naming the tensor, the parameter and the value. Nothing is allocated in
     * proportion to a declared shape before the data has been found to match it.
     *
     * @param body         the whole body (its remaining bytes), after any content decoding
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
        Map<String, Object> root = headerLength < 0 ? parseWithoutHeader(json) : Json.parseObject(json,
                "the inference request");

        String id = optString(root, "id", "request");
        Map<String, Object> parameters = parameters(root, "request");
        checkBoolean(parameters, "binary_data_output", "request");
        checkInteger(parameters, "timeout", 1, "request", "a positive integer of microseconds");
        checkInteger(parameters, "priority", 0, "request", "a non-negative integer");
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
            String datatype = datatype(in, where);
            List<Long> shape = shape(in.get("shape"), where);
            long count = product(shape, where);
            int[] dims = matrixDims(shape, where);
            Map<String, Object> params = parameters(in, where);
            refuseSharedMemory(params, where);
            Object binarySize = params.get("binary_data_size");
            FloatMatrix data;
            if (binarySize != null) {
                long size = nonNegativeLong(binarySize, where + ": parameter 'binary_data_size'");
                if (headerLength < 0) {
                    throw new BadInputException(where + " has binary_data_size but the request has no "
                            + HEADER_LENGTH + " header");
                }
                if (in.containsKey("data")) {
                    throw new BadInputException(where + " has both binary_data_size and data");
                }
                if (!datatype.equals("FP32")) {
                    throw new BadInputException(where + ": binary data must be FP32, got " + datatype);
                }
                long needed = bytes(count, 4, shape, where);
                if (size != needed) {
                    throw new BadInputException(where + ": shape " + shape + " needs " + needed
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
                if (!in.containsKey("data")) {
                    throw new BadInputException(where + " has neither data nor binary_data_size");
                }
                float[] values = floats(in.get("data"), shape, count, datatype, false, where);
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
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < list.size(); i++) {
                Map<String, Object> o = asObject(list.get(i), "outputs[" + i + "]");
                String name = requireString(o, "name", "outputs[" + i + "]");
                String where = "output '" + name + "'";
                if (!seen.add(name)) {
                    throw new BadInputException(where + " is asked for twice");
                }
                Map<String, Object> params = parameters(o, where);
                refuseSharedMemory(params, where);
                if (params.containsKey("classification")) {
                    throw new BadInputException(where + ": parameter 'classification' is not supported (the"
                            + " classification extension is not offered), got " + show(params.get("classification")));
                }
                checkBoolean(params, "binary_data", where);
                outputs.add(new RequestedOutput(name, (Boolean) params.get("binary_data")));
            }
        }
        return new InferenceRequest(id, parameters, inputs, outputs);
    }

    /**
     * Parses the JSON of a body sent without {@code Inference-Header-Content-Length}. If bytes follow a complete
     * JSON object whose inputs declare {@code binary_data_size}, the header is what is missing, and the message
     * says so rather than "malformed JSON".
     */
    private static Map<String, Object> parseWithoutHeader(ByteBuffer json) {
        try {
            return Json.parseObject(json, "the inference request");
        } catch (BadInputException e) {
            ByteBuffer b = json.duplicate();
            Object prefix;
            try {
                prefix = Json.parsePrefix(b);
            } catch (BadInputException notEvenAPrefix) {
                throw e;
            }
            if (b.hasRemaining() && declaresBinaryData(prefix)) {
                throw new BadInputException("the JSON ends at byte " + (b.position() - json.position()) + " and "
                        + b.remaining() + " bytes of binary data follow it, but the request has no " + HEADER_LENGTH
                        + " header: send it with the JSON length when inputs have binary_data_size");
            }
            throw e;
        }
    }

    private static boolean declaresBinaryData(Object root) {
        if (root instanceof Map<?, ?> m && m.get("inputs") instanceof List<?> inputs) {
            for (Object in : inputs) {
                if (in instanceof Map<?, ?> i && i.get("parameters") instanceof Map<?, ?> p
                        && p.containsKey("binary_data_size")) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Decodes the body of Triton's repository extension {@code POST v2/repository/models/{name}/load}: empty, or
     * a JSON object whose only key is {@code parameters}. Scoreflow reads a model's settings from its
     * {@code model.json}, so it takes no load parameters: Triton's {@code config} and {@code file:...} are refused
     * rather than ignored.
     *
     * @return the load parameters (always empty today)
     * @throws BadInputException if the body is not such an object, naming the key or parameter
     */
    public static Map<String, Object> decodeLoadRequest(ByteBuffer body) {
        ByteBuffer b = body.duplicate();
        while (b.hasRemaining() && Character.isWhitespace(b.get(b.position()))) {
            b.get();
        }
        if (!b.hasRemaining()) {
            return Map.of();
        }
        Map<String, Object> root = Json.parseObject(body, "the load request");
        for (String key : root.keySet()) {
            if (!key.equals("parameters")) {
                throw new BadInputException("load request: unknown key " + show(key) + "; the body may only hold"
                        + " 'parameters'");
            }
        }
        Map<String, Object> parameters = parameters(root, "load request");
        for (Map.Entry<String, Object> p : parameters.entrySet()) {
            String why = p.getKey().equals("config")
                    ? "Scoreflow reads a model's settings from models/{name}/{version}/model.json"
                    : p.getKey().startsWith("file:")
                    ? "model files are read from the repository directory, not uploaded"
                    : "this server takes no load parameters";
            throw new BadInputException("load request: parameter " + show(p.getKey()) + " is not supported ("
                    + why + "), got " + show(p.getValue()));
        }
        return parameters;
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

    /**
     * Encodes a response; outputs marked {@link InferOutput#binary()} go after the JSON (see {@link #binaryData}
     * for their layout), the others as JSON arrays (BOOL as true/false, BYTES as strings, non-finite floats as
     * null).
     */
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
                ByteBuffer b = binaryData(o);
                t.put("parameters", Map.of("binary_data_size", (long) b.remaining()));
                binary.add(b);
            } else {
                t.put("data", o.data()); // Json writes each datatype's array; non-finite floats as null
            }
            outs.add(t);
        }
        root.put("outputs", outs);
        return new V2Message(Json.write(root).getBytes(StandardCharsets.UTF_8), binary);
    }

    /**
     * The binary tensor extension's bytes of an output: little-endian, row-major; BOOL one byte (0 or 1); BYTES
     * each element a 4-byte little-endian length and that many bytes of UTF-8.
     */
    private static ByteBuffer binaryData(InferOutput o) {
        Object data = o.data();
        ByteBuffer b;
        if (data instanceof float[] f) {
            b = little(4L * f.length);
            b.asFloatBuffer().put(f);
        } else if (data instanceof double[] d) {
            b = little(8L * d.length);
            b.asDoubleBuffer().put(d);
        } else if (data instanceof long[] l) {
            b = little(8L * l.length);
            b.asLongBuffer().put(l);
        } else if (data instanceof int[] v) {
            b = little(4L * v.length);
            b.asIntBuffer().put(v);
        } else if (data instanceof boolean[] bs) {
            b = little(bs.length);
            for (int i = 0; i < bs.length; i++) {
                b.put(i, (byte) (bs[i] ? 1 : 0));
            }
        } else {
            String[] strings = (String[]) data;
            byte[][] utf8 = new byte[strings.length][];
            long size = 0;
            for (int i = 0; i < strings.length; i++) {
                utf8[i] = strings[i].getBytes(StandardCharsets.UTF_8);
                size += 4 + utf8[i].length;
            }
            b = little(size);
            for (byte[] s : utf8) {
                b.putInt(s.length).put(s);
            }
            b.flip();
        }
        return b;
    }

    private static ByteBuffer little(long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("an output of " + bytes + " bytes does not fit one response");
        }
        return ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Decodes a response body; {@code headerLength} is -1 when the header was absent. JSON {@code null} in
     * floating-point data reads as NaN (the encoder writes non-finite values so, as JSON has no NaN). FP32, FP64,
     * INT64, INT32, BOOL and BYTES decode to their own data types (see {@link InferOutput}), in JSON or binary;
     * the other integer datatypes are read from JSON as INT32 and FP16/BF16 as FP32. INT64 in JSON is exact up to
     * 2^53 in magnitude (send binary data for more).
     */
    public static InferenceResponse decodeResponse(ByteBuffer body, long headerLength) {
        if (headerLength > body.remaining()) {
            throw new BadInputException(HEADER_LENGTH + " is " + headerLength + " but the body has only "
                    + body.remaining() + " bytes");
        }
        int jsonLength = headerLength < 0 ? body.remaining() : (int) headerLength;
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
            String datatype = datatype(o, where);
            List<Long> shape = shape(o.get("shape"), where);
            long count = product(shape, where);
            Object size = parameters(o, where).get("binary_data_size");
            Object data;
            if (size != null) {
                long n = nonNegativeLong(size, where + ": parameter 'binary_data_size'");
                if (n > binary.remaining()) {
                    throw new BadInputException(where + ": binary_data_size " + n + " is more than the "
                            + binary.remaining() + " bytes left");
                }
                ByteBuffer slice = binary.slice().limit((int) n).order(ByteOrder.LITTLE_ENDIAN);
                binary.position(binary.position() + (int) n);
                data = binaryValues(slice, datatype, shape, count, where);
            } else {
                data = jsonValues(o.get("data"), datatype, shape, count, where);
            }
            outputs.add(new InferOutput(name, datatypeOf(data), shape, data, size != null));
        }
        if (binary.hasRemaining()) {
            throw new BadInputException("the outputs declare " + binary.position() + " bytes of binary data but "
                    + binary.limit() + " bytes follow the JSON header");
        }
        return new InferenceResponse(requireString(root, "model_name", "response"),
                optString(root, "model_version", "response"), optString(root, "id", "response"), outputs);
    }

    // ------------------------------------------------------------------ helpers

    /** The datatype of decoded output data (integer datatypes other than INT64 are read as INT32). */
    private static String datatypeOf(Object data) {
        if (data instanceof float[]) {
            return "FP32";
        } else if (data instanceof double[]) {
            return "FP64";
        } else if (data instanceof long[]) {
            return "INT64";
        } else if (data instanceof int[]) {
            return "INT32";
        } else if (data instanceof boolean[]) {
            return "BOOL";
        }
        return "BYTES";
    }

    /**
     * The values of a binary output tensor of {@code slice.remaining()} bytes. Sizes are checked before anything
     * is allocated: fixed-width datatypes must fill the slice exactly; BYTES elements take at least their 4-byte
     * length each, and their lengths must add up to the slice.
     */
    private static Object binaryValues(ByteBuffer slice, String datatype, List<Long> shape, long count,
                                       String where) {
        int width = switch (datatype) {
            case "FP32", "INT32" -> 4;
            case "FP64", "INT64" -> 8;
            case "BOOL" -> 1;
            case "BYTES" -> 0;
            default -> throw new BadInputException(where + ": binary " + datatype + " is not supported");
        };
        long n = slice.remaining();
        if (width == 0) {
            if (count > n / 4) {
                throw new BadInputException(where + ": shape " + shape + " needs " + count + " BYTES elements of"
                        + " at least 4 bytes each, binary_data_size is " + n);
            }
            String[] out = new String[(int) count];
            for (int i = 0; i < out.length; i++) {
                if (slice.remaining() < 4) {
                    throw new BadInputException(where + ": BYTES element " + i + " has no 4-byte length");
                }
                long length = slice.getInt() & 0xffffffffL;
                if (length > slice.remaining()) {
                    throw new BadInputException(where + ": BYTES element " + i + " is " + length
                            + " bytes long, only " + slice.remaining() + " are left");
                }
                byte[] utf8 = new byte[(int) length];
                slice.get(utf8);
                out[i] = new String(utf8, StandardCharsets.UTF_8);
            }
            if (slice.hasRemaining()) {
                throw new BadInputException(where + ": " + slice.remaining() + " bytes follow its " + count
                        + " BYTES elements within binary_data_size " + n);
            }
            return out;
        }
        long needed = bytes(count, width, shape, where);
        if (n != needed) {
            throw new BadInputException(where + ": binary_data_size " + n + " does not fit shape " + shape
                    + " of " + datatype + " (" + needed + " bytes)");
        }
        switch (datatype) {
            case "FP32" -> {
                float[] f = new float[(int) count];
                slice.asFloatBuffer().get(f);
                return f;
            }
            case "INT32" -> {
                int[] v = new int[(int) count];
                slice.asIntBuffer().get(v);
                return v;
            }
            case "FP64" -> {
                double[] d = new double[(int) count];
                slice.asDoubleBuffer().get(d);
                return d;
            }
            case "INT64" -> {
                long[] l = new long[(int) count];
                slice.asLongBuffer().get(l);
                return l;
            }
            default -> {
                boolean[] b = new boolean[(int) count];
                for (int i = 0; i < b.length; i++) {
                    byte v = slice.get(i);
                    if (v != 0 && v != 1) {
                        throw new BadInputException(where + ": BOOL element " + i + " is byte " + v
                                + ", expected 0 or 1");
                    }
                    b[i] = v == 1;
                }
                return b;
            }
        }
    }

    /** The values of a JSON output tensor, checked against the shape before anything is sized by it. */
    private static Object jsonValues(Object raw, String datatype, List<Long> shape, long count, String where) {
        switch (datatype) {
            case "FP64":
                return doubles(raw, shape, count, where);
            case "INT64":
                return longs(raw, shape, count, where);
            case "BOOL":
                return booleans(raw, shape, count, where);
            case "BYTES":
                return strings(raw, shape, count, where);
            default:
                if (datatype.startsWith("INT") || datatype.startsWith("UINT")) {
                    return ints(raw, shape, count, datatype, where);
                }
                if (NUMERIC.contains(datatype)) {
                    return floats(raw, shape, count, datatype, true, where);
                }
                throw new BadInputException(where + ": datatype " + datatype + " is not supported");
        }
    }

    /** JSON data as float64; JSON null (how non-finite values are written) reads as NaN. */
    private static double[] doubles(Object raw, List<Long> shape, long count, String where) {
        double[] out = new double[checkData(raw, shape, count, where)];
        int[] at = {0};
        forEachValue(raw, v -> {
            int i = at[0]++;
            if (v instanceof Double d) {
                out[i] = d;
            } else if (v == null) {
                out[i] = Double.NaN;
            } else {
                throw new BadInputException(where + ": data[" + i + "] is " + show(v) + ", expected a number");
            }
        });
        return out;
    }

    /** JSON data as int64: integers of magnitude up to 2^53 are exact (a JSON number is read as a double). */
    private static long[] longs(Object raw, List<Long> shape, long count, String where) {
        long[] out = new long[checkData(raw, shape, count, where)];
        int[] at = {0};
        forEachValue(raw, v -> {
            int i = at[0]++;
            if (v instanceof Double d && d == Math.rint(d) && d >= -0x1p63 && d < 0x1p63) {
                out[i] = d.longValue();
            } else {
                throw new BadInputException(where + ": data[" + i + "] is " + show(v) + ", expected an integer"
                        + " that fits in 64 bits");
            }
        });
        return out;
    }

    private static boolean[] booleans(Object raw, List<Long> shape, long count, String where) {
        boolean[] out = new boolean[checkData(raw, shape, count, where)];
        int[] at = {0};
        forEachValue(raw, v -> {
            int i = at[0]++;
            if (v instanceof Boolean b) {
                out[i] = b;
            } else {
                throw new BadInputException(where + ": data[" + i + "] is " + show(v) + ", expected a boolean");
            }
        });
        return out;
    }

    private static String[] strings(Object raw, List<Long> shape, long count, String where) {
        String[] out = new String[checkData(raw, shape, count, where)];
        int[] at = {0};
        forEachValue(raw, v -> {
            int i = at[0]++;
            if (v instanceof String s) {
                out[i] = s;
            } else {
                throw new BadInputException(where + ": data[" + i + "] is " + show(v) + ", expected a string");
            }
        });
        return out;
    }

    /** The datatype of a tensor: one of the protocol's, named exactly. */
    private static String datatype(Map<String, Object> tensor, String where) {
        String datatype = requireString(tensor, "datatype", where);
        if (!DATATYPES.contains(datatype)) {
            throw new BadInputException(where + ": unknown datatype " + show(datatype) + "; the protocol's are "
                    + DATATYPES);
        }
        return datatype;
    }

    /** Bytes of {@code count} elements of {@code width} bytes, refused if they could not be addressed. */
    private static long bytes(long count, int width, List<Long> shape, String where) {
        if (count > Integer.MAX_VALUE / width) {
            throw new BadInputException(where + ": shape " + shape + " is too large for one request ("
                    + count + " values)");
        }
        return count * width;
    }

    /**
     * Checks that JSON tensor data matches the shape, flat ({@code [1,2,3,4]}) or nested to the shape's rank
     * ({@code [[1,2],[3,4]]}), and returns the number of values; allocates nothing, so a shape that claims far more
     * values than the body holds is refused before anything is sized by it.
     */
    private static int checkData(Object raw, List<Long> shape, long count, String where) {
        if (!(raw instanceof List<?> top)) {
            throw new BadInputException(where + ": data must be an array, got " + Json.typeName(raw));
        }
        boolean flat = true;
        for (Object o : top) {
            if (o instanceof List) {
                flat = false;
                break;
            }
        }
        if (flat) {
            if (top.size() != count) {
                throw new BadInputException(where + ": shape " + shape + " needs " + count + " values, data has "
                        + top.size());
            }
            return top.size();
        }
        checkNested(top, shape, 0, where);
        return (int) count; // every level matched its dimension, so the values are exactly the shape's count
    }

    private static void checkNested(List<?> list, List<Long> shape, int depth, String where) {
        if (depth >= shape.size() || list.size() != shape.get(depth)) {
            throw new BadInputException(where + ": nested data does not match shape " + shape + ": a list at depth "
                    + depth + " has " + list.size() + " values" + (depth < shape.size()
                    ? ", the shape says " + shape.get(depth) : ", deeper than the shape"));
        }
        boolean last = depth == shape.size() - 1;
        for (Object o : list) {
            if (o instanceof List<?> inner) {
                if (last) {
                    throw new BadInputException(where + ": nested data is deeper than shape " + shape);
                }
                checkNested(inner, shape, depth + 1, where);
            } else if (!last) {
                throw new BadInputException(where + ": nested data does not match shape " + shape + ": found "
                        + show(o) + " at depth " + depth + " where a list of " + shape.get(depth + 1)
                        + " values belongs");
            }
        }
    }

    /** JSON data as float32; {@code nullIsNaN} reads JSON null (how non-finite values are written) as NaN. */
    private static float[] floats(Object raw, List<Long> shape, long count, String datatype, boolean nullIsNaN,
                                  String where) {
        float[] out = new float[checkData(raw, shape, count, where)];
        double[] range = integerRange(datatype);
        int[] at = {0};
        forEachValue(raw, v -> {
            int i = at[0]++;
            if (v instanceof Double d) {
                out[i] = d.floatValue();
                if (range != null && (d != Math.rint(d) || d < range[0] || d >= range[1])) {
                    throw new BadInputException(where + ": data[" + i + "] is " + show(d) + ", not a " + datatype
                            + " value");
                }
            } else if (v == null && nullIsNaN) {
                out[i] = Float.NaN;
            } else {
                throw new BadInputException(where + ": data[" + i + "] is " + show(v) + ", expected a number"
                        + (v == null ? " (JSON has no NaN or infinity: send those as binary data)" : ""));
            }
        });
        return out;
    }

    /** JSON data of an integer datatype as int32. */
    private static int[] ints(Object raw, List<Long> shape, long count, String datatype, String where) {
        int[] out = new int[checkData(raw, shape, count, where)];
        int[] at = {0};
        forEachValue(raw, v -> {
            int i = at[0]++;
            if (v instanceof Double d && d == Math.rint(d) && d >= Integer.MIN_VALUE
                    && d <= Integer.MAX_VALUE) {
                out[i] = d.intValue();
            } else {
                throw new BadInputException(where + ": data[" + i + "] is " + show(v) + ", expected an integer"
                        + " that fits in 32 bits");
            }
        });
        return out;
    }

    private static void forEachValue(Object raw, java.util.function.Consumer<Object> action) {
        if (raw instanceof List<?> list) {
            for (Object o : list) {
                forEachValue(o, action);
            }
        } else {
            action.accept(raw);
        }
    }

    /** The values an integer datatype holds, as [min, max + 1); null for the other datatypes. */
    private static double[] integerRange(String datatype) {
        return switch (datatype) {
            case "INT8" -> new double[]{-0x1p7, 0x1p7};
            case "INT16" -> new double[]{-0x1p15, 0x1p15};
            case "INT32" -> new double[]{-0x1p31, 0x1p31};
            case "INT64" -> new double[]{-0x1p63, 0x1p63};
            case "UINT8" -> new double[]{0, 0x1p8};
            case "UINT16" -> new double[]{0, 0x1p16};
            case "UINT32" -> new double[]{0, 0x1p32};
            case "UINT64" -> new double[]{0, 0x1p64};
            default -> null;
        };
    }

    private static List<Long> shape(Object raw, String where) {
        if (!(raw instanceof List<?> list)) {
            throw new BadInputException(where + ": shape must be an array of non-negative integers, got "
                    + show(raw));
        }
        List<Long> shape = new ArrayList<>();
        for (Object o : list) {
            if (!(o instanceof Double d) || d < 0 || d != Math.rint(d) || d > MAX_SAFE_INTEGER) {
                throw new BadInputException(where + ": shape " + show(raw) + " has dimension " + show(o)
                        + "; dimensions are non-negative integers" + (o instanceof Double d && d == -1
                        ? " (-1 in model metadata means 'any size'; a request gives the actual size)" : ""));
            }
            shape.add(d.longValue());
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
        if (o instanceof Double d && d >= 0 && d == Math.rint(d) && d <= MAX_SAFE_INTEGER) {
            return d.longValue();
        }
        throw new BadInputException(what + " must be a non-negative integer, got " + show(o));
    }

    /**
     * The {@code parameters} object of a request, tensor or load request: parameter values are strings, numbers or
     * booleans.
     */
    private static Map<String, Object> parameters(Map<String, Object> m, String where) {
        Map<String, Object> p = optObject(m, "parameters", where);
        for (Map.Entry<String, Object> e : p.entrySet()) {
            Object v = e.getValue();
            if (!(v instanceof String || v instanceof Double || v instanceof Boolean)) {
                throw new BadInputException(where + ": parameter " + show(e.getKey()) + " must be a string, number"
                        + " or boolean, got " + show(v));
            }
        }
        return p;
    }

    private static void checkBoolean(Map<String, Object> params, String key, String where) {
        Object v = params.get(key);
        if (v != null && !(v instanceof Boolean)) {
            throw new BadInputException(where + ": parameter '" + key + "' must be true or false, got " + show(v));
        }
    }

    private static void checkInteger(Map<String, Object> params, String key, long min, String where, String what) {
        Object v = params.get(key);
        if (v != null && !(v instanceof Double d && d == Math.rint(d) && d >= min && d <= MAX_SAFE_INTEGER)) {
            throw new BadInputException(where + ": parameter '" + key + "' must be " + what + ", got " + show(v));
        }
    }

    private static void refuseSharedMemory(Map<String, Object> params, String where) {
        for (String key : params.keySet()) {
            if (key.startsWith("shared_memory_")) {
                throw new BadInputException(where + ": parameter '" + key + "' is not supported (the shared-memory"
                        + " extension is not offered), got " + show(params.get(key)));
            }
        }
    }

    /** A value as JSON for an error message, cut short so a message never echoes a large body. */
    static String show(Object v) {
        String s = v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString(d.longValue())
                : Json.write(v);
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
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
