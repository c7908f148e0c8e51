package dev.scoreflow.runtime;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ModelLoadException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class OnnxModelTest {

    private static void assertScoresMatchPython(Path file, ModelConfig config, int features) {
        try (OnnxModel m = OnnxModel.load(file, config, 1)) {
            assertThat(m.signature().featureCount()).isEqualTo(features);
            float[] in = TestModels.sampleInput(file);
            float[] expected = TestModels.sampleScores(file);
            float[] got = m.score(FloatMatrix.of(in, in.length / features, features));
            assertThat(got).hasSize(expected.length);
            for (int i = 0; i < got.length; i++) {
                assertThat(got[i]).as("row %d", i).isCloseTo(expected[i], within(TestModels.tolerance(expected[i])));
            }
        }
    }

    @Test
    void scoresLinearClassifierAsPositiveClassProbability() {
        assertScoresMatchPython(TestModels.example(), ModelConfig.defaults(), 26);
        try (OnnxModel m = OnnxModel.load(TestModels.example(), ModelConfig.defaults(), 1)) {
            assertThat(m.signature().scoreOutput()).isEqualTo("output_probability");
            assertThat(m.signature().scoreColumn()).isEqualTo(1);
            assertThat(m.signature().outputs()).extracting(s -> s.name())
                    .containsExactlyInAnyOrder("output_label", "output_probability");
        }
    }

    @Test
    void scoresTreeEnsembleClassifierThroughZipMap() {
        assertScoresMatchPython(TestModels.forest(), ModelConfig.defaults(), 20);
    }

    @Test
    void scoresTreeEnsembleRegressorsSingleOutput() {
        assertScoresMatchPython(TestModels.regressor(), ModelConfig.defaults(), 10);
    }

    @Test
    void refusesMulticlassOutputUnlessAColumnIsNamed() {
        assertThatThrownBy(() -> OnnxModel.load(TestModels.multiclass(), ModelConfig.defaults(), 1))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("has 3 columns").hasMessageContaining("\"column\"");
        ModelConfig column2 = new ModelConfig(null, 2, null, 1024, 0, 1000, 0, false, null);
        assertScoresMatchPython(TestModels.multiclass(), column2, 8);
    }

    @Test
    void refusesAnOutputTheModelDoesNotHave() {
        ModelConfig wrong = new ModelConfig("nope", null, null, 1024, 0, 1000, 0, false, null);
        assertThatThrownBy(() -> OnnxModel.load(TestModels.example(), wrong, 1))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("'nope'").hasMessageContaining("output_probability");
    }

    @Test
    void refusesABrokenFileWithAClearMessage(@TempDir Path dir) throws IOException {
        Path bad = Files.writeString(dir.resolve("model.onnx"), "this is not an ONNX model");
        assertThatThrownBy(() -> OnnxModel.load(bad, ModelConfig.defaults(), 1))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("cannot load " + bad);
        assertThatThrownBy(() -> OnnxModel.load(dir.resolve("missing.onnx"), ModelConfig.defaults(), 1))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("does not exist");
    }

    @Test
    void refusesRowsOfTheWrongWidth() {
        try (OnnxModel m = OnnxModel.load(TestModels.example(), ModelConfig.defaults(), 1)) {
            assertThatThrownBy(() -> m.score(FloatMatrix.of(new float[10], 1, 10)))
                    .isInstanceOf(BadInputException.class).hasMessageContaining("takes 26");
        }
    }

    @Test
    void readsModelJsonAndRefusesUnknownKeys(@TempDir Path dir) throws IOException {
        Path good = Files.writeString(dir.resolve("good.json"), "{\"threshold\": 0.7, \"maxBatchRows\": 64}");
        ModelConfig c = ModelConfig.read(good, ModelConfig.defaults());
        assertThat(c.threshold()).isEqualTo(0.7);
        assertThat(c.maxBatchRows()).isEqualTo(64);
        assertThat(c.queueRows()).isEqualTo(ModelConfig.DEFAULT_QUEUE_ROWS);
        Path typo = Files.writeString(dir.resolve("typo.json"), "{\"treshold\": 0.7}");
        assertThatThrownBy(() -> ModelConfig.read(typo, ModelConfig.defaults()))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("unknown key 'treshold'");
        Path badValue = Files.writeString(dir.resolve("bad.json"), "{\"maxBatchRows\": 0}");
        assertThatThrownBy(() -> ModelConfig.read(badValue, ModelConfig.defaults()))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("maxBatchRows must be in [1, 1000000]");
    }
}
