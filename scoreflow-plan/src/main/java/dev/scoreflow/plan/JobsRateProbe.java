package dev.scoreflow.plan;

import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

/**
 * The jobs path's rate: a burst of jobs submitted at once (concurrently: the workers must never run dry while it is
 * measured), and how fast the workers finish them, from the jobs' own finished times (the queue's clock): jobs
 * finished over the time from the first to the last finish. Includes everything a job costs: the queue's round
 * trips, the scoring, storing the result.
 */
final class JobsRateProbe {
    static final int BURST = 200;

    private JobsRateProbe() {
    }

    /** One worker's jobs per second (the burst's rate over {@code workers}). */
    static double measure(V2Target target, int workers, PrintStream progress) throws Exception {
        progress.printf("measuring the jobs path of %s with a burst of %d jobs...%n", target, BURST);
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> submitted = new ArrayList<>();
        for (int i = 0; i < BURST; i++) {
            submitted.add(target.http.sendAsync(target.submitJob(), HttpResponse.BodyHandlers.ofString()));
        }
        List<String> locations = new ArrayList<>();
        for (var f : submitted) {
            HttpResponse<String> r = f.get(V2Target.TIMEOUT.toSeconds() + 5, java.util.concurrent.TimeUnit.SECONDS);
            if (r.statusCode() != 202) {
                throw new IllegalStateException("submitting a job answered " + r.statusCode() + ": " + r.body());
            }
            locations.add(r.headers().firstValue("Location").orElseThrow());
        }
        Replay.JobTimes t = Replay.JobTimes.collect(target, locations.toArray(new String[0]), progress);
        if (t.finished().length < BURST / 2) {
            throw new IllegalStateException("only " + t.finished().length + " of " + BURST + " jobs finished");
        }
        double[] finished = t.finished().clone();
        java.util.Arrays.sort(finished);
        // n finishes span n - 1 service times
        double rate = (finished.length - 1) / (finished[finished.length - 1] - finished[0]) / workers;
        progress.printf("jobs path: %.1f jobs/s per worker%n", rate);
        return rate;
    }
}
