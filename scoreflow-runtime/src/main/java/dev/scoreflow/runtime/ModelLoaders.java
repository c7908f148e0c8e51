package dev.scoreflow.runtime;

import dev.scoreflow.api.Model;
import dev.scoreflow.api.ModelLoadException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * The model loaders of this JVM: ONNX Runtime's first, then those registered with {@link ServiceLoader} (in class-path
 * order). The one path every part loads models through.
 */
public final class ModelLoaders {
    private static final List<ModelLoader> LOADERS = discover();

    private ModelLoaders() {
    }

    private static List<ModelLoader> discover() {
        List<ModelLoader> all = new ArrayList<>();
        all.add(new OnnxModel.Loader());
        for (ModelLoader l : ServiceLoader.load(ModelLoader.class, ModelLoaders.class.getClassLoader())) {
            all.add(l);
        }
        return List.copyOf(all);
    }

    /** Every loader, ONNX Runtime's first. */
    public static List<ModelLoader> all() {
        return LOADERS;
    }

    /**
     * The loader for {@code file}.
     *
     * @throws ModelLoadException naming the file and the formats there are loaders for, if none accepts it
     */
    public static ModelLoader forFile(Path file) {
        for (ModelLoader l : LOADERS) {
            if (l.accepts(file)) {
                return l;
            }
        }
        List<String> known = LOADERS.stream().map(l -> l.fileName() + " (" + l.platform() + ")").toList();
        throw new ModelLoadException("no model loader reads " + file + "; loaders here: " + String.join(", ", known));
    }

    /** Loads {@code file} with the loader that reads it. */
    public static Model load(Path file, ModelConfig config, int intraOpThreads) {
        return forFile(file).load(file, config, intraOpThreads);
    }
}
