package dev.scoreflow.cli;

import dev.scoreflow.api.internal.Log;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobQueues;
import dev.scoreflow.streaming.EmbeddedBroker;

import java.nio.file.Path;
import java.util.Map;
import java.util.StringJoiner;

/**
 * The {@code embedded} job queue, the default on a fresh machine: a single-node Kafka broker started inside the
 * serving process ({@link EmbeddedBroker}: KRaft, from the Maven-resolved Kafka jars, nothing installed by hand) and a
 * {@code kafka://} queue on it. {@code embedded[?port=19092&dir=DIR&queue=...&visibility=...]}: the broker listens on
 * 127.0.0.1:{@value #DEFAULT_PORT} (0: a free port) with its data in {@code DIR} (default
 * {@code ${java.io.tmpdir}/scoreflow-jobs-kafka}; a restart on it keeps the queued jobs); the other parameters are the
 * {@code kafka://} URL's. The log and standard output say the {@code kafka://} URL that {@code scoreflow worker
 * --queue} must use.
 */
final class EmbeddedQueue implements AutoCloseable {
    static final int DEFAULT_PORT = 19092;
    /** Consumer sessions (the visibility timeout) as short as a second are allowed on the embedded broker. */
    private static final Map<String, String> BROKER = Map.of("group.min.session.timeout.ms", "1000");

    private final EmbeddedBroker broker;
    final String kafkaUrl;
    final JobQueue queue;

    private EmbeddedQueue(EmbeddedBroker broker, String kafkaUrl, JobQueue queue) {
        this.broker = broker;
        this.kafkaUrl = kafkaUrl;
        this.queue = queue;
    }

    static boolean is(String url) {
        return url.equals("embedded") || url.startsWith("embedded?");
    }

    static EmbeddedQueue start(String url) {
        int port = DEFAULT_PORT;
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "scoreflow-jobs-kafka");
        StringJoiner rest = new StringJoiner("&", "?", "").setEmptyValue("");
        int q = url.indexOf('?');
        if (q >= 0) {
            for (String pair : url.substring(q + 1).split("&")) {
                if (pair.startsWith("port=")) {
                    try {
                        port = Integer.parseInt(pair.substring(5));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("embedded queue port must be a number, got '" + pair + "'");
                    }
                } else if (pair.startsWith("dir=")) {
                    dir = Path.of(java.net.URLDecoder.decode(pair.substring(4), java.nio.charset.StandardCharsets.UTF_8));
                } else {
                    rest.add(pair);
                }
            }
        }
        if (EmbeddedQueue.class.getClassLoader().getResource("kafka/server/KafkaRaftServer.class") == null) {
            throw new NotInDistributionException("the embedded job queue runs a Kafka broker inside this process, "
                    + "and this distribution has no Kafka broker (the container image leaves it and Scala out): give "
                    + "--jobs the postgresql://, amqp:// or kafka:// URL of a running queue");
        }
        EmbeddedBroker broker = EmbeddedBroker.start(dir, "127.0.0.1", port, BROKER);
        String kafkaUrl = "kafka://" + broker.bootstrapServers() + rest;
        try {
            JobQueue queue = JobQueues.open(kafkaUrl);
            Log.info("embedded job queue: Kafka broker on " + broker.bootstrapServers() + ", data in " + dir
                    + "; workers take jobs with --queue " + kafkaUrl);
            return new EmbeddedQueue(broker, kafkaUrl, queue);
        } catch (RuntimeException e) {
            broker.close();
            throw e;
        }
    }

    @Override
    public void close() {
        queue.close();
        broker.close();
    }
}
