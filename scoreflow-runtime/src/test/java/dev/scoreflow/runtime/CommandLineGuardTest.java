package dev.scoreflow.runtime;

import dev.scoreflow.api.ModelLoadException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A JVM with a long command line gets a clear error from Scoreflow instead of a SIGSEGV from ONNX Runtime. */
class CommandLineGuardTest {
    /** Loads the example model and prints the outcome. */
    public static void main(String[] args) {
        try (OnnxModel m = OnnxModel.load(Path.of(args[0]), ModelConfig.defaults(), 1)) {
            System.out.println("loaded " + m.signature().featureCount());
        } catch (ModelLoadException e) {
            System.out.println("refused: " + e.getMessage());
        }
    }

    private static String run(int padding) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(List.of(java.toString(), "-Dpad=" + "x".repeat(padding), "-cp",
                System.getProperty("java.class.path"), CommandLineGuardTest.class.getName(),
                TestModels.example().toString())).redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as("exit code; output: %s", out).isZero();
        return out;
    }

    @Test
    void aLongCommandLineIsRefusedWithTheReasonInsteadOfCrashing() throws Exception {
        assertThat(run(10)).contains("loaded 26");
        assertThat(run(6000)).contains("refused: this JVM's command line is").contains("wildcard class path");
    }
}
