package dev.scoreflow.spark.job;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

class BatchCommandTest {

    @Test
    void theBatchCommandRefusesATokenForInProcessScoring() {
        StringWriter err = new StringWriter();
        int code = new CommandLine(new BatchCommand()).setErr(new PrintWriter(err)).execute("--input", "in.parquet",
                "--output", "out", "--model", "m.onnx", "--auth-token-env", "TOKEN");
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("--auth-token-file and --auth-token-env are for remote scoring");
    }
}
