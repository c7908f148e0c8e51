package dev.scoreflow.streaming;

import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.Record;

import java.nio.charset.StandardCharsets;

/**
 * The dead-letter record: the original key and value bytes, unchanged, with headers that say why and where from
 * (the convention of Kafka Connect's and Kafka Streams' own dead-letter queues), so a fixed record can be replayed
 * as it was.
 */
final class DeadLetters {
    static final String REASON = "scoreflow.dlq.reason";
    static final String DETAIL = "scoreflow.dlq.detail";
    static final String TOPIC = "scoreflow.dlq.topic";
    static final String PARTITION = "scoreflow.dlq.partition";
    static final String OFFSET = "scoreflow.dlq.offset";
    static final String TIME = "scoreflow.dlq.time";
    /** Details are cut to this: a hostile record must not make its dead letter unbounded. */
    static final int MAX_DETAIL_CHARS = 1000;

    private DeadLetters() {
    }

    static Record<Object, Object> of(Rejection r, Event.Origin origin, byte[] value, long recordTs, long now) {
        return new Record<>(origin.key(), value, recordTs, headers(r, origin, now));
    }

    /** The headers of a dead letter: why, from where, when. */
    static Headers headers(Rejection r, Event.Origin origin, long now) {
        Headers h = new RecordHeaders();
        String detail = r.getMessage().length() > MAX_DETAIL_CHARS
                ? r.getMessage().substring(0, MAX_DETAIL_CHARS) + "..." : r.getMessage();
        h.add(REASON, utf8(r.reason()));
        h.add(DETAIL, utf8(detail));
        h.add(TOPIC, utf8(origin.topic()));
        h.add(PARTITION, utf8(Integer.toString(origin.partition())));
        h.add(OFFSET, utf8(Long.toString(origin.offset())));
        h.add(TIME, utf8(Long.toString(now)));
        return h;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
