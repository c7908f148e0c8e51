package dev.scoreflow.jobs;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A job request as the bytes of one broker message (RabbitMQ, Kafka), and back: a version byte, then the request's
 * fields (strings as modified UTF-8, absent ones flagged, the body length-prefixed). Decoding refuses what it cannot
 * read with an {@link IllegalArgumentException} naming the problem: a message is input from the wire like any other.
 */
public final class JobRequestCodec {
    private static final byte VERSION = 1;
    /** A body larger than this is refused on decode (the servers' own body limit is far below it). */
    static final int MAX_BODY_BYTES = 256 << 20;

    private JobRequestCodec() {
    }

    public static byte[] encode(JobRequest r) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(r.body().length + 256);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(VERSION);
            out.writeUTF(r.model());
            optional(out, r.version());
            out.writeUTF(r.protocol());
            out.writeUTF(r.contentType());
            out.writeLong(r.headerLength());
            optional(out, r.group());
            optional(out, r.idempotencyKey());
            out.writeByte(r.callbacks().size());
            for (String c : r.callbacks()) {
                out.writeUTF(c);
            }
            out.writeInt(r.body().length);
            out.write(r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    public static JobRequest decode(byte[] message) {
        try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(message))) {
            byte v = in.readByte();
            if (v != VERSION) {
                throw new IllegalArgumentException("job message version " + v + " is not " + VERSION);
            }
            String model = in.readUTF();
            String version = optional(in);
            String protocol = in.readUTF();
            String contentType = in.readUTF();
            long headerLength = in.readLong();
            String group = optional(in);
            String key = optional(in);
            int n = in.readUnsignedByte();
            if (n > JobRequest.MAX_CALLBACKS) {
                throw new IllegalArgumentException("job message has " + n + " callbacks, at most "
                        + JobRequest.MAX_CALLBACKS);
            }
            List<String> callbacks = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                callbacks.add(in.readUTF());
            }
            int length = in.readInt();
            if (length < 0 || length > MAX_BODY_BYTES || length > in.available()) {
                throw new IllegalArgumentException("job message body length " + length + " does not fit the "
                        + message.length + "-byte message");
            }
            byte[] body = in.readNBytes(length);
            if (in.available() != 0) {
                throw new IllegalArgumentException("job message has " + in.available() + " bytes after its body");
            }
            return new JobRequest(model, version, protocol, contentType, headerLength, body, group, key, callbacks);
        } catch (IOException e) {
            throw new IllegalArgumentException("job message is truncated (" + message.length + " bytes)", e);
        }
    }

    static void optional(DataOutputStream out, String s) throws IOException {
        out.writeBoolean(s != null);
        if (s != null) {
            out.writeUTF(s);
        }
    }

    static String optional(DataInputStream in) throws IOException {
        return in.readBoolean() ? in.readUTF() : null;
    }
}
