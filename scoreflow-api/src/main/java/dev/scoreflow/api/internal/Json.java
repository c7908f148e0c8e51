package dev.scoreflow.api.internal;

import dev.scoreflow.api.BadInputException;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader and writer, so that the api module needs nothing beyond the JDK.
 *
 * <p>{@link #parse} gives {@code Map<String,Object>} (insertion-ordered), {@code List<Object>}, {@code String},
 * {@code Double}, {@code Boolean} or {@code null}. Malformed input raises {@link BadInputException} naming the byte
 * offset and what was expected. Nesting is limited to {@value #MAX_DEPTH} levels so a hostile body cannot exhaust
 * the stack. Not part of the API: used by the codecs and the model configuration.
 */
public final class Json {
    static final int MAX_DEPTH = 64;

    private final ByteBuffer in;
    private final int start;

    private Json(ByteBuffer in) {
        this.in = in;
        this.start = in.position();
    }

    /** Parses one JSON value that fills the remaining bytes of {@code utf8} (UTF-8). */
    public static Object parse(ByteBuffer utf8) {
        Json p = new Json(utf8.duplicate());
        p.skipSpace();
        Object v = p.value(0);
        p.skipSpace();
        if (p.in.hasRemaining()) {
            throw p.error("unexpected data after the JSON value");
        }
        return v;
    }

    /**
     * Parses the one JSON value at the start of {@code utf8} and moves its position past the value and any white
     * space after it; whatever follows is left unread. Lets a caller that finds bytes after the JSON say what they
     * are (binary tensors sent without their length header) instead of only "malformed JSON".
     */
    public static Object parsePrefix(ByteBuffer utf8) {
        Json p = new Json(utf8.duplicate());
        p.skipSpace();
        Object v = p.value(0);
        p.skipSpace();
        utf8.position(p.in.position());
        return v;
    }

    /** Parses one JSON value from a string. */
    public static Object parse(String text) {
        return parse(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
    }

    /** Parses a JSON object; anything else is a {@link BadInputException} that mentions {@code what}. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(ByteBuffer utf8, String what) {
        Object v = parse(utf8);
        if (!(v instanceof Map)) {
            throw new BadInputException(what + " must be a JSON object, got " + typeName(v));
        }
        return (Map<String, Object>) v;
    }

    /** A name for the JSON type of a parsed value, for error messages. */
    public static String typeName(Object v) {
        if (v == null) {
            return "null";
        } else if (v instanceof Map) {
            return "an object";
        } else if (v instanceof List) {
            return "an array";
        } else if (v instanceof String) {
            return "a string";
        } else if (v instanceof Double) {
            return "a number";
        } else {
            return "a boolean";
        }
    }

    private Object value(int depth) {
        if (depth > MAX_DEPTH) {
            throw error("nesting deeper than " + MAX_DEPTH + " levels");
        }
        if (!in.hasRemaining()) {
            throw error("unexpected end of input, expected a value");
        }
        byte b = in.get(in.position());
        switch (b) {
            case '{':
                return object(depth);
            case '[':
                return array(depth);
            case '"':
                return string();
            case 't':
                literal("true");
                return Boolean.TRUE;
            case 'f':
                literal("false");
                return Boolean.FALSE;
            case 'n':
                literal("null");
                return null;
            default:
                if (b == '-' || (b >= '0' && b <= '9')) {
                    return number();
                }
                throw error("unexpected character '" + (char) b + "', expected a value");
        }
    }

    private Map<String, Object> object(int depth) {
        in.get(); // {
        Map<String, Object> m = new LinkedHashMap<>();
        skipSpace();
        if (peek() == '}') {
            in.get();
            return m;
        }
        while (true) {
            skipSpace();
            if (peek() != '"') {
                throw error("expected a string key");
            }
            String key = string();
            skipSpace();
            expect(':');
            skipSpace();
            m.put(key, value(depth + 1));
            skipSpace();
            byte b = next("',' or '}'");
            if (b == '}') {
                return m;
            }
            if (b != ',') {
                throw error(-1, "expected ',' or '}'");
            }
        }
    }

    private List<Object> array(int depth) {
        in.get(); // [
        List<Object> l = new ArrayList<>();
        skipSpace();
        if (peek() == ']') {
            in.get();
            return l;
        }
        while (true) {
            skipSpace();
            l.add(value(depth + 1));
            skipSpace();
            byte b = next("',' or ']'");
            if (b == ']') {
                return l;
            }
            if (b != ',') {
                throw error(-1, "expected ',' or ']'");
            }
        }
    }

    private String string() {
        in.get(); // "
        StringBuilder sb = null;
        int from = in.position();
        while (true) {
            if (!in.hasRemaining()) {
                throw error("unterminated string");
            }
            byte b = in.get();
            if (b == '"') {
                String tail = utf8(from, in.position() - 1);
                return sb == null ? tail : sb.append(tail).toString();
            }
            if (b == '\\') {
                if (sb == null) {
                    sb = new StringBuilder();
                }
                sb.append(utf8(from, in.position() - 1));
                byte e = next("an escape character");
                switch (e) {
                    case '"', '\\', '/' -> sb.append((char) e);
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'n' -> sb.append('\n');
                    case 'r' -> sb.append('\r');
                    case 't' -> sb.append('\t');
                    case 'u' -> {
                        if (in.remaining() < 4) {
                            throw error("truncated \\u escape");
                        }
                        String hex = utf8(in.position(), in.position() + 4);
                        if (!hex.matches("[0-9a-fA-F]{4}")) {
                            throw error("bad \\u escape '" + hex + "'");
                        }
                        in.position(in.position() + 4);
                        sb.append((char) Integer.parseInt(hex, 16));
                    }
                    default -> throw error(-1, "bad escape '\\" + (char) e + "'");
                }
                from = in.position();
            } else if ((b & 0xff) < 0x20) {
                throw error(-1, "control character in string");
            }
        }
    }

    private Double number() {
        int from = in.position();
        while (in.hasRemaining()) {
            byte b = in.get(in.position());
            if ((b >= '0' && b <= '9') || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E') {
                in.get();
            } else {
                break;
            }
        }
        String s = utf8(from, in.position());
        try {
            if (s.startsWith("+") || s.endsWith(".") || s.contains(".e") || s.contains(".E")) {
                throw new NumberFormatException();
            }
            return Double.valueOf(s);
        } catch (NumberFormatException e) {
            throw error(from - in.position(), "malformed number '" + s + "'");
        }
    }

    private void literal(String word) {
        for (int i = 0; i < word.length(); i++) {
            if (!in.hasRemaining() || in.get() != word.charAt(i)) {
                throw error("expected '" + word + "'");
            }
        }
    }

    private void skipSpace() {
        while (in.hasRemaining()) {
            byte b = in.get(in.position());
            if (b == ' ' || b == '\n' || b == '\r' || b == '\t') {
                in.get();
            } else {
                return;
            }
        }
    }

    private byte peek() {
        if (!in.hasRemaining()) {
            throw error("unexpected end of input");
        }
        return in.get(in.position());
    }

    private byte next(String expected) {
        if (!in.hasRemaining()) {
            throw error("unexpected end of input, expected " + expected);
        }
        return in.get();
    }

    private void expect(char c) {
        if (next("'" + c + "'") != c) {
            throw error(-1, "expected '" + c + "'");
        }
    }

    private String utf8(int from, int to) {
        byte[] b = new byte[to - from];
        in.duplicate().position(from).get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private BadInputException error(String what) {
        return error(0, what);
    }

    private BadInputException error(int delta, String what) {
        return new BadInputException("malformed JSON at byte " + (in.position() + delta - start) + ": " + what);
    }

    // ---------------------------------------------------------------- writing

    /**
     * Appends {@code v} (Map, Collection, CharSequence, Number, Boolean, null, or an array of float, double, long,
     * int, boolean or String) as JSON.
     */
    public static StringBuilder write(StringBuilder out, Object v) {
        if (v == null) {
            out.append("null");
        } else if (v instanceof CharSequence s) {
            quote(out, s);
        } else if (v instanceof Float f) {
            number(out, f);
        } else if (v instanceof Double d) {
            number(out, d);
        } else if (v instanceof Number || v instanceof Boolean) {
            out.append(v);
        } else if (v instanceof Map<?, ?> m) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                quote(out, String.valueOf(e.getKey()));
                out.append(':');
                write(out, e.getValue());
            }
            out.append('}');
        } else if (v instanceof Collection<?> c) {
            out.append('[');
            boolean first = true;
            for (Object o : c) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                write(out, o);
            }
            out.append(']');
        } else if (v instanceof float[] fs) {
            out.append('[');
            for (int i = 0; i < fs.length; i++) {
                if (i > 0) {
                    out.append(',');
                }
                number(out, fs[i]);
            }
            out.append(']');
        } else if (v instanceof double[] ds) {
            out.append('[');
            for (int i = 0; i < ds.length; i++) {
                if (i > 0) {
                    out.append(',');
                }
                // shortest repr that reads back as the same double (-0.0 stays negative); null if not finite
                out.append(Double.isFinite(ds[i]) ? Double.toString(ds[i]) : "null");
            }
            out.append(']');
        } else if (v instanceof long[] ls) {
            out.append('[');
            for (int i = 0; i < ls.length; i++) {
                out.append(i > 0 ? "," : "").append(ls[i]);
            }
            out.append(']');
        } else if (v instanceof int[] is) {
            out.append('[');
            for (int i = 0; i < is.length; i++) {
                out.append(i > 0 ? "," : "").append(is[i]);
            }
            out.append(']');
        } else if (v instanceof boolean[] bs) {
            out.append('[');
            for (int i = 0; i < bs.length; i++) {
                out.append(i > 0 ? "," : "").append(bs[i]);
            }
            out.append(']');
        } else if (v instanceof String[] ss) {
            out.append('[');
            for (int i = 0; i < ss.length; i++) {
                if (i > 0) {
                    out.append(',');
                }
                quote(out, ss[i]);
            }
            out.append(']');
        } else {
            throw new IllegalArgumentException("cannot write " + v.getClass().getName() + " as JSON");
        }
        return out;
    }

    /** {@code v} as a JSON string. */
    public static String write(Object v) {
        return write(new StringBuilder(), v).toString();
    }

    private static void number(StringBuilder out, double d) {
        // JSON has no NaN or infinity; null is what most readers (and Python's json) accept back
        if (!Double.isFinite(d)) {
            out.append("null");
        } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
            out.append((long) d);
        } else {
            out.append(d);
        }
    }

    private static void number(StringBuilder out, float f) {
        if (!Float.isFinite(f)) {
            out.append("null");
        } else {
            out.append(f); // shortest repr that reads back as the same float32
        }
    }

    private static void quote(StringBuilder out, CharSequence s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    boolean pairedSurrogate = Character.isHighSurrogate(c) ? i + 1 < s.length()
                            && Character.isLowSurrogate(s.charAt(i + 1))
                            : Character.isLowSurrogate(c) && i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
                    if (c < 0x20 || Character.isSurrogate(c) && !pairedSurrogate) {
                        // a lone surrogate has no UTF-8 form: escaped, it reads back as the same char
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
