package dev.scoreflow.streaming;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.internal.Json;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The statistics' input when events are scored remotely: reads the output topic (what the remote stage wrote) and
 * adds each on-time scored event to its task's {@link WindowParts}, as the in-process scorer does directly. The
 * remote stage delivers at least once, so after a crash of it a re-sent output is counted again.
 */
final class ScoredStatsProcessor implements Processor<byte[], byte[], Object, Object> {
    private static final Logger LOG = LoggerFactory.getLogger(ScoredStatsProcessor.class);

    private final ScoringTopology.Settings settings;
    private WindowParts parts;
    private long streamTime = Long.MIN_VALUE;

    ScoredStatsProcessor(ScoringTopology.Settings settings) {
        this.settings = settings;
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        parts = new WindowParts(settings, context);
        context.schedule(Duration.ofSeconds(1), PunctuationType.WALL_CLOCK_TIME,
                now -> parts.flush(Long.MAX_VALUE, streamTime));
    }

    @Override
    public void process(Record<byte[], byte[]> r) {
        Map<String, Object> out;
        try {
            out = Json.parseObject(ByteBuffer.wrap(r.value()), "output");
        } catch (BadInputException e) {
            LOG.warn("an output record that is not a scored event: {}", e.getMessage());
            return;
        }
        if (Boolean.TRUE.equals(out.get("late"))) {
            return;
        }
        long ts = ((Double) out.get("ts")).longValue();
        float score = ((Double) out.get("score")).floatValue();
        boolean positive = ((Double) out.get("prediction")) == 1.0;
        @SuppressWarnings("unchecked")
        Map<String, Object> f = (Map<String, Object>) out.get("features");
        List<String> names = settings.spec().names();
        float[] x = new float[names.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = ((Double) f.get(names.get(i))).floatValue();
        }
        streamTime = Math.max(streamTime, ts);
        parts.add(ts, score, positive, x, streamTime);
        parts.persist();
    }
}
