package dev.scoreflow.streaming;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.internal.Json;

import java.nio.ByteBuffer;
import java.util.Map;

/** Parses an input record's value into an {@link Event}, or throws the {@link Rejection} that names the problem. */
final class EventParser {
    /** Events larger than this are malformed: a hostile producer must not make one record cost unbounded memory. */
    static final int MAX_EVENT_BYTES = 1 << 20;

    private EventParser() {
    }

    static Event parse(byte[] value, Event.Origin origin) {
        if (value == null) {
            throw new Rejection(Rejection.MALFORMED_JSON, "the record has no value (a tombstone)");
        }
        if (value.length > MAX_EVENT_BYTES) {
            throw new Rejection(Rejection.MALFORMED_JSON, "the event is " + value.length + " bytes, over the "
                    + MAX_EVENT_BYTES + "-byte limit");
        }
        Object parsed;
        try {
            parsed = Json.parse(ByteBuffer.wrap(value));
        } catch (BadInputException e) {
            throw new Rejection(Rejection.MALFORMED_JSON, e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?>)) {
            throw new Rejection(Rejection.MALFORMED_JSON, "the event is " + Json.typeName(parsed)
                    + ", not a JSON object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> fields = (Map<String, Object>) parsed;
        String id = string(fields, "event_id");
        String entity = string(fields, "entity");
        Object ts = fields.get("ts");
        if (ts == null) {
            throw new Rejection(Rejection.MISSING_FIELD, "the event has no 'ts' (event time, epoch milliseconds)");
        }
        if (!(ts instanceof Double d) || d != Math.rint(d) || Math.abs(d) > 1e15) {
            throw new Rejection(Rejection.MISTYPED_FIELD, "'ts' must be epoch milliseconds (an integer), was "
                    + Json.write(ts));
        }
        return new Event(id, entity, d.longValue(), fields, value, origin);
    }

    private static String string(Map<String, Object> fields, String name) {
        Object v = fields.get(name);
        if (v == null) {
            throw new Rejection(Rejection.MISSING_FIELD, "the event has no '" + name + "'");
        }
        if (v instanceof String s) {
            if (s.isEmpty()) {
                throw new Rejection(Rejection.MISSING_FIELD, "'" + name + "' is empty");
            }
            return s;
        }
        throw new Rejection(Rejection.MISTYPED_FIELD, "'" + name + "' must be a string, was " + Json.typeName(v));
    }
}
