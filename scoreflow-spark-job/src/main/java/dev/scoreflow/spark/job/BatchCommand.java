package dev.scoreflow.spark.job;

import dev.scoreflow.spark.BatchJob;
import dev.scoreflow.api.internal.Log;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code scoreflow batch}: score a dataset with Spark. Also the main class for {@code spark-submit} (Spark's master
 * and resources then come from spark-submit).
 */
@Command(name = "batch", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Score a dataset with Spark: read Parquet (or CSV / JSON), score the features column through "
                + "Scoreflow servers (--endpoint) or in-process ONNX Runtime (--model), write Parquet with the id, "
                + "score, prediction (with --threshold) and error (with --error-mode column) columns.",
                "Runs on embedded local Spark by default; on a cluster, use spark-submit --class "
                        + "dev.scoreflow.spark.job.BatchCommand with the scoreflow-spark job jar (see the README).", ""})
public final class BatchCommand implements Callable<Integer> {
    @Option(names = "--input", required = true, paramLabel = "PATH", description = "Dataset to score.")
    String input;

    @Option(names = "--format", paramLabel = "FMT", description = "parquet, csv or json (default: from the "
            + "extension; parquet for a directory).")
    String format;

    @Option(names = "--output", required = true, paramLabel = "PATH", description = "Output directory (Parquet).")
    String output;

    @ArgGroup(multiplicity = "1")
    Mode mode;

    static final class Mode {
        @Option(names = "--endpoint", paramLabel = "URL[,URL...]", description = "Score remotely through these "
                + "servers, balanced, with retries and failover.")
        String endpoints;

        @Option(names = "--model", paramLabel = "FILE", description = "Score in-process with this ONNX model; "
                + "every executor must be able to read it (or ship it with spark-submit --files).")
        String model;
    }

    @Option(names = "--server-model", paramLabel = "NAME", description = "Model name on the servers (default: "
            + "the server's default model).")
    String serverModel;

    @Option(names = "--protocol", defaultValue = "seed", paramLabel = "seed|v2", description = "Remote protocol "
            + "(default: ${DEFAULT-VALUE}).")
    String protocol;

    @Option(names = "--trust-cert", paramLabel = "PEM", description = "For https endpoints: certificates to trust "
            + "(default: the JVM's trust store).")
    String trustCert;

    @Option(names = "--auth-token-file", paramLabel = "FILE", description = "For servers started with "
            + "--auth-token-file: the file whose first line is the bearer token (read here, on the driver).")
    String authTokenFile;

    @Option(names = "--auth-token-env", paramLabel = "NAME", description = "For servers that require a bearer "
            + "token: the environment variable that holds it (of the driver).")
    String authTokenEnv;

    @CommandLine.Mixin
    ColumnOptions columns = new ColumnOptions();

    @Option(names = "--master", paramLabel = "URL", description = "Spark master (default: local[*], or what "
            + "spark-submit says).")
    String master;

    @Option(names = "--batch-rows", defaultValue = "1000", description = "Rows per request (default: "
            + "${DEFAULT-VALUE}).")
    int batchRows;

    @Option(names = "--max-in-flight", defaultValue = "8", description = "Requests in flight per partition "
            + "(default: ${DEFAULT-VALUE}).")
    int maxInFlight;

    @Option(names = "--partitions", defaultValue = "0", description = "Repartition the input first (default: "
            + "keep its partitions).")
    int partitions;

    @Option(names = "--overwrite", description = "Replace the output if it exists.")
    boolean overwrite;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec; // injected by picocli: its errors go to the caller's writers

    private CommandLine commandLine() {
        return spec != null ? spec.commandLine() : new CommandLine(this);
    }

    /** The innermost message: Spark wraps a task's exception in several layers of "Job aborted...". */
    static String rootCause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    /** spark-submit entry point. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new BatchCommand()).execute(args));
    }

    /** A session for {@code master}, or for local[*] when neither it nor spark-submit names one. */
    public static SparkSession session(String master, String appName) {
        SparkSession.Builder b = SparkSession.builder().appName(appName)
                .config("spark.sql.debug.maxToStringFields", "1000"); // wide feature lists are normal here
        String m = master != null ? master : System.getProperty("spark.master");
        if (m == null || m.startsWith("local")) {
            b.master(m == null ? "local[*]" : m).config("spark.ui.enabled", "false")
                    .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                    .config("spark.executor.heartbeatInterval", "2s");
        } else if (master != null) {
            b.master(master);
        }
        return b.getOrCreate();
    }

    @Override
    public Integer call() {
        columns.check(commandLine());
        if (mode.model != null && (authTokenFile != null || authTokenEnv != null)) {
            throw new CommandLine.ParameterException(commandLine(), "--auth-token-file and --auth-token-env "
                    + "are for remote scoring (--endpoint)");
        }
        if (mode.model != null && !Files.isRegularFile(Path.of(mode.model))) {
            Log.info("note: " + mode.model + " is not a file here; executors will look for it in their SparkFiles");
        }
        BatchJob.Options o = BatchJob.Options.builder(input, output).format(format).modelFile(mode.model)
                .endpoints(mode.endpoints).serverModel(serverModel).protocol(protocol)
                .featuresCol(columns.featuresCol).textCol(columns.textCol).idCol(columns.idCol)
                .threshold(columns.threshold).errorColumn(columns.errorColumn()).batchRows(batchRows)
                .maxInFlight(maxInFlight).partitions(partitions).overwrite(overwrite).trustCertificates(trustCert)
                .authTokenFile(authTokenFile).authTokenEnv(authTokenEnv).build();
        SparkSession spark = session(master, "scoreflow-batch");
        try {
            BatchJob.Summary s = BatchJob.run(spark, o, Log::info);
            System.out.println("wrote " + output + ": " + s);
            // in local mode the executors are this JVM: their shared clients can tell how the servers did
            dev.scoreflow.client.ScoringClients.metrics().forEach((c, m) -> System.out.println("client "
                    + c.endpoints() + ": " + m));
            return s.rowsOut() == s.rowsIn() ? 0 : 3;
        } catch (IllegalArgumentException e) {
            throw e; // our own checks: already say what is wrong
        } catch (Exception e) { // Spark's failures (checked SparkException included) wrap the task's error deeply
            throw new IllegalStateException("the job failed: " + rootCause(e), e);
        } finally {
            spark.stop();
        }
    }
}
