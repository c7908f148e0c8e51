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
    static final int BURST = 300;

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
        // wait on the last job alone (reading every job's state meanwhile would compete with the workers), then read
        // them all: by then they are done
        Replay.JobTimes.collect(target, new String[]{locations.get(locations.size() - 1)}, progress);
        Replay.JobTimes t = Replay.JobTimes.collect(target, locations.toArray(new String[0]), progress);
        if (t.finished().length < BURST / 2) {
            throw new IllegalStateException("only " + t.finished().length + " of " + BURST + " jobs finished");
        }
        // only the finishes after the last submission count: while the burst is being taken, the submissions
        // compete with the workers for this machine, which the replay's trickle of submissions does not
        double lastSubmitted = java.util.Arrays.stream(t.submitted()).max().orElse(0);
        double[] finished = java.util.Arrays.stream(t.finished()).filter(f -> f >= lastSubmitted).sorted().toArray();
        if (finished.length < BURST / 4) {
            throw new IllegalStateException("the workers finished " + (t.finished().length - finished.length)
                    + " of " + BURST + " jobs while they were being submitted: too fast to measure this way; give "
                    + "--rate");
        }
        // n finishes span n - 1 service times
        double rate = (finished.length - 1) / (finished[finished.length - 1] - finished[0]) / workers;
        progress.printf("jobs path: %.1f jobs/s per worker%n", rate);
        return rate;
    }
}
