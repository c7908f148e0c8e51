package dev.scoreflow.streaming;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

import java.nio.charset.StandardCharsets;
import java.util.function.LongSupplier;

/**
 * The first step of every input record: parse it into an {@link Event} keyed by its entity, or dead-letter it.
 *
 * <p>Three roles. {@link Role#DIRECT}: the input is keyed by entity, so the event goes straight to scoring in the
 * same task. {@link Role#REPARTITION}: the input may be keyed otherwise; the event's bytes go to the by-entity topic,
 * keyed by entity, with where they came from in headers. {@link Role#AFTER_REPARTITION}: reads those back, with the
 * original topic, partition and offset from the headers (the record itself is not counted again).
 */
final class ParseProcessor implements Processor<byte[], byte[], Object, Object> {
    static final String ORIGIN_TOPIC = "scoreflow.origin.topic";
    static final String ORIGIN_PARTITION = "scoreflow.origin.partition";
    static final String ORIGIN_OFFSET = "scoreflow.origin.offset";

    enum Role { DIRECT, REPARTITION, AFTER_REPARTITION }

    private final Role role;
    private final StreamMetrics metrics;
    private final LongSupplier clock;
    private ProcessorContext<Object, Object> ctx;

    ParseProcessor(Role role, StreamMetrics metrics, LongSupplier clock) {
        this.role = role;
        this.metrics = metrics;
        this.clock = clock;
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        this.ctx = context;
    }

    @Override
    public void process(Record<byte[], byte[]> r) {
        Event.Origin origin = role == Role.AFTER_REPARTITION ? fromHeaders(r.headers(), r.key()) : origin(r.key());
        if (role != Role.AFTER_REPARTITION) {
            metrics.eventsIn.inc(1);
        }
        Event e;
        try {
            e = EventParser.parse(r.value(), origin);
        } catch (Rejection rejection) {
            metrics.deadLettered.inc(1, rejection.reason());
            ctx.forward(DeadLetters.of(rejection, origin, r.value(), r.timestamp(), clock.getAsLong()),
                    ScoringTopology.DEAD_LETTERS);
            return;
        }
        if (role == Role.REPARTITION) {
            Record<Object, Object> out = new Record<>(e.entity(), r.value(), r.timestamp());
            out.headers().add(ORIGIN_TOPIC, utf8(origin.topic()));
            out.headers().add(ORIGIN_PARTITION, utf8(Integer.toString(origin.partition())));
            out.headers().add(ORIGIN_OFFSET, utf8(Long.toString(origin.offset())));
            ctx.forward(out, ScoringTopology.TO_BY_ENTITY);
        } else {
            ctx.forward(new Record<Object, Object>(e.entity(), e, r.timestamp()), ScoringTopology.SCORE);
        }
    }

    private Event.Origin origin(byte[] key) {
        RecordMetadata md = ctx.recordMetadata().orElseThrow();
        return new Event.Origin(md.topic(), md.partition(), md.offset(), key);
    }

    private Event.Origin fromHeaders(Headers h, byte[] key) {
        Header t = h.lastHeader(ORIGIN_TOPIC);
        Header p = h.lastHeader(ORIGIN_PARTITION);
        Header o = h.lastHeader(ORIGIN_OFFSET);
        if (t == null || p == null || o == null) {
            return origin(key);
        }
        return new Event.Origin(new String(t.value(), StandardCharsets.UTF_8),
                Integer.parseInt(new String(p.value(), StandardCharsets.UTF_8)),
                Long.parseLong(new String(o.value(), StandardCharsets.UTF_8)), key);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
