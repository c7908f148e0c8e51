package dev.scoreflow.runtime;

/**
 * The state of one model version in a {@link ModelRepository}.
 *
 * @param state  READY (serving), UNAVAILABLE (failed to load, or unloaded)
 * @param reason why it is not ready, or why its last reload failed while the old version kept serving; null if
 *               there is nothing to say
 */
public record ModelStatus(String name, String version, State state, String reason) {
    /** Whether a version can score. */
    public enum State { READY, UNAVAILABLE }
}
