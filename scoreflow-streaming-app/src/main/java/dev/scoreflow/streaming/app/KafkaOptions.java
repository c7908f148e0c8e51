package dev.scoreflow.streaming.app;

import dev.scoreflow.streaming.StreamingException;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/** The options every streaming command takes to reach a Kafka cluster (a picocli mixin). */
public final class KafkaOptions {
    @Option(names = "--bootstrap-servers", defaultValue = "127.0.0.1:9092", paramLabel = "HOST:PORT[,...]",
            description = "Kafka brokers (default: ${DEFAULT-VALUE}, where 'scoreflow broker' listens).")
    String bootstrapServers;

    @Option(names = "--client-config", paramLabel = "FILE", description = "Kafka client properties (security, "
            + "SASL, timeouts, ...), as for Kafka's own tools; --bootstrap-servers wins over the file's.")
    Path clientConfig;

    /** The client properties: the file's, then the bootstrap servers. */
    Properties properties() {
        Properties p = new Properties();
        if (clientConfig != null) {
            try (Reader r = Files.newBufferedReader(clientConfig, StandardCharsets.UTF_8)) {
                p.load(r);
            } catch (IOException e) {
                throw new StreamingException("cannot read the client config " + clientConfig + ": " + e.getMessage(), e);
            }
        }
        p.put("bootstrap.servers", bootstrapServers);
        return p;
    }
}
