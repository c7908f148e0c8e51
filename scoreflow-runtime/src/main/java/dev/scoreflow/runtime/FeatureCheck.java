package dev.scoreflow.runtime;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.FloatMatrix;

/**
 * What every scoring path checks before a model sees the rows, so that the server and in-process scoring (Spark,
 * streams) refuse the same inputs with the same words: the feature count, and NaN or infinite values unless the
 * model's {@code allowNonFinite} says it handles them.
 */
public final class FeatureCheck {
    private FeatureCheck() {
    }

    /**
     * @param model how to name the model in the message
     * @throws BadInputException naming the first offending row and feature
     */
    public static void check(String model, int features, ModelConfig config, FloatMatrix rows) {
        if (rows.cols() != features) {
            throw new BadInputException("rows have " + rows.cols() + " features; " + model + " takes " + features);
        }
        if (!config.allowNonFinite()) {
            long at = rows.firstNonFinite();
            if (at >= 0) {
                float v = rows.get((int) (at / features), (int) (at % features));
                throw new BadInputException("row " + at / features + ", feature " + at % features + " is " + v
                        + "; " + model + " does not accept NaN or infinite features"
                        + " (set \"allowNonFinite\": true in " + ModelConfig.FILE_NAME + " if it handles them)");
            }
        }
    }
}
