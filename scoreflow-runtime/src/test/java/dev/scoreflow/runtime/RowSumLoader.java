package dev.scoreflow.runtime;

import dev.scoreflow.api.Model;
import dev.scoreflow.api.ModelLoadException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A second engine for the tests, registered through {@code META-INF/services}: a {@code model.rowsum} file holds the
 * feature count, and the model scores a row as the sum of its values ({@link FakeModels.RowSum}). A second line, if
 * there is one, is an error the engine fails every call with: a model that loads and describes itself like any other
 * and always fails at scoring time ({@link #writeFailing}).
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
            java.util.List<String> lines = Files.readAllLines(file);
            FakeModels.RowSum m = new FakeModels.RowSum(Integer.parseInt(lines.get(0).trim()));
            m.failure = lines.size() > 1 && !lines.get(1).isBlank() ? lines.get(1) : null;
            return m;
        } catch (IOException | NumberFormatException | IndexOutOfBoundsException e) {
            throw new ModelLoadException("cannot read the feature count in " + file + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code dir/model.rowsum}: {@code features} features, every call failing with {@code error}. */
    public static Path writeFailing(Path dir, int features, String error) {
        try {
            Files.createDirectories(dir);
            return Files.writeString(dir.resolve("model.rowsum"), features + "\n" + error + "\n");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
