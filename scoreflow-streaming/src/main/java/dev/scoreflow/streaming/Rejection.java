package dev.scoreflow.streaming;

/**
 * Why an input record goes to the dead-letter topic instead of being scored: a {@code reason} from a fixed set
 * (below: what a consumer of dead letters switches on) and a human-readable {@code detail}.
 */
final class Rejection extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The value is not one JSON object (not JSON, not UTF-8, or another JSON type). */
    static final String MALFORMED_JSON = "malformed_json";
    /** A field the event schema or the features need is absent (or null). */
    static final String MISSING_FIELD = "missing_field";
    /** A field has the wrong JSON type (a string where a number is needed, ...). */
    static final String MISTYPED_FIELD = "mistyped_field";
    /** A raw field or a computed feature is NaN or infinite. */
    static final String NON_FINITE_FEATURE = "non_finite_feature";
    /** The model failed on the event's vector. */
    static final String SCORING_FAILED = "scoring_failed";

    private final String reason;

    Rejection(String reason, String detail) {
        super(detail, null, false, false);
        this.reason = reason;
    }

    String reason() {
        return reason;
    }
}
