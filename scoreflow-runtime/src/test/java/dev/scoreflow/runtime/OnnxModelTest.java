package dev.scoreflow.runtime;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ModelLoadException;
import dev.scoreflow.api.Tensor;
import dev.scoreflow.api.TensorSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
    void item22_loadsMulticlassWithoutAColumnAndRefusesOnlyItsScoreSayingWhatToSet() {
        try (OnnxModel m = OnnxModel.load(TestModels.multiclass(), ModelConfig.defaults(), 1)) {
            assertThat(m.signature().hasScore()).isFalse();
            assertThat(m.signature().description()).contains("has 3 columns").contains("\"column\"");
            assertThatThrownBy(() -> m.score(FloatMatrix.of(new float[8], 1, 8)))
                    .isInstanceOf(BadInputException.class).hasMessageContaining("has 3 columns")
                    .hasMessageContaining("\"column\"");
            assertThat(m.infer(FloatMatrix.of(new float[8], 1, 8), Set.of("output_probability"))
                    .get("output_probability").shape()).containsExactly(1L, 3L);
        }
        ModelConfig column2 = ModelConfig.builder().column(2).queueRows(1000).maxQueueMillis(0).build();
        assertScoresMatchPython(TestModels.multiclass(), column2, 8);
    }

    /** Every output the model serves, for the sample rows, against onnxruntime's values computed in Python. */
    private static void assertEveryOutputMatchesPython(Path file, int features, List<String> outputs) {
        try (OnnxModel m = OnnxModel.load(file, ModelConfig.read(file.resolveSibling(ModelConfig.FILE_NAME),
                ModelConfig.defaults()), 1)) {
            float[] in = TestModels.sampleInput(file);
            int rows = in.length / features;
            assertThat(m.signature().outputs()).extracting(TensorSpec::name).containsExactlyInAnyOrderElementsOf(outputs);
            Map<String, Tensor> got = m.infer(FloatMatrix.of(in, rows, features), new LinkedHashSet<>(outputs));
            assertThat(got.keySet()).containsExactlyElementsOf(outputs);
            for (String name : outputs) {
                Tensor t = got.get(name);
                assertThat(t.rows()).as(name).isEqualTo(rows);
                assertThat(t.datatype()).as(name).isEqualTo(m.signature().output(name).datatype());
                TestModels.assertSameValues(file.getParent().getParent().getFileName() + " " + name, t.data(),
                        TestModels.sampleOutput(file, name));
            }
        }
    }

    @Test
    void item22_servesEveryOutputAsItsOwnDatatypeEqualToOnnxRuntime() {
        assertEveryOutputMatchesPython(TestModels.iris(), 4, List.of("output_label", "output_probability"));
        assertEveryOutputMatchesPython(TestModels.multiclass(), 8, List.of("output_label", "output_probability"));
        assertEveryOutputMatchesPython(TestModels.multitarget(), 6,
                List.of("targets", "total", "total_fp64", "positive", "bucket", "total_int64"));
        assertEveryOutputMatchesPython(TestModels.embedding(), 16, List.of("embedding"));
    }

    @Test
    void item22_describesOutputsWithDatatypesShapesAndZipMapClassLabels() {
        try (OnnxModel m = OnnxModel.load(TestModels.iris(), ModelConfig.defaults(), 1)) {
            assertThat(m.signature().output("output_label")).isEqualTo(new TensorSpec("output_label", "BYTES",
                    List.of(-1L)));
            assertThat(m.signature().output("output_probability")).isEqualTo(new TensorSpec("output_probability",
                    "FP32", List.of(-1L, 3L), List.of("setosa", "versicolor", "virginica")));
            assertThat(m.signature().hasScore()).isFalse();
        }
        try (OnnxModel m = OnnxModel.load(TestModels.forest(), ModelConfig.defaults(), 1)) {
            assertThat(m.signature().output("output_probability").classLabels()).containsExactly(0L, 1L);
            assertThat(m.signature().scoreIndex()).isEqualTo(1);
            // the score read from the served ZipMap tensor is the fast path's score
            float[] in = TestModels.sampleInput(TestModels.forest());
            FloatMatrix rows = FloatMatrix.of(in, in.length / 20, 20);
            float[] fromTensor = m.infer(rows, Set.of("output_probability")).get("output_probability")
                    .column(m.signature().scoreIndex());
            assertThat(fromTensor).containsExactly(m.score(rows));
        }
        try (OnnxModel m = OnnxModel.load(TestModels.multitarget(), ModelConfig.read(TestModels.multitarget()
                .resolveSibling(ModelConfig.FILE_NAME), ModelConfig.defaults()), 1)) {
            assertThat(m.signature().scoreOutput()).isEqualTo("total");
            assertThat(m.signature().outputs()).extracting(TensorSpec::datatype)
                    .containsExactly("FP32", "FP32", "FP64", "BOOL", "INT32", "INT64");
            assertThat(m.infer(FloatMatrix.of(new float[0], 0, 6), Set.of("targets")).get("targets").shape())
                    .containsExactly(0L, 2L);
        }
        try (OnnxModel m = OnnxModel.load(TestModels.embedding(), ModelConfig.defaults(), 1)) {
            assertThat(m.signature().hasScore()).isFalse();
            assertThat(m.signature().output("embedding").shape()).containsExactly(-1L, 8L);
        }
    }

    @Test
    void refusesAnOutputTheModelDoesNotHave() {
        ModelConfig wrong = ModelConfig.builder().output("nope").queueRows(1000).maxQueueMillis(0).build();
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
