package dev.scoreflow.cli;

import dev.scoreflow.plan.PlanCommand;
import dev.scoreflow.spark.job.BatchCommand;
import dev.scoreflow.spark.job.WatchCommand;
import dev.scoreflow.streaming.BrokerCommand;
import dev.scoreflow.streaming.ConsumeCommand;
import dev.scoreflow.streaming.FeaturesCommand;
import dev.scoreflow.streaming.LagCommand;
import dev.scoreflow.streaming.ProduceCommand;
import dev.scoreflow.streaming.ServeKafkaCommand;
import dev.scoreflow.streaming.StreamCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code scoreflow <command>}: the entry point of the launcher. Only wiring; the logic lives in the modules. */
@Command(name = "scoreflow", mixinStandardHelpOptions = true, version = "scoreflow 0.1.0",
        description = {"Apply exported machine-learning models (ONNX) to big data and streams.", ""},
        subcommands = {DemoCommand.class, ServeCommand.class, WorkerCommand.class, SubscribeCommand.class,
                BatchCommand.class,
                WatchCommand.class, BrokerCommand.class,
                ProduceCommand.class, ConsumeCommand.class, StreamCommand.class, FeaturesCommand.class, LagCommand.class,
                ServeKafkaCommand.class, ServeRabbitCommand.class, PlanCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Run 'scoreflow <command> --help' for the options of a command."})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (for tests). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("scoreflow: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
