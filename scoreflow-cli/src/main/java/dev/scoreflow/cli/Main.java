package dev.scoreflow.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;

/**
 * {@code scoreflow <command>}: the entry point of the launcher and of the container image. Only wiring; the logic
 * lives in the modules. The commands are known by name ({@link Commands}) and their classes loaded only to run them or
 * show their help, so that a class path without Spark or the Kafka broker (the image) lists every command and runs
 * those it has.
 */
@Command(name = "scoreflow", mixinStandardHelpOptions = true, version = "scoreflow 0.1.0",
        customSynopsis = "scoreflow [-hV] COMMAND [OPTIONS]",
        description = {"Apply exported machine-learning models (ONNX) to big data and streams.", ""})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (for tests). */
    public static int run(String... args) {
        ClassLoader loader = Main.class.getClassLoader();
        if (args.length >= 1 && args[0].equals("help")) {
            if (args.length == 1) {
                return top(loader);
            }
            Commands.Entry e = Commands.find(Arrays.copyOfRange(args, 1, args.length));
            if (e == null) {
                return unknown(args[1]);
            }
            return run(e, List.of("--help"), loader);
        }
        Commands.Entry e = Commands.find(args);
        if (e != null) {
            int words = e.name().split(" ").length;
            return run(e, Arrays.asList(args).subList(words, args.length), loader);
        }
        if (args.length >= 1 && !args[0].startsWith("-")) {
            return unknown(args[0]);
        }
        return top(loader, args);
    }

    /** {@code scoreflow [-h | -V]}: picocli's usage, with the list of commands in place of its subcommands. */
    private static int top(ClassLoader loader, String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_COMMAND_LIST,
                help -> Commands.list(loader));
        return cl.execute(args);
    }

    private static int unknown(String name) {
        System.err.println("scoreflow: unknown command '" + name + "'; 'scoreflow --help' lists them");
        return 2;
    }

    /**
     * Loads {@code e}'s class and runs it on {@code args}, or refuses with exit code 2 where its modules are not on
     * the class path. An exception thrown by the command is reported as its message (exit code 1); one that says a
     * class is missing after all (a module the command reaches only on some paths), as a refusal (exit code 2).
     */
    static int run(Commands.Entry e, List<String> args, ClassLoader loader) {
        PrintStream err = System.err;
        List<Commands.Need> missing = e.missing(loader);
        if (!missing.isEmpty()) {
            err.println("scoreflow: " + e.refusal(missing));
            return 2;
        }
        try {
            CommandLine cl = new CommandLine(Class.forName(e.className(), true, loader));
            cl.setCommandName("scoreflow " + e.name());
            cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
                if (ex instanceof NotInDistributionException) {
                    cmd.getErr().println("scoreflow: " + ex.getMessage());
                    return 2;
                }
                cmd.getErr().println("scoreflow: " + (ex.getMessage() != null ? ex.getMessage() : ex.toString()));
                return 1;
            });
            return cl.execute(args.toArray(String[]::new));
        } catch (ClassNotFoundException | LinkageError ex) {
            err.println("scoreflow: '" + e.name() + "' cannot run on this class path: " + ex + ". "
                    + e.instead());
            return 2;
        }
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
