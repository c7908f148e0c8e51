package dev.scoreflow.server;

/**
 * Why an attempt at a callback failed, as its job's callback status will say it; {@code retryable} false when
 * another attempt cannot help (no SMTP server configured, an address the server refuses for good).
 */
final class CallbackException extends Exception {
    final boolean retryable;

    CallbackException(String reason) {
        this(reason, true);
    }

    CallbackException(String reason, boolean retryable) {
        super(reason, null, false, false); // the reason is what matters; no stack trace to fill per attempt
        this.retryable = retryable;
    }
}
