package dev.scoreflow.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The launcher's commands, known by name and loaded only when they run: the list and the refusals on a class path
 * without Spark, Hadoop, Scala and the Kafka broker (the container image's), and every name's class on the full one.
 */
class CommandsTest {
    /** What the container image leaves out, as packages and resource folders. */
    static final List<String> HIDDEN = List.of("org.apache.spark.", "org.apache.hadoop.", "scala.", "kafka.",
            "org.apache.kafka.");

    /**
     * The test class path with {@link #HIDDEN} taken out: Main, picocli and Scoreflow's classes load from it afresh,
     * and asking it for a hidden class or resource fails as it would where the jar is missing. Records every class
     * it was asked for.
     */
    static final class Lean extends URLClassLoader {
        final Set<String> asked = ConcurrentHashMap.newKeySet();

        Lean() {
            super(classPath(), ClassLoader.getPlatformClassLoader());
        }

        private static URL[] classPath() {
            List<URL> urls = new ArrayList<>();
            for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
                try {
                    urls.add(Path.of(entry).toUri().toURL());
                } catch (MalformedURLException e) {
                    throw new IllegalStateException(e);
                }
            }
            return urls.toArray(URL[]::new);
        }

        static boolean hidden(String name) {
            String dotted = name.replace('/', '.');
            return HIDDEN.stream().anyMatch(dotted::startsWith);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            asked.add(name);
            if (hidden(name)) {
                throw new ClassNotFoundException(name + " (hidden by the test)");
            }
            return super.loadClass(name, resolve);
        }

        @Override
        public URL findResource(String name) {
            return hidden(name) ? null : super.findResource(name);
        }
    }

    record Run(int exit, String out, String err) {
    }

    /** {@code scoreflow args} with Main loaded by {@code loader}; standard output and error captured. */
    static Run run(ClassLoader loader, String... args) throws Exception {
        Method main = Class.forName(Main.class.getName(), true, loader).getMethod("run", String[].class);
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int exit = (int) main.invoke(null, (Object) args);
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void listsEveryCommandWithoutSparkOrKafkaAndMarksThoseItCannotRun() throws Exception {
        try (Lean lean = new Lean()) {
            Run help = run(lean, "--help");

            assertThat(help.exit()).isZero();
            assertThat(lean.asked).noneMatch(Lean::hidden);
            for (Commands.Entry e : Commands.ALL) {
                assertThat(help.out()).contains("  " + e.name() + " ");
            }
            // a summary wraps onto the lines below its name; the mark stays on one line
            assertThat(help.out()).containsPattern("(?m)^  batch +Score a dataset with Spark[^\\[]*"
                            + "\\[not in this distribution]\n  watch ")
                    .containsPattern("(?m)^  broker +Run a single-node Apache Kafka broker[^\\[]*"
                            + "\\[not in this distribution]\n  produce ")
                    .containsPattern("(?m)^  serve +Serve ONNX models[^\\[]*\n  worker ")
                    .contains("Commands marked [not in this distribution] need modules");
            assertThat(help.out().lines()).allMatch(l -> l.length() <= 80);
        }
    }

    @Test
    void aCommandWhoseModulesAreMissingIsRefusedWithExitCodeTwoAndWhatToUseInstead() throws Exception {
        try (Lean lean = new Lean()) {
            Run batch = run(lean, "batch", "--input", "in.parquet", "--output", "out");
            assertThat(batch.exit()).isEqualTo(2);
            assertThat(batch.err()).startsWith("scoreflow: 'batch' is not in this distribution: it needs Apache "
                    + "Spark (spark-sql_2.13) and Hadoop, which this class path lacks.").contains("spark-submit")
                    .doesNotContain("NoClassDefFoundError");

            Run broker = run(lean, "broker");
            assertThat(broker.exit()).isEqualTo(2);
            assertThat(broker.err()).contains("the Apache Kafka broker (kafka_2.13, with Scala)")
                    .contains("--bootstrap-servers");

            Run help = run(lean, "help", "watch");
            assertThat(help.exit()).isEqualTo(2);
            assertThat(help.err()).contains("'watch' is not in this distribution");
            assertThat(lean.asked).noneMatch(Lean::hidden);
        }
    }

    @Test
    void aCommandThatIsHereRunsWithoutTheMissingModules() throws Exception {
        try (Lean lean = new Lean()) {
            Run serve = run(lean, "serve", "--help");
            assertThat(serve.exit()).isZero();
            assertThat(serve.out()).startsWith("Usage: scoreflow serve ").contains("--jobs");

            Run plan = run(lean, "plan", "--example", "case1");
            assertThat(plan.exit()).as(plan.err()).isZero();
            assertThat(plan.out()).isNotEmpty();
        }
    }

    @Test
    void everyNameRunsTheCommandOfThatNameOnTheFullClassPath() throws Exception {
        ClassLoader full = CommandsTest.class.getClassLoader();
        for (Commands.Entry e : Commands.ALL) {
            assertThat(e.missing(full)).as(e.name()).isEmpty();
            Command c = Class.forName(e.className(), false, full).getAnnotation(Command.class);
            String[] words = e.name().split(" ");
            assertThat(c.name()).as(e.className()).isEqualTo(words[words.length - 1]);
        }
        Run lag = run(full, "help", "lag");
        assertThat(lag.exit()).isZero();
        assertThat(lag.out()).startsWith("Usage: scoreflow lag ").contains("--group=ID");
        Run stream = run(full, "demo", "stream", "--help");
        assertThat(stream.out()).startsWith("Usage: scoreflow demo stream ");
    }

    @Test
    void anUnknownCommandIsAUsageError() throws Exception {
        Run r = run(CommandsTest.class.getClassLoader(), "sevre", "--port", "1");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("unknown command 'sevre'");
    }
}
