package dev.scoreflow.streaming.app;

import dev.scoreflow.api.Model;
import dev.scoreflow.api.internal.Log;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.ModelLoaders;
import dev.scoreflow.streaming.KafkaScoringClient;
import dev.scoreflow.streaming.KafkaScoringService;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/** {@code scoreflow serve-kafka}: scoring as asynchronous request-reply over Kafka topics. */
@Command(name = "serve-kafka", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Score requests read from a Kafka topic and write each reply to the topic the request names: "
                + "fully asynchronous request-reply. Instances started with the same --group share the request "
                + "topic's partitions.",
                "A request's value is little-endian float32 rows of the model's feature count (the seed binary "
                        + "protocol), with headers " + KafkaScoringClient.CORRELATION_ID_HEADER + " (required) and "
                        + KafkaScoringClient.REPLY_TO_HEADER + " (default: --reply-topic). The reply has the same "
                        + "correlation id and the little-endian float32 scores, or an empty value and headers "
                        + KafkaScoringClient.ERROR_HEADER + " (why) and " + KafkaScoringClient.ERROR_KIND_HEADER
                        + " (bad_input or failed).",
                "At least once: offsets are committed after the replies are acknowledged, so after a crash a "
                        + "request may be answered twice; clients drop duplicates by correlation id (the Java "
                        + "KafkaScoringClient does).", ""})
public final class ServeKafkaCommand implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka;

    @Option(names = "--request-topic", required = true, paramLabel = "TOPIC", description = "Requests to score "
            + "(created with --partitions if missing).")
    String requestTopic;

    @Option(names = "--reply-topic", required = true, paramLabel = "TOPIC", description = "Replies to requests "
            + "without a " + KafkaScoringClient.REPLY_TO_HEADER + " header (created if missing).")
    String replyTopic;

    @Option(names = "--model", paramLabel = "FILE", description = "ONNX model, scored in-process (default: the "
            + "bundled fraud model).")
    Path model;

    @Option(names = "--group", paramLabel = "ID", description = "Consumer group; instances of one group share the "
            + "requests (default: scoreflow-serve-<request topic>).")
    String group;

    @Option(names = "--max-poll-records", defaultValue = "500", paramLabel = "N", description = "Requests read and "
            + "answered before each commit (default: ${DEFAULT-VALUE}).")
    int maxPollRecords;

    @Option(names = "--partitions", defaultValue = "3", paramLabel = "N", description = "Partitions of the topics "
            + "if they are created: the most instances that can share the work (default: ${DEFAULT-VALUE}).")
    int partitions;

    /** The service while it runs, for tests to stop it as Ctrl-C would. */
    volatile KafkaScoringService running;

    @Override
    public Integer call() throws InterruptedException {
        if (partitions < 1) {
            throw new IllegalArgumentException("--partitions must be >= 1, was " + partitions);
        }
        Path home = Path.of(System.getProperty("scoreflow.home", "."));
        Path modelFile = model != null ? model : home.resolve("models/fraud/1/model.onnx");
        String groupId = group != null ? group : "scoreflow-serve-" + requestTopic;
        try (Model onnx = ModelLoaders.load(modelFile, ModelConfig.defaults(), 1)) {
            KafkaScoringService service = KafkaScoringService.builder(kafka.properties(), onnx, requestTopic)
                    .replyTopic(replyTopic).group(groupId).maxPollRecords(maxPollRecords).createTopics(partitions)
                    .build();
            Thread main = Thread.currentThread();
            Thread hook = new Thread(() -> {
                Log.info("stopping: answering and committing the requests at hand");
                service.close(Duration.ofSeconds(30));
                try {
                    main.join(Duration.ofSeconds(10).toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "serve-kafka-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            running = service;
            Log.info("serving " + requestTopic + " -> replies (default " + replyTopic + ") with "
                    + StreamCommand.modelName(modelFile) + " (" + onnx.signature().featureCount() + " features), "
                    + "group " + groupId);
            try {
                service.run();
            } finally {
                running = null;
                removeHook(hook);
            }
            Log.info(String.format("stopped after %,d requests: %,d scored, %,d bad, %,d failed, %,d unanswered",
                    service.requests(), service.scored(), service.badInput(), service.failed(),
                    service.unanswered()));
        }
        return 0;
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook is what stopped the service
        }
    }
}
