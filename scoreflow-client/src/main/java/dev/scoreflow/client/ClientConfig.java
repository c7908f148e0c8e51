package dev.scoreflow.client;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Everything a {@link ScoringClient} is configured with, made with {@link #builder()}. Immutable and comparable:
 * two equal configurations share one client per JVM through {@link ScoringClients#shared}. The settings, each an
 * accessor of the same name:
 *
 * <br>{@code endpoints}: scoring nodes, e.g. {@code http://10.0.0.5:8080}; requests are balanced over them
 * <br>{@code model}: model name, or null for the server's only model (seed protocol {@code PUT /score})
 * <br>{@code protocol}: wire protocol (default {@link Protocol#SEED})
 * <br>{@code output}: V2 output to read scores from (default {@code score})
 * <br>{@code inputName}: V2 input name, or null to read it from the model's metadata on first use
 * <br>{@code requestTimeout}: how long one attempt may take before it is abandoned and retried (default 30 s)
 * <br>{@code deadline}: how long one batch may take over all its attempts before it fails (default 5 min)
 * <br>{@code maxAttempts}: attempts per batch, the first included (default 10)
 * <br>{@code backoffBase}: first retry delay before jitter; doubles per attempt (default 50 ms)
 * <br>{@code backoffMax}: largest retry delay (default 5 s); a longer {@code Retry-After} still wins
 * <br>{@code minConcurrency}: lower bound of the adaptive limit of requests in flight (default 1)
 * <br>{@code maxConcurrency}: upper bound of the adaptive limit (default 64)
 * <br>{@code initialConcurrency}: where the adaptive limit starts (default 8)
 * <br>{@code maxWaiting}: batches that may wait for a slot under the limit (default 4096); beyond that
 *                         {@link ScoringClient#score} fails a batch at once with {@link ClientQueueFullException}.
 *                         Retries of admitted batches always get a place. 0: never wait, refuse at once
 * <br>{@code latencyTolerance}: how many times its lowest per-row latency a request may take before the limit shrinks
 *                         (default 4; 0 turns the latency signal off and leaves only 429/503/timeouts)
 * <br>{@code breakerThreshold}: consecutive failed attempts (connection errors, timeouts) that open the circuit
 *                         (default 32)
 * <br>{@code breakerOpenTime}: how long an open circuit fails calls at once before it lets one trial through
 *                         (default 5 s)
 * <br>{@code healthInterval}: how often every node's {@code /v2/health/ready} is checked (default 1 s)
 * <br>{@code ioThreads}: Netty event-loop threads (default 1: the client's work per request is small)
 * <br>{@code bearerToken}: sent as {@code Authorization: Bearer ...}, or null; {@link #toString} redacts it
 * <br>{@code trustCertificates}: for {@code https} endpoints: a PEM file of the certificates to trust, or null for the
 *                         JVM's default trust store; host names are verified either way
 */
public final class ClientConfig {
    private final List<URI> endpoints;
    private final String model;
    private final Protocol protocol;
    private final String output;
    private final String inputName;
    private final Duration requestTimeout;
    private final Duration deadline;
    private final int maxAttempts;
    private final Duration backoffBase;
    private final Duration backoffMax;
    private final int minConcurrency;
    private final int maxConcurrency;
    private final int initialConcurrency;
    private final int maxWaiting;
    private final double latencyTolerance;
    private final int breakerThreshold;
    private final Duration breakerOpenTime;
    private final Duration healthInterval;
    private final int ioThreads;
    private final String bearerToken;
    private final String trustCertificates;


    /**
     * Default {@code maxWaiting}: far above what windowed callers queue ({@link OrderedScoring} keeps at most
     * {@code maxInFlight} batches out per stream, 8 by default, so 4096 is 512 Spark tasks in one executor), low
     * enough that a caller firing batches in a loop learns at once that it outruns the servers.
     */
    public static final int DEFAULT_MAX_WAITING = 4096;

    private ClientConfig(List<URI> endpoints, String model, Protocol protocol, String output, String inputName, Duration requestTimeout, Duration deadline, int maxAttempts, Duration backoffBase, Duration backoffMax, int minConcurrency, int maxConcurrency, int initialConcurrency, int maxWaiting, double latencyTolerance, int breakerThreshold, Duration breakerOpenTime, Duration healthInterval, int ioThreads, String bearerToken, String trustCertificates) {
        endpoints = List.copyOf(endpoints);
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("at least one endpoint is needed");
        }
        for (URI u : endpoints) {
            if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
                throw new IllegalArgumentException("endpoint must look like http://host:port or https://host:port, "
                        + "got '" + u + "'");
            }
        }
        Objects.requireNonNull(protocol, "protocol");
        if (protocol == Protocol.V2 && (model == null || model.isBlank())) {
            throw new IllegalArgumentException("the V2 protocol needs a model name (/v2/models/{name}/infer)");
        }
        Objects.requireNonNull(output, "output");
        positive(requestTimeout, "requestTimeout");
        positive(deadline, "deadline");
        positive(backoffBase, "backoffBase");
        positive(backoffMax, "backoffMax");
        positive(breakerOpenTime, "breakerOpenTime");
        positive(healthInterval, "healthInterval");
        atLeast(maxAttempts, 1, "maxAttempts");
        atLeast(minConcurrency, 1, "minConcurrency");
        atLeast(maxConcurrency, minConcurrency, "maxConcurrency");
        if (initialConcurrency < minConcurrency || initialConcurrency > maxConcurrency) {
            throw new IllegalArgumentException("initialConcurrency must be in [" + minConcurrency + ", "
                    + maxConcurrency + "], got " + initialConcurrency);
        }
        atLeast(maxWaiting, 0, "maxWaiting");
        if (latencyTolerance != 0 && latencyTolerance < 1.5) {
            throw new IllegalArgumentException("latencyTolerance must be 0 (off) or >= 1.5, got "
                    + latencyTolerance);
        }
        atLeast(breakerThreshold, 1, "breakerThreshold");
        atLeast(ioThreads, 1, "ioThreads");
        this.endpoints = endpoints;
        this.model = model;
        this.protocol = protocol;
        this.output = output;
        this.inputName = inputName;
        this.requestTimeout = requestTimeout;
        this.deadline = deadline;
        this.maxAttempts = maxAttempts;
        this.backoffBase = backoffBase;
        this.backoffMax = backoffMax;
        this.minConcurrency = minConcurrency;
        this.maxConcurrency = maxConcurrency;
        this.initialConcurrency = initialConcurrency;
        this.maxWaiting = maxWaiting;
        this.latencyTolerance = latencyTolerance;
        this.breakerThreshold = breakerThreshold;
        this.breakerOpenTime = breakerOpenTime;
        this.healthInterval = healthInterval;
        this.ioThreads = ioThreads;
        this.bearerToken = bearerToken;
        this.trustCertificates = trustCertificates;
    }

    public List<URI> endpoints() {
        return endpoints;
    }

    public String model() {
        return model;
    }

    public Protocol protocol() {
        return protocol;
    }

    public String output() {
        return output;
    }

    public String inputName() {
        return inputName;
    }

    public Duration requestTimeout() {
        return requestTimeout;
    }

    public Duration deadline() {
        return deadline;
    }

    public int maxAttempts() {
        return maxAttempts;
    }

    public Duration backoffBase() {
        return backoffBase;
    }

    public Duration backoffMax() {
        return backoffMax;
    }

    public int minConcurrency() {
        return minConcurrency;
    }

    public int maxConcurrency() {
        return maxConcurrency;
    }

    public int initialConcurrency() {
        return initialConcurrency;
    }

    public int maxWaiting() {
        return maxWaiting;
    }

    public double latencyTolerance() {
        return latencyTolerance;
    }

    public int breakerThreshold() {
        return breakerThreshold;
    }

    public Duration breakerOpenTime() {
        return breakerOpenTime;
    }

    public Duration healthInterval() {
        return healthInterval;
    }

    public int ioThreads() {
        return ioThreads;
    }

    public String bearerToken() {
        return bearerToken;
    }

    public String trustCertificates() {
        return trustCertificates;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ClientConfig c)) {
            return false;
        }
        return Objects.equals(endpoints, c.endpoints)
                && Objects.equals(model, c.model)
                && Objects.equals(protocol, c.protocol)
                && Objects.equals(output, c.output)
                && Objects.equals(inputName, c.inputName)
                && Objects.equals(requestTimeout, c.requestTimeout)
                && Objects.equals(deadline, c.deadline)
                && maxAttempts == c.maxAttempts
                && Objects.equals(backoffBase, c.backoffBase)
                && Objects.equals(backoffMax, c.backoffMax)
                && minConcurrency == c.minConcurrency
                && maxConcurrency == c.maxConcurrency
                && initialConcurrency == c.initialConcurrency
                && maxWaiting == c.maxWaiting
                && Double.compare(latencyTolerance, c.latencyTolerance) == 0
                && breakerThreshold == c.breakerThreshold
                && Objects.equals(breakerOpenTime, c.breakerOpenTime)
                && Objects.equals(healthInterval, c.healthInterval)
                && ioThreads == c.ioThreads
                && Objects.equals(bearerToken, c.bearerToken)
                && Objects.equals(trustCertificates, c.trustCertificates);
    }

    @Override
    public int hashCode() {
        return Objects.hash(endpoints, model, protocol, output, inputName, requestTimeout, deadline, maxAttempts, backoffBase, backoffMax, minConcurrency, maxConcurrency, initialConcurrency, maxWaiting, latencyTolerance, breakerThreshold, breakerOpenTime, healthInterval, ioThreads, bearerToken, trustCertificates);
    }

    /** Every setting, the bearer token redacted: configurations end up in logs and error messages. */
    @Override
    public String toString() {
        return "ClientConfig[endpoints=" + endpoints + ", model=" + model + ", protocol=" + protocol + ", output="
                + output + ", inputName=" + inputName + ", requestTimeout=" + requestTimeout + ", deadline="
                + deadline + ", maxAttempts=" + maxAttempts + ", backoffBase=" + backoffBase + ", backoffMax="
                + backoffMax + ", minConcurrency=" + minConcurrency + ", maxConcurrency=" + maxConcurrency
                + ", initialConcurrency=" + initialConcurrency + ", maxWaiting=" + maxWaiting + ", latencyTolerance="
                + latencyTolerance + ", breakerThreshold=" + breakerThreshold + ", breakerOpenTime="
                + breakerOpenTime + ", healthInterval=" + healthInterval + ", ioThreads=" + ioThreads
                + ", bearerToken=" + (bearerToken == null ? "null" : "(redacted)") + ", trustCertificates="
                + trustCertificates + "]";
    }

    /** A builder with the defaults above. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder for {@code endpoints} given as a comma-separated list ({@code http://a:8080,http://b:8080}). */
    public static Builder builder(String endpoints) {
        Builder b = new Builder();
        for (String e : endpoints.split(",")) {
            if (!e.isBlank()) {
                b.endpoint(URI.create(e.strip()));
            }
        }
        return b;
    }

    /** This configuration as a builder, to change a setting. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.endpoints.addAll(endpoints);
        return b.model(model).protocol(protocol).output(output).inputName(inputName).requestTimeout(requestTimeout)
                .deadline(deadline).maxAttempts(maxAttempts).backoff(backoffBase, backoffMax)
                .concurrency(minConcurrency, initialConcurrency, maxConcurrency).maxWaiting(maxWaiting)
                .latencyTolerance(latencyTolerance)
                .breaker(breakerThreshold, breakerOpenTime).healthInterval(healthInterval).ioThreads(ioThreads)
                .bearerToken(bearerToken).trustCertificates(trustCertificates);
    }

    private static void positive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be > 0, got " + d);
        }
    }

    private static void atLeast(int v, int min, String name) {
        if (v < min) {
            throw new IllegalArgumentException(name + " must be >= " + min + ", got " + v);
        }
    }

    /** Builds a {@link ClientConfig}; every setting has a default except the endpoints. */
    public static final class Builder {
        private final List<URI> endpoints = new ArrayList<>();
        private String model;
        private Protocol protocol = Protocol.SEED;
        private String output = "score";
        private String inputName;
        private Duration requestTimeout = Duration.ofSeconds(30);
        private Duration deadline = Duration.ofMinutes(5);
        private int maxAttempts = 10;
        private Duration backoffBase = Duration.ofMillis(50);
        private Duration backoffMax = Duration.ofSeconds(5);
        private int minConcurrency = 1;
        private int initialConcurrency = 8;
        private int maxConcurrency = 64;
        private int maxWaiting = DEFAULT_MAX_WAITING;
        private double latencyTolerance = 4;
        private int breakerThreshold = 32;
        private Duration breakerOpenTime = Duration.ofSeconds(5);
        private Duration healthInterval = Duration.ofSeconds(1);
        private int ioThreads = 1;
        private String bearerToken;
        private String trustCertificates;

        private Builder() {
        }

        public Builder endpoint(URI endpoint) {
            endpoints.add(endpoint);
            return this;
        }

        public Builder endpoint(String endpoint) {
            return endpoint(URI.create(endpoint));
        }

        public Builder model(String model) {
            this.model = model;
            return this;
        }

        public Builder protocol(Protocol protocol) {
            this.protocol = protocol;
            return this;
        }

        public Builder output(String output) {
            this.output = output;
            return this;
        }

        public Builder inputName(String inputName) {
            this.inputName = inputName;
            return this;
        }

        public Builder requestTimeout(Duration requestTimeout) {
            this.requestTimeout = requestTimeout;
            return this;
        }

        public Builder deadline(Duration deadline) {
            this.deadline = deadline;
            return this;
        }

        public Builder maxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
            return this;
        }

        public Builder backoff(Duration base, Duration max) {
            this.backoffBase = base;
            this.backoffMax = max;
            return this;
        }

        public Builder concurrency(int min, int initial, int max) {
            this.minConcurrency = min;
            this.initialConcurrency = initial;
            this.maxConcurrency = max;
            return this;
        }

        /** Batches that may wait for a slot (default 4096); more fail at once with {@link ClientQueueFullException}. */
        public Builder maxWaiting(int maxWaiting) {
            this.maxWaiting = maxWaiting;
            return this;
        }

        public Builder latencyTolerance(double latencyTolerance) {
            this.latencyTolerance = latencyTolerance;
            return this;
        }

        public Builder breaker(int threshold, Duration openTime) {
            this.breakerThreshold = threshold;
            this.breakerOpenTime = openTime;
            return this;
        }

        public Builder healthInterval(Duration healthInterval) {
            this.healthInterval = healthInterval;
            return this;
        }

        public Builder ioThreads(int ioThreads) {
            this.ioThreads = ioThreads;
            return this;
        }

        public Builder bearerToken(String bearerToken) {
            this.bearerToken = bearerToken;
            return this;
        }

        /** A PEM file of certificates to trust for https endpoints (default: the JVM's trust store). */
        public Builder trustCertificates(String pemFile) {
            this.trustCertificates = pemFile;
            return this;
        }

        public ClientConfig build() {
            return new ClientConfig(endpoints, model, protocol, output, inputName, requestTimeout, deadline,
                    maxAttempts, backoffBase, backoffMax, minConcurrency, maxConcurrency, initialConcurrency,
                    maxWaiting, latencyTolerance, breakerThreshold, breakerOpenTime, healthInterval, ioThreads, bearerToken,
                    trustCertificates);
        }
    }
}
