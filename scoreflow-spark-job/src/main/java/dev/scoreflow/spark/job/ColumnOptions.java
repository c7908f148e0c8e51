package dev.scoreflow.spark.job;

import picocli.CommandLine;
import picocli.CommandLine.Option;

/** Which columns a dataset's rows are scored from and what the output keeps: one place for {@code batch} and
 * {@code watch}. */
final class ColumnOptions {
    @Option(names = "--features-col", defaultValue = "features", paramLabel = "COL[,COL...]", description = "An "
            + "array<float>/array<double>/vector column, or a list of numeric columns (default: ${DEFAULT-VALUE}).")
    String featuresCol;

    @Option(names = "--text-col", paramLabel = "COL", description = "Featurize this text column into 26 letter "
            + "frequencies first (the bundled example model's features).")
    String textCol;

    @Option(names = "--id-col", defaultValue = "id", paramLabel = "COL", description = "Column copied to the "
            + "output to identify rows (default: ${DEFAULT-VALUE}).")
    String idCol;

    @Option(names = "--threshold", paramLabel = "T", description = "Add prediction = score >= T.")
    Double threshold;

    @Option(names = "--error-mode", defaultValue = "fail", paramLabel = "fail|column", description = "fail: a row "
            + "that cannot be scored fails the job; column: its error goes to an 'error' column (default: "
            + "${DEFAULT-VALUE}).")
    String errorMode;

    void check(CommandLine cl) {
        if (!errorMode.equals("fail") && !errorMode.equals("column")) {
            throw new CommandLine.ParameterException(cl, "--error-mode must be fail or column, got '" + errorMode
                    + "'");
        }
    }

    boolean errorColumn() {
        return errorMode.equals("column");
    }
}
