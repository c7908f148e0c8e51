package dev.scoreflow.cli;

import dev.scoreflow.api.internal.Log;
import dev.scoreflow.jobs.RabbitScoringService;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.OnnxModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** {@code scoreflow serve-rabbitmq}: scoring as asynchronous request-reply over RabbitMQ. */
@Command(name = "serve-rabbitmq", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Score requests consumed from a RabbitMQ queue and publish each reply to the queue its "
                + "reply_to property names, with its correlation_id: fully asynchronous request-reply. Instances on "
                + "one --request-queue share its requests.",
                "A request's body is little-endian float32 rows of the model's feature count (the seed binary "
                        + "protocol); its correlation_id and reply_to (a queue, or RabbitMQ's direct reply-to "
                        + "amq.rabbitmq.reply-to) are required. The reply has the same correlation_id and the "
                        + "little-endian float32 scores, or an empty body and headers "
                        + RabbitScoringService.ERROR_HEADER + " (why) and " + RabbitScoringService.ERROR_KIND_HEADER
                        + " (bad_input or failed). The Java client is dev.scoreflow.jobs.RabbitScoringClient.",
                "At least once: a request is acknowledged after its reply is published; one this process held when "
                        + "it died is delivered to another instance at once and may be answered twice (clients drop "
                        + "replies they no longer wait for).", ""},
        footer = {"", "Example:",
                "  scoreflow serve-rabbitmq --uri amqp://guest:guest@127.0.0.1:5672 --request-queue scoring.requests"})
final class ServeRabbitCommand implements Callable<Integer> {
    @Option(names = "--uri", defaultValue = "amqp://guest:guest@127.0.0.1:5672", paramLabel = "URI",
            description = "The broker: amqp://user:password@host:port[/vhost] (default: ${DEFAULT-VALUE}).")
    String uri;

    @Option(names = "--request-queue", required = true, paramLabel = "QUEUE", description = "Requests to score (a "
            + "durable quorum queue, declared if missing).")
    String requestQueue;

    @Option(names = "--model", paramLabel = "FILE", description = "ONNX model, scored in-process (default: the "
            + "bundled fraud model).")
    Path model;

    @Option(names = "--concurrency", defaultValue = "2", paramLabel = "N", description = "Requests scored at once: "
            + "consumers, a channel each (default: ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--prefetch", defaultValue = "16", paramLabel = "N", description = "Requests each consumer "
            + "holds unacknowledged (basic.qos; default: ${DEFAULT-VALUE}).")
    int prefetch;

    @Override
    public Integer call() throws InterruptedException {
        Path home = Path.of(System.getProperty("scoreflow.home", "."));
        Path modelFile = model != null ? model : home.resolve("models/fraud/1/model.onnx");
        try (OnnxModel onnx = OnnxModel.load(modelFile, ModelConfig.defaults(), 1)) {
            RabbitScoringService service = RabbitScoringService.start(uri, onnx, requestQueue, concurrency, prefetch);
            CountDownLatch stopped = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                Log.info("stopping: unanswered requests go back to the queue");
                service.close();
                stopped.countDown();
            }, "serve-rabbitmq-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            Log.info("scoring " + requestQueue + "'s requests with " + modelFile + " ("
                    + onnx.signature().featureCount() + " features)");
            System.out.println("serving " + requestQueue);
            System.out.flush();
            long last = 0;
            while (!stopped.await(10, TimeUnit.SECONDS)) {
                long n = service.requests();
                if (n != last) {
                    Log.info(String.format("requests %,d: %,d scored, %,d bad, %,d failed, %,d unanswered", n,
                            service.scored(), service.badInput(), service.failed(), service.unanswered()));
                    last = n;
                }
            }
        }
        return 0;
    }
}
