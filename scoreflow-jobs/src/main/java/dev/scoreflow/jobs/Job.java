package dev.scoreflow.jobs;

import java.time.Instant;

/**
 * What is known of a job: its state, how many times it was received, the last error (of a failed attempt, or why
 * it failed or was dead-lettered), once done its result in {@code resultType}, and what became of its callbacks
 * ({@code callbacks}: null if it has none, else one line per callback as the worker last recorded it, such as
 * {@code "pending"}, {@code "delivered https://... (attempt 3)"} or {@code "failed mailto:... after 5 attempts: ..."}).
 */
public record Job(String id, String model, JobState state, int receives, String error, byte[] result,
                  String resultType, Instant submitted, Instant updated, String callbacks) {

    /** A job without callbacks. */
    public Job(String id, String model, JobState state, int receives, String error, byte[] result, String resultType,
               Instant submitted, Instant updated) {
        this(id, model, state, receives, error, result, resultType, submitted, updated, null);
    }
}
