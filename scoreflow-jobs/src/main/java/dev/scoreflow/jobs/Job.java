package dev.scoreflow.jobs;

import java.time.Instant;

/**
 * What is known of a job: its state, how many times it was received, the last error (of a failed attempt, or why
 * it failed or was dead-lettered), and once done its result in {@code resultType}.
 */
public record Job(String id, String model, JobState state, int receives, String error, byte[] result,
                  String resultType, Instant submitted, Instant updated) {
}
