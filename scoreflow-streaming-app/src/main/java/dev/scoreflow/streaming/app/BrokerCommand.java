package dev.scoreflow.streaming.app;

import dev.scoreflow.api.internal.Log;
import dev.scoreflow.streaming.EmbeddedBroker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code scoreflow broker}: a single-node Kafka broker (KRaft) for the demo, the tests and a laptop. */
@Command(name = "broker", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run a single-node Apache Kafka broker (KRaft: broker and controller in one process) from the "
                + "Kafka jars Scoreflow was built with. Prints 'kafka ready on HOST:PORT' once clients can connect; "
                + "stops cleanly on SIGTERM or Ctrl-C. A restart on the same --dir keeps topics and offsets.",
                "For production, point the streaming commands at a real cluster with --bootstrap-servers.", ""})
public final class BrokerCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "9092", paramLabel = "PORT",
            description = "Client port (default: ${DEFAULT-VALUE}; 0: a free port).")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "HOST",
            description = "Address to listen on and advertise (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--dir", defaultValue = "${sys:java.io.tmpdir}/scoreflow-kafka", paramLabel = "DIR",
            description = "Data directory, formatted on first use (default: ${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--config", paramLabel = "KEY=VALUE", description = "A broker setting on top of the defaults, "
            + "e.g. --config log.retention.check.interval.ms=1000 (repeatable).")
    Map<String, String> config = new LinkedHashMap<>();

    @Override
    public Integer call() throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        EmbeddedBroker broker = EmbeddedBroker.start(dir, host, port, config);
        Thread hook = new Thread(() -> {
            Log.info("stopping the broker");
            broker.close();
            stopped.countDown();
        }, "broker-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        System.out.println("kafka ready on " + broker.bootstrapServers());
        System.out.flush();
        Log.info("data in " + broker.dir() + "; Ctrl-C or SIGTERM stops");
        stopped.await();
        return 0;
    }
}
