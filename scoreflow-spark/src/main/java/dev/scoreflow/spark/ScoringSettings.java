package dev.scoreflow.spark;

import dev.scoreflow.client.ClientConfig;
import dev.scoreflow.client.Protocol;

import java.io.Serializable;
import java.time.Duration;

/**
 * What a partition needs to score: shipped to executors with the task, so plain values only. Exactly one of
 * {@code endpoints} (remote scoring through the shared client) and {@code modelPath} (in-process) is set.
 */
record ScoringSettings(String endpoints, String serverModel, String protocol, String modelPath, int batchRows,
                       int maxInFlight, long requestTimeoutMs, long deadlineMs, int featuresIndex,
                       Double threshold, boolean errorValues, String trustCertificates) implements Serializable {

    boolean remote() {
        return endpoints != null;
    }

    /** The client configuration; equal settings give equal configurations, so one client per executor. */
    ClientConfig clientConfig() {
        return ClientConfig.builder(endpoints).model(serverModel)
                .protocol(Protocol.valueOf(protocol.toUpperCase(java.util.Locale.ROOT)))
                .requestTimeout(Duration.ofMillis(requestTimeoutMs)).deadline(Duration.ofMillis(deadlineMs))
                .trustCertificates(trustCertificates).build();
    }
}
