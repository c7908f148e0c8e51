package dev.scoreflow.streaming;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * A single-node Apache Kafka broker in KRaft mode (one process is broker and controller), run inside this JVM from
 * the Maven-resolved Kafka jars: the embedded default of the streaming commands and the real broker of the tests.
 *
 * <p>The first start formats {@code dir} (a new cluster id) and records the controller's port there, so a restart
 * on the same directory is the same cluster with its topics, offsets and transactions. Replication factors are 1
 * (there is one node); {@code overrides} are broker settings on top (e.g. {@code log.retention.check.interval.ms}).
 * {@link #start} returns once the broker answers an admin client. Not thread-safe: one owner starts and closes it.
 */
public final class EmbeddedBroker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedBroker.class);
    private static final String STATE_FILE = "scoreflow-broker.properties";
    static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

    private final KafkaRaftServer server;
    private final String host;
    private final int port;
    private final Path dir;
    private boolean closed;

    private EmbeddedBroker(KafkaRaftServer server, String host, int port, Path dir) {
        this.server = server;
        this.host = host;
        this.port = port;
        this.dir = dir;
    }

    /**
     * Starts a broker listening on {@code host:port} ({@code port} 0: a free port) with its data in {@code dir}.
     *
     * @throws StreamingException if it cannot start or does not answer within a minute
     */
    public static EmbeddedBroker start(Path dir, String host, int port, Map<String, String> overrides) {
        try {
            Files.createDirectories(dir);
            Properties state = loadState(dir);
            int brokerPort = port != 0 ? port : freePort(host);
            int controllerPort = state.containsKey("controller.port")
                    ? Integer.parseInt(state.getProperty("controller.port")) : freePort(host);
            Properties props = new Properties();
            props.put("process.roles", "broker,controller");
            props.put("node.id", "1");
            props.put("controller.quorum.voters", "1@" + host + ":" + controllerPort);
            props.put("listeners", "PLAINTEXT://" + host + ":" + brokerPort + ",CONTROLLER://" + host + ":" + controllerPort);
            props.put("advertised.listeners", "PLAINTEXT://" + host + ":" + brokerPort);
            props.put("controller.listener.names", "CONTROLLER");
            props.put("inter.broker.listener.name", "PLAINTEXT");
            props.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
            props.put("log.dirs", dir.resolve("data").toString());
            props.put("num.partitions", "3");
            props.put("offsets.topic.replication.factor", "1");
            props.put("offsets.topic.num.partitions", "3");
            props.put("transaction.state.log.replication.factor", "1");
            props.put("transaction.state.log.min.isr", "1");
            props.put("transaction.state.log.num.partitions", "3");
            props.put("share.coordinator.state.topic.replication.factor", "1");
            props.put("share.coordinator.state.topic.min.isr", "1");
            // a single node has no one to wait for: the first consumer group starts at once
            props.put("group.initial.rebalance.delay.ms", "0");
            props.putAll(overrides);
            KafkaConfig config = new KafkaConfig(props, false);

            if (!Files.exists(dir.resolve("data").resolve("meta.properties"))) {
                Formatter formatter = new Formatter()
                        .setPrintStream(new PrintStream(OutputStream.nullOutputStream()))
                        .setNodeId(1)
                        .setClusterId(Uuid.randomUuid().toString())
                        .setControllerListenerName("CONTROLLER")
                        .setMetadataLogDirectory(config.metadataLogDir())
                        .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                        .addDirectory(dir.resolve("data").toString());
                formatter.run();
                state.setProperty("controller.port", Integer.toString(controllerPort));
                try (OutputStream out = Files.newOutputStream(dir.resolve(STATE_FILE))) {
                    state.store(out, "the embedded broker's controller port, kept for restarts");
                }
                LOG.info("formatted a new single-node cluster in {}", dir);
            }
            KafkaRaftServer server = new KafkaRaftServer(config, Time.SYSTEM);
            server.startup();
            EmbeddedBroker broker = new EmbeddedBroker(server, host, brokerPort, dir);
            try {
                broker.awaitReady(READY_TIMEOUT);
            } catch (RuntimeException e) {
                broker.close();
                throw e;
            }
            return broker;
        } catch (IOException e) {
            throw new StreamingException("cannot prepare the broker directory " + dir + ": " + e.getMessage(), e);
        } catch (StreamingException e) {
            throw e;
        } catch (Exception e) {
            throw new StreamingException("the broker did not start on " + host + ":" + port + ": " + e.getMessage(), e);
        }
    }

    /** {@code host:port} for clients' {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return host + ":" + port;
    }

    /** The broker's data directory. */
    public Path dir() {
        return dir;
    }

    private void awaitReady(Duration timeout) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        try (Admin admin = Admin.create(p)) {
            // the broker answers metadata only once it has registered with the controller and caught up
            admin.describeCluster().nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            throw new StreamingException("the broker on " + bootstrapServers() + " did not answer within "
                    + timeout.toSeconds() + " s: " + e.getMessage(), e);
        }
    }

    /** Stops the broker and waits until it has (its logs flushed, so a restart on the same directory resumes). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        server.shutdown();
        server.awaitShutdown();
    }

    private static Properties loadState(Path dir) throws IOException {
        Properties state = new Properties();
        Path file = dir.resolve(STATE_FILE);
        if (Files.exists(file)) {
            try (InputStream in = Files.newInputStream(file)) {
                state.load(in);
            }
        }
        return state;
    }

    static int freePort(String host) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(host, 0));
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port on " + host, e);
        }
    }
}
