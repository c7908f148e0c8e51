package dev.scoreflow.streaming;

import java.util.Map;

/**
 * One event of the input stream, parsed: {@code event_id} (string), {@code entity} (string: the card, user or
 * sensor the features belong to), {@code ts} (event time, epoch milliseconds) and the raw fields, as JSON values
 * ({@code Double}, {@code String}, {@code Boolean}, ...). {@code raw} keeps the bytes it was parsed from and
 * {@code origin} where they were read, for the repartition topic and for dead letters.
 */
record Event(String eventId, String entity, long ts, Map<String, Object> fields, byte[] raw, Origin origin) {

    /** Where a record was read: its topic, partition, offset and key (bytes, may be null). */
    record Origin(String topic, int partition, long offset, byte[] key) {
    }
}
