package dev.scoreflow.spark;

import dev.scoreflow.client.ClientConfig;
import dev.scoreflow.client.Protocol;

import java.io.Serializable;
import java.time.Duration;

/**
 * What a partition needs to score: shipped to executors with the task, so plain values only. Exactly one of
 * {@code endpoints} (remote scoring through the shared client) and {@code modelPath} (in-process) is set. The bearer
 * token, read on the driver from a file or an environment variable, travels with the tasks but is never printed.
 */
record ScoringSettings(String endpoints, String serverModel, String protocol, String modelPath, int batchRows,
                       int maxInFlight, long requestTimeoutMs, long deadlineMs, int featuresIndex,
                       Double threshold, boolean errorValues, String trustCertificates, String bearerToken)
        implements Serializable {

    /** The settings, the bearer token redacted (Spark may print a task's closure in errors and debug logs). */
    @Override
    public String toString() {
        return "ScoringSettings[endpoints=" + endpoints + ", serverModel=" + serverModel + ", protocol=" + protocol
                + ", modelPath=" + modelPath + ", batchRows=" + batchRows + ", maxInFlight=" + maxInFlight
                + ", requestTimeoutMs=" + requestTimeoutMs + ", deadlineMs=" + deadlineMs + ", featuresIndex="
                + featuresIndex + ", threshold=" + threshold + ", errorValues=" + errorValues
                + ", trustCertificates=" + trustCertificates + ", bearerToken="
                + (bearerToken == null ? "null" : "(redacted)") + "]";
    }

    boolean remote() {
        return endpoints != null;
    }

    /** The client configuration; equal settings give equal configurations, so one client per executor. */
    ClientConfig clientConfig() {
        return ClientConfig.builder(endpoints).model(serverModel)
                .protocol(Protocol.valueOf(protocol.toUpperCase(java.util.Locale.ROOT)))
                .requestTimeout(Duration.ofMillis(requestTimeoutMs)).deadline(Duration.ofMillis(deadlineMs))
                .trustCertificates(trustCertificates).bearerToken(bearerToken).build();
    }
}
