package dev.scoreflow.streaming.app;

import dev.scoreflow.api.internal.Log;
import dev.scoreflow.streaming.StreamingException;
import dev.scoreflow.streaming.TransactionGenerator;
import dev.scoreflow.streaming.internal.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/** {@code scoreflow produce}: a synthetic stream of card transactions into a topic (or a file). */
@Command(name = "produce", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Write a realistic synthetic stream of card transactions to a Kafka topic, keyed by card: "
                + "per-card spending habits, merchants and countries, bursts of fraud, optionally a slow drift, "
                + "late and malformed events. Each value is a JSON event: event_id, entity (the card), ts (event "
                + "time, epoch ms), amount, merchant, category, country, merchant_risk, foreign, label (1 = fraud; "
                + "ground truth for training and evaluation, not read by the scorer).", ""})
public final class ProduceCommand implements Runnable {
    @Mixin
    KafkaOptions kafka;

    @Option(names = "--topic", paramLabel = "TOPIC", description = "Topic to write (created with --partitions if "
            + "missing); required unless --to-file.")
    String topic;

    @Option(names = "--count", required = true, paramLabel = "N", description = "Events to write.")
    long count;

    @Option(names = "--rate", defaultValue = "0", paramLabel = "R", description = "Events per second (default: "
            + "as fast as the broker takes them).")
    double rate;

    @Option(names = "--malformed-fraction", defaultValue = "0", paramLabel = "F", description = "Share of malformed "
            + "records: not JSON, a missing or mistyped field, a non-finite amount (default: ${DEFAULT-VALUE}).")
    double malformedFraction;

    @Option(names = "--late-fraction", defaultValue = "0", paramLabel = "F", description = "Share of events whose "
            + "event time lies behind the clock (default: ${DEFAULT-VALUE}).")
    double lateFraction;

    @Option(names = "--max-lateness-ms", defaultValue = "20000", paramLabel = "MS", description = "How far behind "
            + "a late event may be (default: ${DEFAULT-VALUE}).")
    long maxLatenessMs;

    @Option(names = "--drift-after", defaultValue = "0", paramLabel = "N", description = "Start a slow drift after "
            + "N events: amounts, travel abroad and fraud rise over the next N (default: 0, no drift).")
    long driftAfter;

    @Option(names = "--cards", defaultValue = "2000", paramLabel = "N", description = "Cards (entities) "
            + "(default: ${DEFAULT-VALUE}).")
    int cards;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "S", description = "Random seed (default: "
            + "${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--event-rate", paramLabel = "R", description = "Simulated event time: events are R per second "
            + "of event time from --start-time, whatever the real rate (default: event time is the wall clock).")
    Double eventRate;

    @Option(names = "--start-time", paramLabel = "EPOCH_MS", description = "With --event-rate: the first event's "
            + "time (default: now).")
    Long startTime;

    @Option(names = "--partitions", defaultValue = "3", paramLabel = "N", description = "Partitions if the topic is "
            + "created (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--to-file", paramLabel = "FILE", description = "Write JSON lines to this file instead of Kafka.")
    Path toFile;

    @Override
    public void run() {
        if ((topic == null) == (toFile == null)) {
            throw new IllegalArgumentException("give either --topic or --to-file");
        }
        if (count < 0) {
            throw new IllegalArgumentException("--count must be >= 0, was " + count);
        }
        if (rate < 0) {
            throw new IllegalArgumentException("--rate must be >= 0, was " + rate);
        }
        LongSupplier clock;
        if (eventRate != null) {
            if (!(eventRate > 0)) {
                throw new IllegalArgumentException("--event-rate must be > 0, was " + eventRate);
            }
            long start = startTime != null ? startTime : System.currentTimeMillis();
            AtomicLong i = new AtomicLong();
            clock = () -> start + (long) (i.getAndIncrement() * 1000.0 / eventRate);
        } else {
            clock = System::currentTimeMillis;
        }
        TransactionGenerator gen = new TransactionGenerator(seed, cards, clock, malformedFraction, lateFraction,
                maxLatenessMs, driftAfter);
        if (toFile != null) {
            toFile(gen);
        } else {
            toKafka(gen);
        }
    }

    private void toFile(TransactionGenerator gen) {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(toFile), 1 << 16)) {
            for (long i = 0; i < count; i++) {
                out.write(gen.next().value());
                out.write('\n');
            }
        } catch (IOException e) {
            throw new StreamingException("cannot write " + toFile + ": " + e.getMessage(), e);
        }
        Log.info("wrote " + count + " events to " + toFile);
    }

    private void toKafka(TransactionGenerator gen) {
        Properties p = kafka.properties();
        try (Admin admin = Topics.admin(p)) {
            Topics.ensure(admin, topic, partitions, Map.of());
        }
        p.putIfAbsent(ProducerConfig.ACKS_CONFIG, "all");
        p.putIfAbsent(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.putIfAbsent(ProducerConfig.BATCH_SIZE_CONFIG, "65536");
        AtomicReference<Exception> failure = new AtomicReference<>();
        AtomicLong acked = new AtomicLong();
        long malformed = 0;
        long late = 0;
        long started = System.nanoTime();
        long lastReport = started;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            for (long i = 0; i < count && failure.get() == null; i++) {
                if (rate > 0) {
                    long due = started + (long) (i * 1e9 / rate);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        LockSupport.parkNanos(wait);
                    }
                }
                TransactionGenerator.Txn t = gen.next();
                malformed += t.malformed() != null ? 1 : 0;
                late += t.late() ? 1 : 0;
                // the record's timestamp is when it was produced; the event's own time is its ts field
                producer.send(new ProducerRecord<>(topic, null, System.currentTimeMillis(),
                        t.entity().getBytes(StandardCharsets.UTF_8), t.value()), (md, e) -> {
                            if (e != null) {
                                failure.compareAndSet(null, e);
                            } else {
                                acked.incrementAndGet();
                            }
                        });
                long now = System.nanoTime();
                if (now - lastReport >= 1_000_000_000L) {
                    Log.info(String.format("produced %,d / %,d events to %s (%,.0f/s)", i + 1, count, topic,
                            (i + 1) / ((now - started) / 1e9)));
                    lastReport = now;
                }
            }
            producer.flush();
        }
        if (failure.get() != null) {
            throw new StreamingException("writing to " + topic + " failed after " + acked.get() + " events: "
                    + failure.get().getMessage(), failure.get());
        }
        double secs = (System.nanoTime() - started) / 1e9;
        Log.info(String.format("produced %,d events to %s in %.1f s (%,.0f/s; %,d malformed, %,d late)", acked.get(),
                topic, secs, acked.get() / Math.max(secs, 1e-9), malformed, late));
    }
}
