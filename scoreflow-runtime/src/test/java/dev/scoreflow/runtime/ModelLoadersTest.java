package dev.scoreflow.runtime;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ModelLoadException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The model loader SPI: ONNX Runtime built in, a second engine found through META-INF/services. */
class ModelLoadersTest {

    @Test
    void onnxRuntimeComesFirstAndARegisteredLoaderIsFound() {
        assertThat(ModelLoaders.all()).first().extracting(ModelLoader::platform).isEqualTo("onnxruntime_onnx");
        assertThat(ModelLoaders.forFile(Path.of("x/model.onnx")).platform()).isEqualTo("onnxruntime_onnx");
        assertThat(ModelLoaders.forFile(Path.of("x/model.rowsum"))).isInstanceOf(RowSumLoader.class);
    }

    @Test
    void aFileNoLoaderReadsIsRefusedNamingTheLoadersThereAre() {
        assertThatThrownBy(() -> ModelLoaders.forFile(Path.of("m/1/model.pt")))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("model.pt")
                .hasMessageContaining("model.onnx (onnxruntime_onnx)")
                .hasMessageContaining("model.rowsum (scoreflow_rowsum)");
    }

    @Test
    void theRepositoryServesEveryEngineThroughOnePathAndKnowsEachPlatform(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("sum/1"));
        Files.writeString(dir.resolve("sum/1/model.rowsum"), "3");
        Files.createDirectories(dir.resolve("onnx/1"));
        Files.copy(TestModels.example(), dir.resolve("onnx/1/model.onnx"));
        try (ModelRepository r = ModelRepository.builder().root(dir).build()) {
            ServedModel sum = r.get("sum", null);
            assertThat(sum.platform()).isEqualTo("scoreflow_rowsum");
            assertThat(sum.score(FloatMatrix.ofRows(new float[]{1, 2, 3}, new float[]{4, 5, 6}), Long.MAX_VALUE).get())
                    .containsExactly(6f, 15f);
            assertThat(r.get("onnx", null).platform()).isEqualTo("onnxruntime_onnx");
        }
    }
}
