package dev.scoreflow.jobs;

import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A job as submitted: a scoring request to run later, exactly as it would have been sent synchronously — the model
 * (and version, null: the default), the protocol ({@code seed}: float32 rows; {@code v2}: an Open Inference
 * Protocol body, with {@code headerLength} the JSON header's length when the body carries binary tensors, else -1),
 * the content type and the body — and optionally a FIFO message group, an idempotency key (a retried submission
 * with the same key gets the same job) and callbacks: {@code http://} or {@code https://} URLs POSTed the finished
 * job, {@code mailto:} addresses sent it by e-mail.
 */
public record JobRequest(String model, String version, String protocol, String contentType, long headerLength,
                         byte[] body, String group, String idempotencyKey, List<String> callbacks) {
    /** Longer names, groups and keys are refused: they are stored and indexed. */
    public static final int MAX_NAME_CHARS = 256;
    /** At most this many callbacks per job, each at most {@link #MAX_CALLBACK_CHARS} long. */
    public static final int MAX_CALLBACKS = 8;
    public static final int MAX_CALLBACK_CHARS = 2048;
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
        callbacks = callbacks == null ? List.of() : List.copyOf(callbacks);
        if (callbacks.size() > MAX_CALLBACKS) {
            throw new IllegalArgumentException("a job takes at most " + MAX_CALLBACKS + " callbacks, got "
                    + callbacks.size());
        }
        callbacks.forEach(JobRequest::checkCallback);
    }

    /** A job without callbacks. */
    public JobRequest(String model, String version, String protocol, String contentType, long headerLength,
                      byte[] body, String group, String idempotencyKey) {
        this(model, version, protocol, contentType, headerLength, body, group, idempotencyKey, List.of());
    }

    /** A seed-protocol job: little-endian float32 rows for {@code model}'s default version. */
    public static JobRequest seed(String model, byte[] rows) {
        return new JobRequest(model, null, SEED, "application/octet-stream", -1, rows, null, null);
    }

    public JobRequest withGroup(String g) {
        return new JobRequest(model, version, protocol, contentType, headerLength, body, g, idempotencyKey, callbacks);
    }

    public JobRequest withIdempotencyKey(String key) {
        return new JobRequest(model, version, protocol, contentType, headerLength, body, group, key, callbacks);
    }

    public JobRequest withCallbacks(List<String> c) {
        return new JobRequest(model, version, protocol, contentType, headerLength, body, group, idempotencyKey, c);
    }

    /** Refuses what is not an absolute http(s) URL with a host or a mailto: address, naming the callback. */
    private static void checkCallback(String c) {
        if (c == null || c.isEmpty() || c.length() > MAX_CALLBACK_CHARS) {
            throw new IllegalArgumentException("a callback must have 1 to " + MAX_CALLBACK_CHARS + " characters");
        }
        URI u;
        try {
            u = new URI(c);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException("callback '" + c + "' is not a URL: " + e.getMessage());
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        switch (scheme) {
            case "http", "https" -> {
                if (u.getHost() == null) {
                    throw new IllegalArgumentException("callback '" + c + "' has no host");
                }
            }
            case "mailto" -> {
                String to = u.getSchemeSpecificPart();
                if (to == null || !to.matches("[^@\\s,?]+@[^@\\s,?]+")) {
                    throw new IllegalArgumentException("callback '" + c + "' is not mailto:one@address");
                }
            }
            default -> throw new IllegalArgumentException("callback '" + c
                    + "' must be an http://, https:// or mailto: URL");
        }
    }

    private static void check(String what, String v) {
        if (v.isEmpty() || v.length() > MAX_NAME_CHARS) {
            throw new IllegalArgumentException("the " + what + " must have 1 to " + MAX_NAME_CHARS
                    + " characters, had " + v.length());
        }
    }
}
