package dev.scoreflow.server;

import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;

/**
 * How a {@link JobWorker} sends the callbacks of the jobs it finishes: the webhook signing secret, attempts and
 * backoff, the per-attempt timeout, how many callbacks may be in progress at once, and the SMTP server for
 * {@code mailto:} callbacks. Immutable; made with {@link #builder()}, whose setters refuse a bad value at once.
 *
 * <ul>
 * <li>{@code callback.secret} — HMAC-SHA256 key of the {@value CallbackSignature#HEADER} header (default: none,
 * webhooks go unsigned and the worker says so once).</li>
 * <li>{@code callback.attempts} — attempts per callback before it is recorded failed (default 5).</li>
 * <li>{@code callback.backoff} — wait before the second attempt, doubled for each next one up to
 * {@code callback.max-backoff} (defaults 1 s, 60 s).</li>
 * <li>{@code callback.timeout} — connect plus answer time of one attempt (default 10 s).</li>
 * <li>{@code callback.capacity} — callbacks in progress (sending or waiting to retry) at most; beyond it a callback
 * is not sent, and its job's callback status and the log say so (default 1,000).</li>
 * <li>{@code callback.smtp} — {@code host:port} of the SMTP server for {@code mailto:} (default: none, such a
 * callback fails at once saying so); {@code callback.mail-from} its sender address.</li>
 * </ul>
 */
public final class CallbackSettings {
    final byte[] secret;
    final int attempts;
    final Duration backoff;
    final Duration maxBackoff;
    final Duration timeout;
    final int capacity;
    final int threads;
    final String smtpHost;
    final int smtpPort;
    final String mailFrom;
    final Clock clock;
    final RetryTimer timer;

    private CallbackSettings(Builder b) {
        this.secret = b.secret;
        this.attempts = b.attempts;
        this.backoff = b.backoff;
        this.maxBackoff = b.maxBackoff;
        this.timeout = b.timeout;
        this.capacity = b.capacity;
        this.threads = b.threads;
        this.smtpHost = b.smtpHost;
        this.smtpPort = b.smtpPort;
        this.mailFrom = b.mailFrom;
        this.clock = b.clock;
        this.timer = b.timer;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The defaults: unsigned webhooks, no SMTP server. */
    public static CallbackSettings defaults() {
        return builder().build();
    }

    /** The wait before attempt {@code next} (2, 3, ...): backoff, doubled each time, at most maxBackoff. */
    Duration delayBefore(int next) {
        long ms = backoff.toMillis() << Math.min(30, Math.max(0, next - 2));
        return Duration.ofMillis(Math.min(ms, maxBackoff.toMillis()));
    }

    @Override
    public String toString() {
        return "CallbackSettings[secret=" + (secret == null ? "none" : "(redacted)") + ", attempts=" + attempts
                + ", backoff=" + backoff + ".." + maxBackoff + ", timeout=" + timeout + ", capacity=" + capacity
                + ", smtp=" + (smtpHost == null ? "none" : smtpHost + ":" + smtpPort) + ", mailFrom=" + mailFrom + "]";
    }

    /** Schedules a retry: the test seam of the backoff (a recording or immediate timer), the real one by default. */
    interface RetryTimer {
        void schedule(Runnable retry, Duration delay);
    }

    /** Builds {@link CallbackSettings}; not thread-safe. */
    public static final class Builder {
        private byte[] secret;
        private int attempts = 5;
        private Duration backoff = Duration.ofSeconds(1);
        private Duration maxBackoff = Duration.ofSeconds(60);
        private Duration timeout = Duration.ofSeconds(10);
        private int capacity = 1000;
        private int threads = 2;
        private String smtpHost;
        private int smtpPort;
        private String mailFrom = "scoreflow@localhost";
        private Clock clock = Clock.systemUTC();
        private RetryTimer timer;

        private Builder() {
        }

        /** The webhook signing key (at least 16 bytes: a shorter one is guessable). */
        public Builder secret(byte[] key) {
            if (key == null || key.length < 16) {
                throw new IllegalArgumentException("the callback secret must have at least 16 bytes, had "
                        + (key == null ? 0 : key.length));
            }
            this.secret = Arrays.copyOf(key, key.length);
            return this;
        }

        public Builder attempts(int n) {
            if (n < 1 || n > 100) {
                throw new IllegalArgumentException("callback attempts must be in [1, 100], was " + n);
            }
            this.attempts = n;
            return this;
        }

        /** The first wait between attempts and the most any wait grows to. */
        public Builder backoff(Duration first, Duration max) {
            if (first.isNegative() || max.compareTo(first) < 0 || max.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("callback backoff must be 0 <= first <= max <= 1 h, was "
                        + first + " and " + max);
            }
            this.backoff = first;
            this.maxBackoff = max;
            return this;
        }

        public Builder timeout(Duration t) {
            if (t.toMillis() < 10 || t.compareTo(Duration.ofMinutes(5)) > 0) {
                throw new IllegalArgumentException("the callback timeout must be in [10 ms, 5 min], was " + t);
            }
            this.timeout = t;
            return this;
        }

        public Builder capacity(int n) {
            if (n < 1 || n > 1_000_000) {
                throw new IllegalArgumentException("callback capacity must be in [1, 1000000], was " + n);
            }
            this.capacity = n;
            return this;
        }

        /** Threads that send (each attempt blocks one for at most the timeout). */
        public Builder threads(int n) {
            if (n < 1 || n > 64) {
                throw new IllegalArgumentException("callback threads must be in [1, 64], was " + n);
            }
            this.threads = n;
            return this;
        }

        /** The SMTP server for mailto: callbacks, as {@code host:port}. */
        public Builder smtp(String hostPort) {
            int colon = hostPort == null ? -1 : hostPort.lastIndexOf(':');
            int port = -1;
            if (colon > 0) {
                try {
                    port = Integer.parseInt(hostPort.substring(colon + 1));
                } catch (NumberFormatException e) {
                    port = -1;
                }
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("the SMTP server must be host:port with a port in [1, 65535], "
                        + "was '" + hostPort + "'");
            }
            this.smtpHost = hostPort.substring(0, colon);
            this.smtpPort = port;
            return this;
        }

        public Builder mailFrom(String address) {
            if (address == null || !address.matches("[^@\\s,]+@[^@\\s,]+")) {
                throw new IllegalArgumentException("the mail sender must be one@address, was '" + address + "'");
            }
            this.mailFrom = address;
            return this;
        }

        /** The clock of the signatures' timestamps. */
        Builder clock(Clock c) {
            this.clock = c;
            return this;
        }

        Builder timer(RetryTimer t) {
            this.timer = t;
            return this;
        }

        public CallbackSettings build() {
            return new CallbackSettings(this);
        }
    }
}
