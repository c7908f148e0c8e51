package dev.scoreflow.api;

import dev.scoreflow.api.internal.Json;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Property and fuzz tests over the wire codecs: the Open Inference Protocol's JSON and binary framing, and the seed
 * binary codec. Round trips are exact; random and mutated input either decodes or raises {@link BadInputException}
 * with a message, never another exception, never in more than a moment, and never allocating far beyond its own
 * size (a shape that claims 2^40 values is refused before anything is sized by it).
 *
 * <p>Every property has a fixed jqwik seed and draws its cases from a seeded {@link Random}: a failure names the
 * seed, which replays it (jqwik's database under target/ replays it too). Tries, not time, bound each property
 * to a few seconds.
 */
class CodecFuzzTest {
    /** What decoding may allocate: generous per input byte (a JSON number becomes a String and a Double). */
    private static final long BYTES_PER_INPUT_BYTE = 256;
    private static final long ALLOCATION_SLACK = 4 << 20;
    private static final long MAX_NANOS = 2_000_000_000L;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** Valid JSON values that are wrong in many places of a V2 message. */
    private static final String[] VALUES = {"-1", "0", "1", "1.5", "-0", "1e308", "2147483647", "2147483648",
            "4294967296", "9007199254740993", "1099511627776", "null", "true", "false", "\"x\"", "\"\"", "[]", "{}",
            "[1,2,3]", "[[1,2],[3]]", "[[[1]]]", "[-1,2]", "[0,1099511627776]", "{\"binary_data_size\":4}",
            "{\"binary_data\":1}", "{\"binary_data_output\":\"yes\"}", "{\"x\":null}", "\"FP32\"",
            "\"INT8\"", "\"UINT64\"", "\"BOOL\"", "\"BYTES\"", "\"FP16\"", "\"NOPE\"", "[true,false]",
            "[null]", "[1e39]", "[-129,300]"};
    private static final String[] NASTY = {"-1", "0", "1.5", "-0", "1e309", "-1e309", "2147483647", "2147483648",
            "4294967296", "9007199254740993", "1099511627776", "1e18", "null", "true", "false", "\"x\"", "\"\"",
            "[]", "{}", "[[", "]]", "{", "}", ",", ":", "\"", "\\", "\"\\u0000\"", "\"\\ud800\"", "\"\\uZZZZ\"", "NaN",
            "[1,2,3]", "[[1,2],[3]]", "{\"binary_data_size\":4}", "\"FP32\"", "\"BYTES\"", "\"binary_data_size\"",
            "\"shape\"", "\"data\"", "\"inputs\"", "\"outputs\"", "\"parameters\"", "\"binary_data\"", " ", "\n"};

    // ------------------------------------------------------------------ generators

    private static String text(Random r) {
        int n = r.nextInt(8);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            switch (r.nextInt(6)) {
                case 0 -> sb.append((char) (0x20 + r.nextInt(0x5f)));
                case 1 -> sb.append("\"\\/\b\f\n\r\t\u0001\u001f".charAt(r.nextInt(10)));
                case 2 -> sb.append((char) (0xa0 + r.nextInt(0xd000)));
                case 3 -> sb.appendCodePoint(0x10000 + r.nextInt(0xfffff));
                case 4 -> sb.append((char) (0xd800 + r.nextInt(0x800))); // a lone surrogate
                default -> sb.append((char) ('a' + r.nextInt(26)));
            }
        }
        return sb.toString();
    }

    /** Any float32 bit pattern, or only finite ones (what JSON can carry). */
    private static float anyFloat(Random r, boolean finite) {
        while (true) {
            float f = switch (r.nextInt(4)) {
                case 0 -> Float.intBitsToFloat(r.nextInt());
                case 1 -> (float) r.nextGaussian();
                case 2 -> r.nextInt(2000) - 1000;
                default -> new float[]{0f, -0f, Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_NORMAL,
                        Float.NaN, Float.POSITIVE_INFINITY, Float.intBitsToFloat(0x7fc01234)}[r.nextInt(9)];
            };
            if (!finite || Float.isFinite(f)) {
                return f;
            }
        }
    }

    private static FloatMatrix matrix(Random r, int rows, int cols, boolean finite) {
        float[] d = new float[rows * cols];
        for (int i = 0; i < d.length; i++) {
            d[i] = anyFloat(r, finite);
        }
        return FloatMatrix.of(d, rows, cols);
    }

    private static void sampleInputs(Random r, List<InferInput> inputs) {
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            int rows = r.nextInt(6);
            int cols = 1 + r.nextInt(6);
            inputs.add(new InferInput(text(r), "FP32", List.of((long) rows, (long) cols), matrix(r, rows, cols, true)));
        }
    }

    private static V2Message sampleRequestMessage(Random r) {
        List<InferInput> inputs = new ArrayList<>();
        sampleInputs(r, inputs);
        List<String> outputs = new ArrayList<>();
        for (int i = r.nextInt(3); i > 0; i--) {
            outputs.add("out" + i);
        }
        return V2Codec.encodeRequest(r.nextBoolean() ? text(r) : null, inputs, outputs, r.nextBoolean(),
                r.nextBoolean());
    }

    private static InferenceResponse sampleResponse(Random r) {
        List<InferOutput> outputs = new ArrayList<>();
        for (int i = r.nextInt(4); i > 0; i--) {
            int rows = r.nextInt(6);
            int width = 1 + r.nextInt(3);
            List<Long> shape = r.nextInt(4) == 0 ? List.of((long) rows * width) : List.of((long) rows, (long) width);
            int n = rows * width;
            boolean binary = r.nextBoolean(); // binary data carries every bit pattern, JSON only finite values
            String datatype = List.of("FP32", "FP64", "INT64", "INT32", "BOOL", "BYTES").get(r.nextInt(6));
            Object data = switch (datatype) {
                case "FP32" -> matrix(r, n, 1, !binary).toArray();
                case "FP64" -> {
                    double[] d = new double[n];
                    for (int k = 0; k < n; k++) {
                        d[k] = anyDouble(r, !binary);
                    }
                    yield d;
                }
                case "INT64" -> {
                    long[] l = new long[n];
                    for (int k = 0; k < n; k++) {
                        // JSON numbers are doubles: exact up to 2^53; binary carries every long
                        l[k] = binary ? r.nextLong() : r.nextLong() % (1L << 53);
                    }
                    yield l;
                }
                case "INT32" -> {
                    int[] v = new int[n];
                    for (int k = 0; k < n; k++) {
                        v[k] = r.nextInt();
                    }
                    yield v;
                }
                case "BOOL" -> {
                    boolean[] b = new boolean[n];
                    for (int k = 0; k < n; k++) {
                        b[k] = r.nextBoolean();
                    }
                    yield b;
                }
                default -> {
                    String[] s = new String[n];
                    for (int k = 0; k < n; k++) {
                        // binary BYTES are UTF-8, which has no lone surrogate; JSON escapes them
                        s[k] = binary ? validText(r) : text(r);
                    }
                    yield s;
                }
            };
            outputs.add(new InferOutput(text(r), datatype, shape, data, binary));
        }
        return new InferenceResponse(text(r), r.nextBoolean() ? text(r) : null, r.nextBoolean() ? text(r) : null,
                outputs);
    }

    /** Any float64 bit pattern, or only finite ones. */
    private static double anyDouble(Random r, boolean finite) {
        while (true) {
            double d = switch (r.nextInt(4)) {
                case 0 -> Double.longBitsToDouble(r.nextLong());
                case 1 -> r.nextGaussian();
                case 2 -> r.nextInt(2000) - 1000;
                default -> new double[]{0d, -0d, Double.MIN_VALUE, Double.MAX_VALUE, -Double.MAX_VALUE,
                        Double.MIN_NORMAL, Double.NaN, Double.NEGATIVE_INFINITY, 1e15, 1e16 + 2}[r.nextInt(10)];
            };
            if (!finite || Double.isFinite(d)) {
                return d;
            }
        }
    }

    /** {@link #text} without lone surrogates: what UTF-8 can carry. */
    private static String validText(Random r) {
        String t = text(r);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < t.length() && Character.isLowSurrogate(t.charAt(i + 1))) {
                sb.append(c).append(t.charAt(++i));
            } else if (!Character.isSurrogate(c)) {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /**
     * One to four random edits of a JSON text: mostly a value replaced by a nasty one (so that most edits still parse
     * and reach the codec's checks), sometimes a byte flipped, a range cut or copied, bytes added or dropped.
     */
    private static byte[] mutate(Random r, byte[] body) {
        byte[] b = body;
        for (int edits = 1 + r.nextInt(4); edits > 0; edits--) {
            int at = b.length == 0 ? 0 : r.nextInt(b.length + 1);
            int kind = r.nextInt(10);
            switch (kind < 6 ? 3 : kind - 6 + (kind == 9 ? 2 : 0)) {
                case 0 -> {
                    if (b.length > 0) {
                        b = b.clone();
                        b[Math.min(at, b.length - 1)] ^= (byte) (1 << r.nextInt(8));
                    }
                }
                case 1 -> {
                    int n = Math.min(b.length - at, 1 + r.nextInt(8));
                    b = splice(b, at, n, new byte[0]);
                }
                case 2 -> {
                    int n = Math.min(b.length - at, 1 + r.nextInt(16));
                    b = splice(b, at, 0, Arrays.copyOfRange(b, at, at + n));
                }
                case 3 -> {
                    // replace the value after the first ':', '[' or ',' from a random point with a nasty value
                    // (mostly valid JSON, so the edit reaches the codec's own checks)
                    int from = at;
                    while (from < b.length && !(b[from] == ':' || b[from] == '['
                            || b[from] == ',' && from + 1 < b.length && b[from + 1] != '"')) {
                        from++; // (a ',' before a '"' starts a key, which stays)
                    }
                    from = Math.min(b.length, from + 1);
                    String[] pool = r.nextInt(8) == 0 ? NASTY : VALUES;
                    b = splice(b, from, valueLength(b, from), pool[r.nextInt(pool.length)]
                            .getBytes(StandardCharsets.UTF_8));
                }
                case 5 -> {
                    byte[] noise = new byte[1 + r.nextInt(8)];
                    r.nextBytes(noise);
                    b = r.nextBoolean() ? splice(b, b.length, 0, noise) : Arrays.copyOf(b, Math.max(0, b.length
                            - noise.length));
                }
            }
        }
        return b;
    }

    /** Bytes of the JSON value (number, literal, string, array or object) at {@code from}, roughly. */
    private static int valueLength(byte[] b, int from) {
        if (from >= b.length) {
            return 0;
        }
        int end = from;
        byte first = b[from];
        if (first == '"') {
            end++;
            while (end < b.length && b[end] != '"') {
                end += b[end] == '\\' ? 2 : 1;
            }
            return Math.min(b.length, end + 1) - from;
        }
        if (first == '[' || first == '{') {
            int depth = 0;
            boolean inString = false;
            for (; end < b.length; end++) {
                byte c = b[end];
                if (inString) {
                    if (c == '\\') {
                        end++;
                    } else if (c == '"') {
                        inString = false;
                    }
                } else if (c == '"') {
                    inString = true;
                } else if (c == '[' || c == '{') {
                    depth++;
                } else if ((c == ']' || c == '}') && --depth == 0) {
                    return end + 1 - from;
                }
            }
            return b.length - from;
        }
        while (end < b.length && (Character.isLetterOrDigit(b[end]) || b[end] == '-' || b[end] == '.'
                || b[end] == '+')) {
            end++;
        }
        return end - from;
    }

    private static byte[] splice(byte[] b, int at, int remove, byte[] insert) {
        byte[] out = new byte[b.length - remove + insert.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(insert, 0, out, at, insert.length);
        System.arraycopy(b, at + remove, out, at + insert.length, b.length - at - remove);
        return out;
    }

    /** The JSON mutated, then the binary part, if any, left alone or cut, extended or flipped. */
    private static byte[][] mutateMessage(Random r, V2Message msg) {
        byte[] json = mutate(r, msg.json());
        byte[] binary = Arrays.copyOfRange(msg.toByteBuffer().array(), msg.headerLength(), (int) msg.bodyLength());
        if (binary.length > 0 && r.nextInt(4) == 0) {
            binary = switch (r.nextInt(3)) {
                case 0 -> Arrays.copyOf(binary, r.nextInt(binary.length));
                case 1 -> Arrays.copyOf(binary, binary.length + 1 + r.nextInt(8));
                default -> {
                    binary[r.nextInt(binary.length)] ^= (byte) (1 << r.nextInt(8));
                    yield binary;
                }
            };
        }
        return new byte[][]{json, binary};
    }

    private static byte[] body(byte[][] parts) {
        byte[] body = Arrays.copyOf(parts[0], parts[0].length + parts[1].length);
        System.arraycopy(parts[1], 0, body, parts[0].length, parts[1].length);
        return body;
    }

    /** The header length to send: mostly the mutated JSON's length (or none), sometimes any other. */
    private static long framing(Random r, V2Message msg, byte[][] parts) {
        long header = msg.hasBinary() ? parts[0].length : -1;
        return r.nextInt(5) == 0 ? mutateHeaderLength(r, header, parts[0].length + parts[1].length) : header;
    }

    private static long mutateHeaderLength(Random r, long headerLength, int bodyLength) {
        return switch (r.nextInt(6)) {
            case 0 -> -1;
            case 1 -> headerLength + r.nextInt(9) - 4;
            case 2 -> r.nextInt(bodyLength + 2);
            case 3 -> Long.MAX_VALUE - r.nextInt(3);
            default -> headerLength;
        };
    }

    // ------------------------------------------------------------------ the checks

    /**
     * Runs {@code decode} over {@code inputBytes} of input: it returns, or throws {@link BadInputException} with a
     * message; within the time and allocation bounds either way.
     */
    private static <T> T decodeOrRefuse(String what, long inputBytes, Supplier<T> decode) {
        // a first run links whatever the path needs the first time (string concatenation call sites allocate
        // megabytes when they are linked); the measured run is the second, which decodes the same way
        try {
            decode.get();
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
            // judged on the measured run below
        }
        long allocated = THREADS.getCurrentThreadAllocatedBytes();
        long start = System.nanoTime();
        T result = null;
        Throwable thrown = null;
        try {
            result = decode.get();
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
            thrown = e;
        }
        long nanos = System.nanoTime() - start;
        long bytes = THREADS.getCurrentThreadAllocatedBytes() - allocated;
        if (thrown instanceof BadInputException) {
            assertThat(thrown.getMessage()).as(what).isNotBlank();
        } else if (thrown != null) {
            fail(what + ": " + thrown + " is not a BadInputException", thrown);
        }
        assertThat(nanos).as(what + ": took %d ms", nanos / 1_000_000).isLessThan(MAX_NANOS);
        assertThat(bytes).as(what + ": allocated %d bytes for %d bytes of input", bytes, inputBytes)
                .isLessThanOrEqualTo(BYTES_PER_INPUT_BYTE * inputBytes + ALLOCATION_SLACK);
        return result;
    }

    private static String show(byte[] body) {
        String s = new String(body, StandardCharsets.UTF_8);
        return s.length() > 400 ? s.substring(0, 400) + "..." : s;
    }

    // ------------------------------------------------------------------ round trips

    @Property(tries = 400, seed = "20261201")
    void v2RequestsRoundTripExactly(@ForAll long seed) {
        Random r = new Random(seed);
        List<InferInput> inputs = new ArrayList<>();
        sampleInputs(r, inputs);
        boolean binary = r.nextBoolean();
        if (binary) { // binary data carries every bit pattern, NaN payloads included
            inputs.replaceAll(in -> new InferInput(in.name(), "FP32", in.shape(),
                    matrix(r, in.data().rows(), in.data().cols(), false)));
        }
        String id = r.nextBoolean() ? text(r) : null;
        List<String> outputs = r.nextBoolean() ? List.of(text(r)) : List.of();
        boolean binaryOut = r.nextBoolean();
        V2Message msg = V2Codec.encodeRequest(id, inputs, outputs, binary, binaryOut);
        InferenceRequest back = V2Codec.decodeRequest(msg.toByteBuffer(), msg.hasBinary() ? msg.headerLength() : -1);
        assertThat(back.id()).isEqualTo(id);
        assertThat(back.binaryDataOutput()).isEqualTo(binaryOut);
        assertThat(back.outputs()).extracting(RequestedOutput::name).containsExactlyElementsOf(outputs);
        assertThat(back.inputs()).hasSameSizeAs(inputs);
        for (int i = 0; i < inputs.size(); i++) {
            InferInput sent = inputs.get(i);
            InferInput got = back.inputs().get(i);
            assertThat(got.name()).isEqualTo(sent.name());
            assertThat(got.shape()).isEqualTo(sent.shape());
            assertSameBits(got.data().toArray(), sent.data().toArray());
        }
    }

    @Property(tries = 400, seed = "20261202")
    void item22_v2ResponsesOfEveryDatatypeRoundTripExactly(@ForAll long seed) {
        Random r = new Random(seed);
        InferenceResponse sent = sampleResponse(r);
        V2Message msg = V2Codec.encodeResponse(sent);
        InferenceResponse back = V2Codec.decodeResponse(msg.toByteBuffer(), msg.hasBinary() ? msg.headerLength() : -1);
        assertThat(back.modelName()).isEqualTo(sent.modelName());
        assertThat(back.modelVersion()).isEqualTo(sent.modelVersion());
        assertThat(back.id()).isEqualTo(sent.id());
        assertThat(back.outputs()).hasSameSizeAs(sent.outputs());
        for (int i = 0; i < sent.outputs().size(); i++) {
            InferOutput s = sent.outputs().get(i);
            InferOutput g = back.outputs().get(i);
            assertThat(g.name()).isEqualTo(s.name());
            assertThat(g.datatype()).isEqualTo(s.datatype());
            assertThat(g.shape()).isEqualTo(s.shape());
            assertThat(g.binary()).isEqualTo(s.binary());
            if (s.data() instanceof float[] f) {
                assertSameBits((float[]) g.data(), f);
            } else if (s.data() instanceof double[] d) {
                double[] got = (double[]) g.data();
                assertThat(got).hasSameSizeAs(d);
                for (int k = 0; k < d.length; k++) {
                    assertThat(Double.doubleToRawLongBits(got[k])).as("value %d: sent %s, got %s", k, d[k], got[k])
                            .isEqualTo(Double.doubleToRawLongBits(d[k]));
                }
            } else if (s.data() instanceof long[] l) {
                assertThat((long[]) g.data()).containsExactly(l);
            } else if (s.data() instanceof int[] v) {
                assertThat((int[]) g.data()).containsExactly(v);
            } else if (s.data() instanceof boolean[] b) {
                assertThat((boolean[]) g.data()).containsExactly(b);
            } else {
                assertThat((String[]) g.data()).containsExactly((String[]) s.data());
            }
        }
    }

    private static void assertSameBits(float[] got, float[] sent) {
        assertThat(got).hasSameSizeAs(sent);
        for (int k = 0; k < sent.length; k++) {
            assertThat(Float.floatToRawIntBits(got[k])).as("value %d: sent %s, got %s", k, sent[k], got[k])
                    .isEqualTo(Float.floatToRawIntBits(sent[k]));
        }
    }

    @Property(tries = 300, seed = "20261203")
    void seedCodecRoundTripsAndRefusesPartialRows(@ForAll long seed) {
        Random r = new Random(seed);
        int rows = r.nextInt(20);
        int cols = 1 + r.nextInt(30);
        FloatMatrix m = matrix(r, rows, cols, false);
        ByteBuffer body = SeedBinaryCodec.encode(m);
        if (rows > 0) {
            assertSameBits(SeedBinaryCodec.decode(body.duplicate(), cols).toArray(), m.toArray());
        }
        float[] scores = matrix(r, rows, 1, false).toArray();
        assertSameBits(SeedBinaryCodec.decodeScores(SeedBinaryCodec.encode(scores)), scores);
        // any other length: whole rows decode, the rest is refused as bad input
        int length = r.nextInt(4 * cols * 4 + 8);
        ByteBuffer other = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        FloatMatrix decoded = decodeOrRefuse("seed body of " + length + " bytes, " + cols + " features", length,
                () -> SeedBinaryCodec.decode(other, cols));
        assertThat(decoded == null).isEqualTo(length == 0 || length % (4 * cols) != 0);
        float[] answer = decodeOrRefuse("seed answer of " + length + " bytes", length,
                () -> SeedBinaryCodec.decodeScores(other));
        assertThat(answer == null).isEqualTo(length % 4 != 0);
        long huge = Long.MAX_VALUE - r.nextInt(1000);
        decodeOrRefuse("seed body of " + huge + " bytes", 0, () -> SeedBinaryCodec.rows(huge, cols));
    }

    // ------------------------------------------------------------------ fuzz

    @Property(tries = 3000, seed = "20261204")
    void mutatedRequestsDecodeOrAreRefusedAsBadInput(@ForAll long seed) {
        Random r = new Random(seed);
        V2Message msg = sampleRequestMessage(r);
        byte[][] parts = mutateMessage(r, msg);
        byte[] body = body(parts);
        long header = framing(r, msg, parts);
        decodeOrRefuse("request seed " + seed + ", header " + header + ": " + show(body), body.length,
                () -> V2Codec.decodeRequest(ByteBuffer.wrap(body), header));
    }

    @Property(tries = 2000, seed = "20261205")
    void mutatedResponsesDecodeOrAreRefusedAsBadInput(@ForAll long seed) {
        Random r = new Random(seed);
        V2Message msg = V2Codec.encodeResponse(sampleResponse(r));
        byte[][] parts = mutateMessage(r, msg);
        byte[] body = body(parts);
        long header = framing(r, msg, parts);
        decodeOrRefuse("response seed " + seed + ", header " + header + ": " + show(body), body.length,
                () -> V2Codec.decodeResponse(ByteBuffer.wrap(body), header));
    }

    /** Cut anywhere or extended, a binary body is refused: sizes are checked against what is there. */
    @Property(tries = 500, seed = "20261206")
    void truncatedAndOverlongBinaryBodiesAreRefused(@ForAll long seed) {
        Random r = new Random(seed);
        List<InferInput> inputs = new ArrayList<>();
        sampleInputs(r, inputs);
        V2Message msg = V2Codec.encodeRequest(null, inputs, List.of(), true, true);
        byte[] full = msg.toByteBuffer().array();
        int binary = full.length - msg.headerLength();
        int length = r.nextBoolean() ? r.nextInt(full.length) : full.length + 1 + r.nextInt(64);
        byte[] body = Arrays.copyOf(full, length);
        InferenceRequest decoded = decodeOrRefuse("binary body cut to " + length + " of " + full.length, length,
                () -> V2Codec.decodeRequest(ByteBuffer.wrap(body), msg.headerLength()));
        assertThat(decoded).as("a body of %d bytes instead of %d (%d binary) must be refused", length, full.length,
                binary).isNull();
    }

    /** Token soup: random sequences of JSON fragments, and plain random bytes, through every decoder. */
    @Property(tries = 3000, seed = "20261207")
    void randomInputIsDecodedOrRefusedAsBadInput(@ForAll long seed, @ForAll @IntRange(min = 0, max = 60) int tokens) {
        Random r = new Random(seed);
        byte[] body;
        if (r.nextInt(4) == 0) {
            body = new byte[tokens * 3];
            r.nextBytes(body);
        } else {
            StringBuilder sb = new StringBuilder(r.nextBoolean() ? "{\"inputs\":[{" : "");
            for (int i = 0; i < tokens; i++) {
                sb.append(NASTY[r.nextInt(NASTY.length)]);
            }
            body = sb.toString().getBytes(StandardCharsets.UTF_8);
        }
        long header = r.nextInt(3) == 0 ? -1 : r.nextInt(body.length + 2);
        String what = "seed " + seed + ": " + show(body);
        decodeOrRefuse("request " + what, body.length, () -> V2Codec.decodeRequest(ByteBuffer.wrap(body), header));
        decodeOrRefuse("response " + what, body.length, () -> V2Codec.decodeResponse(ByteBuffer.wrap(body), header));
        decodeOrRefuse("load " + what, body.length, () -> V2Codec.decodeLoadRequest(ByteBuffer.wrap(body)));
        decodeOrRefuse("json " + what, body.length, () -> Json.parse(ByteBuffer.wrap(body)));
    }

    /** Shapes that claim far more values than the body holds are refused before anything is sized by them. */
    @Property(tries = 200, seed = "20261208")
    void hugeShapesAreRefusedBeforeAllocating(@ForAll long seed) {
        Random r = new Random(seed);
        long[] claims = {1L << 40, Integer.MAX_VALUE, (1L << 31) + 1, 1L << 30, 100_000_000L, 1L << 53, 1L << 62};
        long claim = claims[r.nextInt(claims.length)];
        String shape = switch (r.nextInt(4)) {
            case 0 -> "[" + claim + "]";
            case 1 -> "[1," + claim + "]";
            case 2 -> "[" + claim + ",1]";
            default -> "[" + claim + "," + claim + "]";
        };
        boolean binary = r.nextBoolean();
        String tensor = "{\"name\":\"x\",\"shape\":" + shape + ",\"datatype\":\"" + (r.nextBoolean() ? "FP32" : "INT32")
                + "\"," + (binary ? "\"parameters\":{\"binary_data_size\":" + (4 * claim) + "}" : "\"data\":[1,2,3]")
                + "}";
        byte[] request = ("{\"inputs\":[" + tensor + "]}").getBytes(StandardCharsets.UTF_8);
        byte[] body = Arrays.copyOf(request, request.length + (binary ? 12 : 0));
        long header = binary ? request.length : -1;
        assertThat((Object) decodeOrRefuse("request with shape " + shape, body.length,
                () -> V2Codec.decodeRequest(ByteBuffer.wrap(body), header))).isNull();
        byte[] response = ("{\"model_name\":\"m\",\"outputs\":[" + tensor + "]}").getBytes(StandardCharsets.UTF_8);
        byte[] rbody = Arrays.copyOf(response, response.length + (binary ? 12 : 0));
        long rheader = binary ? response.length : -1;
        assertThat((Object) decodeOrRefuse("response with shape " + shape, rbody.length,
                () -> V2Codec.decodeResponse(ByteBuffer.wrap(rbody), rheader))).isNull();
    }
}
