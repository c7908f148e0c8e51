package dev.scoreflow.server;

/**
 * When {@code GET /v2/health/ready} answers 200. Load balancers and the Scoreflow client use it to decide whether
 * to send requests, so it says whether the server can answer every model it was given. Either way a draining
 * server (shutting down) is not ready, and the 503 answer names the models that are not ready and why.
 */
public enum Readiness {
    /** Ready only when every model version in the repository is ready (Triton's strict readiness); the default. */
    STRICT,
    /** Ready when at least one model has a version ready, even if others failed to load. */
    LENIENT
}
