package dev.scoreflow.server;

import dev.scoreflow.api.internal.Json;
import dev.scoreflow.jobs.Job;

/** A job as JSON, exactly as {@code GET /jobs/{id}} answers it (for subscribers and callbacks outside the server). */
public final class JobDocument {
    private JobDocument() {
    }

    public static String json(Job job) {
        return Json.write(JobsEndpoint.document(job));
    }
}
