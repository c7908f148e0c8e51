package dev.scoreflow.streaming;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * An event with its feature vector, on its way from the features stage to remote scoring (the internal features
 * topic of {@code stream --endpoint}): what the scorer needs to score it, to write its output, and to dead-letter
 * it with its original bytes and origin if the servers refuse it.
 */
record EnrichedEvent(String eventId, String entity, long ts, boolean late, float[] vector, byte[] raw,
                     Event.Origin origin) {
    private static final byte FORMAT = 1;

    byte[] toBytes() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(96 + 4 * vector.length + raw.length);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(FORMAT);
            out.writeUTF(eventId);
            out.writeUTF(entity);
            out.writeLong(ts);
            out.writeBoolean(late);
            out.writeInt(vector.length);
            for (float f : vector) {
                out.writeFloat(f);
            }
            out.writeInt(raw.length);
            out.write(raw);
            out.writeUTF(origin.topic());
            out.writeInt(origin.partition());
            out.writeLong(origin.offset());
            out.writeInt(origin.key() == null ? -1 : origin.key().length);
            if (origin.key() != null) {
                out.write(origin.key());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static EnrichedEvent fromBytes(byte[] b) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(b))) {
            if (in.readByte() != FORMAT) {
                throw new IllegalArgumentException("not an enriched event (unknown format)");
            }
            String id = in.readUTF();
            String entity = in.readUTF();
            long ts = in.readLong();
            boolean late = in.readBoolean();
            float[] v = new float[in.readInt()];
            for (int i = 0; i < v.length; i++) {
                v[i] = in.readFloat();
            }
            byte[] raw = in.readNBytes(in.readInt());
            String topic = in.readUTF();
            int partition = in.readInt();
            long offset = in.readLong();
            int keyLength = in.readInt();
            byte[] key = keyLength < 0 ? null : in.readNBytes(keyLength);
            return new EnrichedEvent(id, entity, ts, late, v, raw, new Event.Origin(topic, partition, offset, key));
        } catch (IOException e) {
            throw new UncheckedIOException("a corrupt record on the features topic", e);
        }
    }
}
