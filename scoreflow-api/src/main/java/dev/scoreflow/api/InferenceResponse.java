package dev.scoreflow.api;

import java.util.List;

/**
 * An Open Inference Protocol inference response.
 *
 * @param modelName    the model that answered
 * @param modelVersion its version, or null for unversioned models
 * @param id           the request id echoed back, or null
 * @param outputs      the output tensors
 */
public record InferenceResponse(String modelName, String modelVersion, String id, List<InferOutput> outputs) {
    public InferenceResponse {
        outputs = List.copyOf(outputs);
    }
}
