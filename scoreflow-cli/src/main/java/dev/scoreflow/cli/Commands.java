package dev.scoreflow.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * The commands of {@code scoreflow}, by name: the class that runs each (loaded only when the command runs or its help
 * is asked, so that listing them loads neither Spark nor Kafka), a one-line summary for the list, and what each needs
 * on the class path. A distribution that leaves a module out (the container image has no Spark and no Kafka broker)
 * still lists its commands, marked, and refuses to run them with exit code 2, naming what is missing and what to use
 * instead, rather than failing with a {@link NoClassDefFoundError}. Immutable.
 */
final class Commands {
    /** A class file that must be on the class path ({@code resource}), and how to name what brings it. */
    record Need(String resource, String what) {
    }

    /**
     * One command.
     *
     * @param name      as typed: one word, or two for a command under another ({@code demo stream})
     * @param className the picocli command class that runs it
     * @param summary   its line in {@code scoreflow --help}
     * @param needs     what must be on the class path, the command's own class first
     * @param instead   what to do where it is missing
     */
    record Entry(String name, String className, String summary, List<Need> needs, String instead) {
        /** What of {@link #needs} {@code loader} cannot find; looks at resources only, loads no class. */
        List<Need> missing(ClassLoader loader) {
            List<Need> out = new ArrayList<>();
            for (Need n : needs) {
                if (loader.getResource(n.resource()) == null) {
                    out.add(n);
                }
            }
            return out;
        }

        /** The refusal where something is missing: what the command needs, what is not here, what to do. */
        String refusal(List<Need> missing) {
            return "'" + name + "' is not in this distribution: it needs "
                    + String.join(" and ", missing.stream().map(Need::what).toList()) + ", which this class path "
                    + "lacks. " + instead;
        }
    }

    /** Columns of the list, as picocli's usage messages. */
    private static final int WIDTH = 80;
    /** The mark of a command this class path cannot run, kept on one line. */
    static final String NOT_HERE = "[not in this distribution]";
    private static final String OPTIONS = "'scoreflow <command> --help' for its options.";
    private static final String FULL = "Run it with ./scoreflow from a source checkout (the full class path)";
    private static final Need SPARK_JOB = new Need("dev/scoreflow/spark/job/BatchCommand.class",
            "the scoreflow-spark-job module");
    private static final Need SPARK = new Need("org/apache/spark/sql/SparkSession.class",
            "Apache Spark (spark-sql_2.13) and Hadoop");
    private static final Need KAFKA_BROKER = new Need("kafka/server/KafkaRaftServer.class",
            "the Apache Kafka broker (kafka_2.13, with Scala)");
    private static final Need KAFKA_STREAMS = new Need("org/apache/kafka/streams/KafkaStreams.class",
            "Kafka Streams (kafka-streams)");

    /** Every command, in the order {@code scoreflow --help} lists them. */
    static final List<Entry> ALL = List.of(
            cli("demo", "DemoCommand", "The batch job on embedded defaults: texts generated, served and scored "
                    + "with Spark", List.of(SPARK_JOB, SPARK),
                    FULL + "; in the image, 'serve' is the demo."),
            streaming("demo stream", "StreamDemoCommand", "The streaming job on embedded defaults: a Kafka broker, "
                    + "a drifting stream, live features, statistics and alerts", List.of(KAFKA_BROKER),
                    FULL + "."),
            cli("serve", "ServeCommand", "Serve ONNX models over HTTP: the seed binary protocol and the Open "
                    + "Inference Protocol (V2); --jobs for scoring jobs on a queue", List.of(), ""),
            cli("worker", "WorkerCommand", "Take scoring jobs from a queue, score them with the models here and "
                    + "store the results", List.of(), ""),
            cli("subscribe", "SubscribeCommand", "Print every job of a queue that finishes and every event "
                    + "published on it, as JSON lines", List.of(), ""),
            cli("serve-rabbitmq", "ServeRabbitCommand", "Score requests from a RabbitMQ queue and reply to the "
                    + "queue each names (request-reply)", List.of(), ""),
            new Entry("batch", "dev.scoreflow.spark.job.BatchCommand", "Score a dataset with Spark: Parquet, CSV "
                    + "or JSON in, Parquet out", List.of(SPARK_JOB, SPARK), FULL + ", or submit the "
                    + "scoreflow-spark-job jar with spark-submit (see the README)."),
            new Entry("watch", "dev.scoreflow.spark.job.WatchCommand", "Score each new file that lands in a folder "
                    + "with the batch job", List.of(SPARK_JOB, SPARK), FULL + "."),
            streaming("broker", "BrokerCommand", "Run a single-node Apache Kafka broker (KRaft)",
                    List.of(KAFKA_BROKER), "Point the commands at a Kafka cluster with --bootstrap-servers, or "
                            + "run a broker with ./scoreflow broker from a source checkout."),
            streaming("produce", "ProduceCommand", "Write a synthetic stream of card transactions to a Kafka topic",
                    List.of(), ""),
            streaming("consume", "ConsumeCommand", "Print a Kafka topic's records as JSON lines", List.of(), ""),
            streaming("stream", "StreamCommand", "Score every event of a Kafka topic with live per-entity features "
                    + "(Kafka Streams)", List.of(KAFKA_STREAMS), FULL + "."),
            streaming("features", "FeaturesCommand", "Compute the features of a file of events as the stream "
                    + "would, as CSV", List.of(), ""),
            streaming("lag", "LagCommand", "Show how far a consumer group is behind, and how soon retention "
                    + "deletes what it has not read", List.of(), ""),
            streaming("serve-kafka", "ServeKafkaCommand", "Score requests from a Kafka topic and reply to the "
                    + "topic each names (request-reply)", List.of(), ""),
            new Entry("plan", "dev.scoreflow.plan.PlanCommand", "Plan capacity from users, arrivals and what one "
                    + "server handles; 'plan replay' replays the plan's day against a server",
                    List.of(new Need("dev/scoreflow/plan/PlanCommand.class", "the scoreflow-plan module")),
                    FULL + "."));

    private Commands() {
    }

    private static Entry cli(String name, String simpleName, String summary, List<Need> needs, String instead) {
        return new Entry(name, "dev.scoreflow.cli." + simpleName, summary, needs, instead);
    }

    private static Entry streaming(String name, String simpleName, String summary, List<Need> needs,
                                   String instead) {
        List<Need> all = new ArrayList<>();
        all.add(new Need("dev/scoreflow/streaming/app/" + simpleName + ".class", "the scoreflow-streaming-app module"));
        all.addAll(needs);
        return new Entry(name, "dev.scoreflow.streaming.app." + simpleName, summary, List.copyOf(all),
                instead.isEmpty() ? FULL + "." : instead);
    }

    /** The command {@code args} start with (the longest name that matches), or null. */
    static Entry find(String... args) {
        Entry best = null;
        for (Entry e : ALL) {
            String[] words = e.name().split(" ");
            if (words.length > args.length) {
                continue;
            }
            boolean match = true;
            for (int i = 0; i < words.length && match; i++) {
                match = words[i].equals(args[i]);
            }
            if (match && (best == null || words.length > best.name().split(" ").length)) {
                best = e;
            }
        }
        return best;
    }

    /** The list for {@code scoreflow --help}: a line a command, those missing here marked. */
    static String list(ClassLoader loader) {
        int width = ALL.stream().mapToInt(e -> e.name().length()).max().orElse(0) + 2;
        StringBuilder sb = new StringBuilder("Commands:").append(System.lineSeparator());
        boolean anyMissing = false;
        for (Entry e : ALL) {
            boolean missing = !e.missing(loader).isEmpty();
            anyMissing |= missing;
            wrap(sb, "  " + String.format("%-" + width + "s", e.name()),
                    e.summary() + (missing ? " " + NOT_HERE.replace(' ', '\u00a0') : ""));
        }
        if (anyMissing) {
            sb.append(System.lineSeparator());
            wrap(sb, "", "Commands marked " + NOT_HERE.replace(' ', '\u00a0') + " need modules this class path "
                    + "lacks; running one says which, and what to use instead.");
        }
        return sb.append(System.lineSeparator()).append("Run ").append(OPTIONS).append(System.lineSeparator())
                .toString();
    }

    /** Appends {@code text} after {@code head}, wrapped at {@link #WIDTH} columns under its first column. */
    private static void wrap(StringBuilder sb, String head, String text) {
        String indent = " ".repeat(head.length());
        StringBuilder line = new StringBuilder(head);
        for (String word : text.split(" ")) {
            if (line.length() > head.length() && line.length() + 1 + word.length() > WIDTH) {
                sb.append(line.toString().replace('\u00a0', ' ')).append(System.lineSeparator());
                line = new StringBuilder(indent);
            }
            line.append(line.length() > head.length() ? " " : "").append(word);
        }
        sb.append(line.toString().replace('\u00a0', ' ')).append(System.lineSeparator());
    }
}
