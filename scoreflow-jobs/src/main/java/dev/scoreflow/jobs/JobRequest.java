package dev.scoreflow.jobs;

import java.util.Objects;

/**
 * A job as submitted: a scoring request to run later, exactly as it would have been sent synchronously — the model
 * (and version, null: the default), the protocol ({@code seed}: float32 rows; {@code v2}: an Open Inference
 * Protocol body, with {@code headerLength} the JSON header's length when the body carries binary tensors, else -1),
 * the content type and the body — and optionally a FIFO message group and an idempotency key (a retried submission
 * with the same key gets the same job).
 */
public record JobRequest(String model, String version, String protocol, String contentType, long headerLength,
                         byte[] body, String group, String idempotencyKey) {
    /** Longer names, groups and keys are refused: they are stored and indexed. */
    public static final int MAX_NAME_CHARS = 256;
    public static final String SEED = "seed";
    public static final String V2 = "v2";

    public JobRequest {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(contentType, "contentType");
        Objects.requireNonNull(body, "body");
        check("model", model);
        if (version != null) {
            check("version", version);
        }
        if (!protocol.equals(SEED) && !protocol.equals(V2)) {
            throw new IllegalArgumentException("the protocol must be seed or v2, was '" + protocol + "'");
        }
        check("content type", contentType);
        if (headerLength < -1 || headerLength > body.length) {
            throw new IllegalArgumentException("the header length must be -1 or within the body's " + body.length
                    + " bytes, was " + headerLength);
        }
        if (group != null) {
            check("group", group);
        }
        if (idempotencyKey != null) {
            check("idempotency key", idempotencyKey);
        }
    }

    /** A seed-protocol job: little-endian float32 rows for {@code model}'s default version. */
    public static JobRequest seed(String model, byte[] rows) {
        return new JobRequest(model, null, SEED, "application/octet-stream", -1, rows, null, null);
    }

    public JobRequest withGroup(String g) {
        return new JobRequest(model, version, protocol, contentType, headerLength, body, g, idempotencyKey);
    }

    public JobRequest withIdempotencyKey(String key) {
        return new JobRequest(model, version, protocol, contentType, headerLength, body, group, key);
    }

    private static void check(String what, String v) {
        if (v.isEmpty() || v.length() > MAX_NAME_CHARS) {
            throw new IllegalArgumentException("the " + what + " must have 1 to " + MAX_NAME_CHARS
                    + " characters, had " + v.length());
        }
    }
}
