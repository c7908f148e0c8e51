package dev.scoreflow.jobs;

/** The answer to a submission: the job's id, and whether this call created it (false: an idempotent repeat). */
public record Submitted(String id, boolean created) {
}
