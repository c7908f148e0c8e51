package dev.scoreflow.jobs;

import java.util.Objects;

/**
 * A job as submitted: which model, the request body as it came ({@code contentType} says which wire format: the
 * seed's float32 rows or an Open Inference Protocol body), and optionally a FIFO message group and an idempotency
 * key (a retried submission with the same key gets the same job).
 */
public record JobRequest(String model, String contentType, byte[] body, String group, String idempotencyKey) {
    /** Longer model names, groups and keys are refused: they are stored and indexed. */
    public static final int MAX_NAME_CHARS = 256;

    public JobRequest {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(contentType, "contentType");
        Objects.requireNonNull(body, "body");
        check("model", model);
        check("content type", contentType);
        if (group != null) {
            check("group", group);
        }
        if (idempotencyKey != null) {
            check("idempotency key", idempotencyKey);
        }
    }

    private static void check(String what, String v) {
        if (v.isEmpty() || v.length() > MAX_NAME_CHARS) {
            throw new IllegalArgumentException("the " + what + " must have 1 to " + MAX_NAME_CHARS
                    + " characters, had " + v.length());
        }
    }
}
