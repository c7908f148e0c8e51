package dev.scoreflow.runtime;

import dev.scoreflow.api.Model;
import dev.scoreflow.api.ModelLoadException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A second engine for the tests, registered through {@code META-INF/services}: a {@code model.rowsum} file holds the
 * feature count, and the model scores a row as the sum of its values ({@link FakeModels.RowSum}).
 */
public final class RowSumLoader implements ModelLoader {
    @Override
    public String platform() {
        return "scoreflow_rowsum";
    }

    @Override
    public String fileName() {
        return "model.rowsum";
    }

    @Override
    public Model load(Path file, ModelConfig config, int intraOpThreads) {
        try {
            return new FakeModels.RowSum(Integer.parseInt(Files.readString(file).trim()));
        } catch (IOException | NumberFormatException e) {
            throw new ModelLoadException("cannot read the feature count in " + file + ": " + e.getMessage(), e);
        }
    }
}
