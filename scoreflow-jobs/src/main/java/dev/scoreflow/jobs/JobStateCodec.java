package dev.scoreflow.jobs;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;

/**
 * A job's state as the value of a record in the Kafka queue's compacted state topic (keyed by job id), and back:
 * a version byte, the model, the state, receives, then the optional error, result, result type and callback status,
 * and the submission and update times in epoch milliseconds. Decoding refuses what it cannot read with an
 * {@link IllegalArgumentException}.
 */
final class JobStateCodec {
    private static final byte VERSION = 1;

    private JobStateCodec() {
    }

    static byte[] encode(Job j) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(128 + (j.result() == null ? 0 : j.result().length));
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(VERSION);
            out.writeUTF(j.model());
            out.writeUTF(j.state().wireName());
            out.writeInt(j.receives());
            JobRequestCodec.optional(out, j.error() == null ? null : truncate(j.error()));
            out.writeBoolean(j.result() != null);
            if (j.result() != null) {
                out.writeInt(j.result().length);
                out.write(j.result());
            }
            JobRequestCodec.optional(out, j.resultType());
            JobRequestCodec.optional(out, j.callbacks());
            out.writeLong(j.submitted().toEpochMilli());
            out.writeLong(j.updated().toEpochMilli());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    static Job decode(String id, byte[] value) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
            byte v = in.readByte();
            if (v != VERSION) {
                throw new IllegalArgumentException("job state version " + v + " is not " + VERSION);
            }
            String model = in.readUTF();
            JobState state = JobState.ofWire(in.readUTF());
            int receives = in.readInt();
            String error = JobRequestCodec.optional(in);
            byte[] result = null;
            if (in.readBoolean()) {
                int n = in.readInt();
                if (n < 0 || n > in.available()) {
                    throw new IllegalArgumentException("job state result length " + n + " does not fit the record");
                }
                result = in.readNBytes(n);
            }
            String resultType = JobRequestCodec.optional(in);
            String callbacks = JobRequestCodec.optional(in);
            Instant submitted = Instant.ofEpochMilli(in.readLong());
            Instant updated = Instant.ofEpochMilli(in.readLong());
            return new Job(id, model, state, receives, error, result, resultType, submitted, updated, callbacks);
        } catch (IOException e) {
            throw new IllegalArgumentException("job state of " + id + " is truncated (" + value.length + " bytes)", e);
        }
    }

    /** writeUTF takes at most 65,535 bytes: an error message is cut well before. */
    private static String truncate(String s) {
        return s.length() <= 8000 ? s : s.substring(0, 8000) + "...";
    }
}
