package dev.scoreflow.api;

import java.util.List;
import java.util.Map;

/**
 * A decoded Open Inference Protocol (KServe V2) inference request.
 *
 * @param id         the client's request id, echoed in the response; may be null
 * @param parameters request parameters ({@code binary_data_output}, {@code timeout}, ...); never null
 * @param inputs     the input tensors, in request order
 * @param outputs    the outputs asked for; empty means all
 */
public record InferenceRequest(String id, Map<String, Object> parameters, List<InferInput> inputs,
                               List<RequestedOutput> outputs) {
    public InferenceRequest {
        parameters = Map.copyOf(parameters);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }

    /** The request-level {@code binary_data_output} parameter (false if absent). */
    public boolean binaryDataOutput() {
        return Boolean.TRUE.equals(parameters.get("binary_data_output"));
    }
}
