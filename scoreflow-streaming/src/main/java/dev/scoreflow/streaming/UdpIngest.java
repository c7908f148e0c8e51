package dev.scoreflow.streaming;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.internal.Json;
import dev.scoreflow.api.internal.Metrics;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The one-way pattern: a UDP listener that writes each datagram (one JSON event) to a topic, keyed by its
 * {@code entity}, with the datagram's bytes as the value. The sender waits for nothing and hears nothing back.
 *
 * <p>One daemon thread reads the socket (asking the kernel for a receive buffer of {@link #RECEIVE_BUFFER} bytes) into one
 * reused buffer. A datagram that is not UTF-8 JSON, not an object with a string {@code entity}, or longer than the
 * maximum is refused and counted by reason; the reasons are logged at most once per kind every ten seconds. UDP has
 * no back-pressure, so the loop never waits for Kafka: a datagram is dropped and counted when the bytes already
 * handed to the producer and not yet acknowledged reach the in-flight bound, or when the producer fails it (at
 * once while it has no metadata for the topic, e.g. the cluster is away: {@code max.block.ms} is 0). What
 * the kernel drops before we read it (a full receive buffer) is only visible as the kernel's count for the socket
 * ({@code scoreflow_udp_kernel_drops}, from {@code /proc/net/udp} on Linux). Once started, every datagram read is
 * exactly one of written, refused or dropped (or still in flight).
 *
 * <p>{@link #close} stops the thread, then waits (bounded) for the producer to deliver what it holds; what it
 * cannot deliver in time is counted as dropped. Thread-safe.
 */
final class UdpIngest implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UdpIngest.class);
    /** The largest datagram accepted by default: 64 KiB, more than any UDP datagram can carry over IPv4/IPv6. */
    static final int MAX_DATAGRAM = 64 * 1024;
    /** SO_RCVBUF asked for (the kernel may cap it, e.g. at net.core.rmem_max): bursts it can hold unread. */
    static final int RECEIVE_BUFFER = 4 * 1024 * 1024;
    /** Bytes handed to the producer and not yet acknowledged, at most, by default (below its buffer.memory). */
    static final int MAX_IN_FLIGHT_BYTES = 16 * 1024 * 1024;
    private static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final String topic;
    private final int maxDatagram;
    private final int maxInFlightBytes;
    private final DatagramChannel channel;
    private final InetSocketAddress address;
    private final KafkaProducer<String, byte[]> producer;
    private final Semaphore inFlightBytes;
    private final Thread reader;
    private final Metrics.Counter received;
    private final Metrics.Counter refused;
    /** {@link #refused}'s child per reason. */
    private final Map<String, CounterDataPoint> refusedBy;
    private final Metrics.Counter dropped;
    private final Metrics.Counter written;
    private final Map<String, AtomicLong[]> logged = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile boolean closed;

    /** Listens on {@code host:port} (0: a free port) and writes to {@code topic} with the default limits. */
    UdpIngest(Properties client, String topic, String host, int port, StreamMetrics metrics) {
        this(client, topic, host, port, metrics, MAX_DATAGRAM, MAX_IN_FLIGHT_BYTES);
    }

    /**
     * As above, with datagrams longer than {@code maxDatagram} bytes refused and at most {@code maxInFlightBytes}
     * bytes waiting for Kafka's acknowledgement. Binds the socket and connects the producer (waiting up to 30 s
     * for the topic's metadata, so the first datagrams are not dropped for want of it); reading starts with
     * {@link #start}.
     *
     * @throws StreamingException if the port cannot be bound or the topic is not found
     */
    UdpIngest(Properties client, String topic, String host, int port, StreamMetrics metrics, int maxDatagram,
              int maxInFlightBytes) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("UDP port must be in [0, 65535], was " + port);
        }
        if (maxDatagram < 1 || maxDatagram > MAX_DATAGRAM) {
            throw new IllegalArgumentException("max datagram must be in [1, " + MAX_DATAGRAM + "], was "
                    + maxDatagram);
        }
        if (maxInFlightBytes < maxDatagram) {
            throw new IllegalArgumentException("max in-flight bytes must be >= the max datagram (" + maxDatagram
                    + "), was " + maxInFlightBytes);
        }
        this.topic = topic;
        this.maxDatagram = maxDatagram;
        this.maxInFlightBytes = maxInFlightBytes;
        this.inFlightBytes = new Semaphore(maxInFlightBytes);
        Metrics r = metrics.registry;
        received = r.counter("scoreflow_udp_datagrams_received_total",
                "UDP datagrams read from the socket (written + refused + dropped, once in-flight ones are settled)");
        refused = r.counter("scoreflow_udp_datagrams_refused_total",
                "UDP datagrams refused, by reason: not_json (not UTF-8 JSON), no_entity (not an object with a "
                        + "string entity), too_large", "reason");
        dropped = r.counter("scoreflow_udp_datagrams_dropped_total",
                "valid UDP datagrams dropped: the producer was full (Kafka slower than the senders) or failed them");
        written = r.counter("scoreflow_udp_events_written_total",
                "events from UDP datagrams written to the input topic and acknowledged by Kafka");
        // on /metrics from the start, at 0 (the counters without labels are)
        refusedBy = Map.of("not_json", refused.labels("not_json"), "no_entity", refused.labels("no_entity"),
                "too_large", refused.labels("too_large"));
        DatagramChannel c = null;
        try {
            c = DatagramChannel.open();
            c.setOption(StandardSocketOptions.SO_RCVBUF, RECEIVE_BUFFER);
            c.bind(new InetSocketAddress(host, port));
            address = (InetSocketAddress) c.getLocalAddress();
        } catch (IOException e) {
            if (c != null) {
                closeQuietly(c);
            }
            throw new StreamingException("cannot listen for UDP on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        channel = c;
        Properties p = new Properties();
        p.putAll(client);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "5");
        // never wait in send: the in-flight bound keeps the producer's buffer from filling, and while the topic's
        // metadata is missing (the cluster away) a send fails at once and the datagram is dropped; waiting even a
        // few ms per datagram would let the socket's buffer overflow instead
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "0");
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(Math.max(32L << 20, 2L * maxInFlightBytes)));
        try {
            producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
        try {
            awaitMetadata(Duration.ofSeconds(30));
        } catch (RuntimeException e) {
            producer.close(Duration.ZERO);
            closeQuietly(channel);
            throw e;
        }
        r.gauge("scoreflow_udp_kernel_drops", "datagrams the kernel dropped for the UDP socket before they were "
                + "read (its receive buffer was full), as /proc/net/udp counts them (Linux only)", () -> {
                    long drops = kernelDrops(port());
                    return drops >= 0 ? drops : Double.NaN;
                });
        reader = new Thread(this::readLoop, "udp-ingest-" + port());
        reader.setDaemon(true);
    }

    private void awaitMetadata(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                producer.partitionsFor(topic); // asks for the metadata, fails at once until it is there
                return;
            } catch (org.apache.kafka.common.errors.TimeoutException e) {
                if (System.nanoTime() > deadline) {
                    throw new StreamingException("no metadata for topic " + topic + " within " + timeout.toSeconds()
                            + " s: is it there, is the cluster reachable?", e);
                }
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
            }
        }
    }

    /** Starts reading datagrams. */
    void start() {
        reader.start();
        LOG.info("one-way: UDP datagrams on {} to topic {}", address, topic);
    }

    /** The bound port. */
    int port() {
        return address.getPort();
    }

    private void readLoop() {
        // one more byte than accepted: a datagram that fills it was longer (the kernel cut the rest off)
        ByteBuffer buf = ByteBuffer.allocateDirect(maxDatagram + 1);
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        CharBuffer chars = CharBuffer.allocate(maxDatagram + 1);
        while (!closed) {
            buf.clear();
            try {
                channel.receive(buf);
            } catch (ClosedChannelException e) {
                return; // closed: the way this loop ends
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                logLimited("io", "UDP receive failed: " + e);
                continue;
            }
            buf.flip();
            received.inc(1);
            handle(buf, utf8, chars);
        }
    }

    private void handle(ByteBuffer datagram, CharsetDecoder utf8, CharBuffer chars) {
        int length = datagram.remaining();
        if (length > maxDatagram) {
            refuse("too_large", "a datagram longer than " + maxDatagram + " bytes");
            return;
        }
        // Json decodes strings leniently (bad bytes become U+FFFD); an event must be real UTF-8
        utf8.reset();
        chars.clear();
        if (utf8.decode(datagram.duplicate(), chars, true).isError()) {
            refuse("not_json", "a datagram that is not UTF-8");
            return;
        }
        Object event;
        try {
            event = Json.parse(datagram);
        } catch (BadInputException e) {
            refuse("not_json", e.getMessage());
            return;
        }
        if (!(event instanceof Map<?, ?> object)) {
            refuse("no_entity", "JSON that is not an object: " + Json.typeName(event));
            return;
        }
        if (!(object.get("entity") instanceof String entity)) {
            refuse("no_entity", "an event without a string entity");
            return;
        }
        if (!inFlightBytes.tryAcquire(length)) {
            dropped.inc(1);
            logLimited("full", "dropping UDP events: Kafka is not acknowledging as fast as they arrive ("
                    + (maxInFlightBytes - inFlightBytes.availablePermits()) + " bytes waiting)");
            return;
        }
        byte[] value = new byte[length];
        datagram.get(value);
        try {
            producer.send(new ProducerRecord<>(topic, entity, value), (md, failure) -> {
                inFlightBytes.release(length);
                if (failure == null) {
                    written.inc(1);
                } else {
                    dropped.inc(1);
                    logLimited("failed", "dropping UDP events: Kafka did not take them: " + failure);
                }
            });
        } catch (RuntimeException e) {
            // the callback does not run when send itself throws (no metadata within max.block.ms, closed)
            inFlightBytes.release(length);
            dropped.inc(1);
            logLimited("failed", "dropping UDP events: the producer refused them: " + e);
        }
    }

    private void refuse(String reason, String why) {
        refusedBy.get(reason).inc();
        logLimited(reason, "refused a UDP datagram (" + reason + "): " + why);
    }

    /** Logs at most one line per kind every ten seconds, with how many were left out since. */
    private void logLimited(String kind, String message) {
        AtomicLong[] k = logged.computeIfAbsent(kind, x -> new AtomicLong[]{new AtomicLong(), new AtomicLong()});
        long now = System.nanoTime();
        long last = k[0].get();
        if (last != 0 && now - last < LOG_INTERVAL_NANOS || !k[0].compareAndSet(last, now)) {
            k[1].incrementAndGet();
            return;
        }
        long left = k[1].getAndSet(0);
        LOG.warn(left == 0 ? message : message + " (and " + left + " more like this since)");
    }

    /**
     * The kernel's count of datagrams dropped for the UDP sockets on local {@code port} (the {@code drops} column
     * of /proc/net/udp and udp6), or -1 where there is no such file.
     */
    static long kernelDrops(int port) {
        String hexPort = String.format(":%04X", port);
        long total = -1;
        for (String file : new String[]{"/proc/net/udp", "/proc/net/udp6"}) {
            Path path = Path.of(file);
            if (!Files.isReadable(path)) {
                continue;
            }
            try {
                for (String line : Files.readAllLines(path)) {
                    String[] f = line.trim().split("\\s+");
                    // sl local_address rem_address st ... drops (the last column)
                    if (f.length > 2 && f[1].endsWith(hexPort) && !f[0].equals("sl")) {
                        total = Math.max(total, 0) + Long.parseLong(f[f.length - 1]);
                    }
                }
                total = Math.max(total, 0);
            } catch (IOException | NumberFormatException e) {
                LOG.debug("cannot read {}: {}", file, e.toString());
            }
        }
        return total;
    }

    /** Stops reading, then waits up to {@code timeout} for the producer to deliver what it holds. */
    void close(Duration timeout) {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(channel); // wakes the reader from receive
        try {
            reader.join(Math.max(1, timeout.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // unsent records fail (their callbacks count them as dropped) when the timeout is over
        producer.close(timeout);
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(10));
    }

    private static void closeQuietly(DatagramChannel c) {
        try {
            c.close();
        } catch (IOException e) {
            LOG.debug("closing the UDP socket: {}", e.toString());
        }
    }
}
