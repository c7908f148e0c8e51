package dev.scoreflow.plan;

import dev.scoreflow.api.internal.Json;

import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * {@code plan replay}: the plan's working day, compressed {@code speedup} times in time and scaled to the real
 * server's rate (every step's arrival rate times real rate / plan rate, so each step loads the real server as the
 * plan's step loads the plan's server), sent as Poisson arrivals to a real server, synchronously (refusals and
 * response times counted) or as jobs (backlog over time and times to result measured from the jobs' own submitted
 * and finished times), beside what the simulation predicts for the very same arrival times.
 */
final class Replay {
    /** Requests in flight beyond this are not sent but counted: the replay must not exhaust this machine. */
    static final int MAX_IN_FLIGHT = 4096;
    /** The queue depth over time is shown per this share of the replay: every 5 %. */
    static final int TWENTIETHS = 20;

    private Replay() {
    }

    /**
     * @param realRate   one real server's (or the jobs path's) requests per second
     * @param servers    servers or workers behind the target (the prediction's c)
     * @param queueLimit requests the real server holds waiting before it refuses (sync only)
     */
    record Settings(Plan plan, double speedup, double realRate, int servers, int queueLimit, boolean jobs) {
        Settings {
            if (!(speedup >= 1 && speedup <= 1_000_000)) {
                throw new IllegalArgumentException("the speedup must be in [1, 1000000], was " + speedup);
            }
            if (!(realRate > 0)) {
                throw new IllegalArgumentException("the real rate must be positive, was " + realRate);
            }
        }

        /** One step of the plan's profile, replayed. */
        double stepSeconds() {
            return plan.profileStepMinutes() * 60 / speedup;
        }

        /** One plan hour, replayed: refusals are counted per plan hour. */
        double hourSeconds() {
            return 3600 / speedup;
        }

        int hours() {
            return plan.dayEnd() - plan.dayStart();
        }

        /** The whole working day, replayed. */
        double horizon() {
            return hours() * hourSeconds();
        }

        /** Each working step's arrivals per second in the replay. */
        double[] rates() {
            Load load = Load.of(plan);
            double scale = realRate / plan.serviceRate();
            int first = (int) (plan.dayStart() * 3600 / load.stepSeconds());
            double[] r = new double[hours() * 60 / plan.profileStepMinutes()];
            for (int i = 0; i < r.length; i++) {
                r[i] = load.stepRates()[first + i] * scale;
            }
            return r;
        }

        /** The simulation of these arrivals at {@code rate} per server, counted per plan minute. */
        Simulation.Traced predict(double[] times, double rate) {
            return Simulation.traced(times, horizon(), 60 / speedup, servers, rate, plan.serviceTime(),
                    jobs ? Integer.MAX_VALUE : queueLimit, plan.seed());
        }
    }

    /** The median, 99th percentile and maximum of some times, in seconds (0 for none). */
    record Times(double p50, double p99, double max) {
        static Times of(double[] values) {
            double[] v = values.clone();
            java.util.Arrays.sort(v);
            return new Times(Simulation.quantile(v, 0.5), Simulation.quantile(v, 0.99),
                    v.length == 0 ? 0 : v[v.length - 1]);
        }
    }

    /**
     * What the replay sent and saw, beside the prediction for the same arrivals at the measured rate, and again at the
     * rate the real system achieved during the replay ({@code achievedRate}, NaN and {@code repredicted} null when
     * the replay never saturated it). The second separates the model's error from the rate measurement's: on a busy
     * machine the rate measured before the replay is not the rate during it. {@code responses} are the observed
     * times from sending to the answer (synchronous, served requests) or from submission to the result (jobs);
     * {@code depth} the most jobs waiting in each twentieth of the replay (null when synchronous: a server does not
     * show its queue).
     */
    record Result(Settings settings, Simulation.Traced predicted, long sent, long served, long refused, long failed,
                  long notSent, long[] refusedByHour, int maxWaiting, double clearedAt, Times responses, int[] depth,
                  double seconds, double achievedRate, Simulation.Traced repredicted) {

        /** A prediction's requests per plan hour. */
        long[] arrivalsByHour(Simulation.Traced t) {
            return Buckets.sum(t.day().arrivalsByBucket(), t.day().bucketSeconds(), settings.hourSeconds(),
                    settings.hours());
        }

        /** A prediction's refusals per plan hour. */
        long[] refusedByHour(Simulation.Traced t) {
            return Buckets.sum(t.day().refusedByBucket(), t.day().bucketSeconds(), settings.hourSeconds(),
                    settings.hours());
        }

        /** A prediction's most waiting in each twentieth of the replay. */
        int[] depth(Simulation.Traced t) {
            return Buckets.max(t.day().depthByBucket(), t.day().bucketSeconds(), settings.horizon() / TWENTIETHS,
                    TWENTIETHS);
        }
    }

    static Result run(V2Target target, Settings s, PrintStream progress) throws InterruptedException {
        double step = s.stepSeconds();
        double[] rates = s.rates();
        double[] times = Simulation.arrivals(rates, step, s.plan().seed());
        Simulation.Traced predicted = s.predict(times, s.realRate());
        progress.printf("replaying %d working hours in %.0f s: %,d requests to %s (%s), peak %.1f/s against %.1f/s%n",
                s.hours(), s.horizon(), times.length, target, s.jobs() ? "jobs" : "synchronous",
                Arrays.stream(rates).max().orElse(0), s.realRate() * s.servers());
        Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
        AtomicLong served = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicLong notSent = new AtomicLong();
        AtomicLongArray refusedByStep = new AtomicLongArray(rates.length);
        AtomicLongArray servedByStep = new AtomicLongArray(rates.length);
        String[] locations = new String[times.length];
        double[] responses = new double[times.length];
        Arrays.fill(responses, Double.NaN);
        List<CompletableFuture<?>> pending = new ArrayList<>();
        long t0 = System.nanoTime();
        int nextProgress = 1;
        for (int i = 0; i < times.length; i++) {
            long due = t0 + (long) (times[i] * 1e9);
            long ahead = due - System.nanoTime();
            if (ahead > 0) {
                TimeUnit.NANOSECONDS.sleep(ahead); // the schedule, not a guess: the i-th arrival is due then
            }
            if (times[i] >= nextProgress * s.hourSeconds()) {
                progress.printf("  hour %d of %d: %,d sent, %,d refused%n", nextProgress, s.hours(), i,
                        refused.get());
                nextProgress++;
            }
            if (!inFlight.tryAcquire()) {
                notSent.incrementAndGet();
                continue;
            }
            int index = i;
            int stepIndex = (int) Math.min(rates.length - 1, times[i] / step);
            long sentAt = System.nanoTime();
            CompletableFuture<?> f = target.http.sendAsync(s.jobs() ? target.submitJob() : target.infer(),
                            HttpResponse.BodyHandlers.ofString())
                    .whenComplete((r, e) -> {
                        inFlight.release();
                        if (e != null) {
                            failed.incrementAndGet();
                        } else if (r.statusCode() == 200 || r.statusCode() == 202) {
                            served.incrementAndGet();
                            servedByStep.incrementAndGet(stepIndex);
                            if (s.jobs()) {
                                locations[index] = r.headers().firstValue("Location").orElse(null);
                            } else {
                                responses[index] = (System.nanoTime() - sentAt) / 1e9;
                            }
                        } else if (r.statusCode() == 503 || r.statusCode() == 429) {
                            refused.incrementAndGet();
                            refusedByStep.incrementAndGet(stepIndex);
                        } else {
                            failed.incrementAndGet();
                        }
                    });
            pending.add(f);
        }
        try {
            CompletableFuture.allOf(pending.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            progress.println("replay: some requests did not finish: " + e);
        }
        long[] bySteps = new long[rates.length];
        for (int i = 0; i < bySteps.length; i++) {
            bySteps[i] = refusedByStep.get(i);
        }
        int maxWaiting = -1;
        double cleared = Double.NaN;
        double achieved;
        Times observed;
        int[] depth = null;
        if (s.jobs()) {
            // the queue's clock starts at the first submission, which the schedule sent at times[0]
            JobTimes jt = JobTimes.collect(target, locations, progress).after(times.length == 0 ? 0 : times[0]);
            maxWaiting = jt.maxWaiting(s.servers());
            cleared = jt.clearedAt(s.servers());
            achieved = jt.saturatedRate(s.servers());
            depth = jt.maxWaitingBy(s.horizon() / TWENTIETHS, TWENTIETHS, s.servers());
            observed = Times.of(jt.responseTimes());
        } else {
            achieved = saturatedRate(bySteps, servedByStep, step, s.servers());
            observed = Times.of(Arrays.stream(responses).filter(r -> !Double.isNaN(r)).toArray());
        }
        Simulation.Traced repredicted = Double.isNaN(achieved) ? null : s.predict(times, achieved);
        return new Result(s, predicted, times.length, served.get(), refused.get(), failed.get(), notSent.get(),
                Buckets.sum(bySteps, step, s.hourSeconds(), s.hours()), maxWaiting, cleared, observed, depth,
                (System.nanoTime() - t0) / 1e9, achieved, repredicted);
    }

    /**
     * What a synchronous server served per second while it refused: in the steps with at least half the most
     * refusals of any step it was saturated, so what it served there is its rate (NaN if it never refused).
     */
    private static double saturatedRate(long[] refusedByStep, AtomicLongArray servedByStep, double step,
                                        int servers) {
        long worst = Arrays.stream(refusedByStep).max().orElse(0);
        if (worst == 0) {
            return Double.NaN;
        }
        long served = 0;
        int steps = 0;
        for (int i = 0; i < refusedByStep.length; i++) {
            if (refusedByStep[i] * 2 >= worst) {
                served += servedByStep.get(i);
                steps++;
            }
        }
        return served / (steps * step) / servers;
    }

    /** The jobs' submitted and finished times, as the queue recorded them, from the start of the replay. */
    record JobTimes(double[] submitted, double[] finished) {

        static JobTimes collect(V2Target target, String[] locations, PrintStream progress)
                throws InterruptedException {
            List<double[]> spans = new ArrayList<>();
            Instant origin = null;
            int unfinished = 0;
            for (String location : locations) {
                if (location == null) {
                    continue;
                }
                Map<String, Object> job = null;
                for (int attempt = 0; attempt < 10 && job == null; attempt++) {
                    try {
                        HttpResponse<String> r = target.http.send(target.awaitJob(location, 30),
                                HttpResponse.BodyHandlers.ofString());
                        if (r.statusCode() == 200) {
                            @SuppressWarnings("unchecked")
                            Map<String, Object> parsed = (Map<String, Object>) Json.parse(r.body());
                            String state = String.valueOf(parsed.get("state"));
                            if (!state.equals("queued") && !state.equals("running")) {
                                job = parsed;
                            }
                        }
                    } catch (java.io.IOException e) {
                        progress.println("replay: reading " + location + " failed: " + e.getMessage());
                    }
                }
                if (job == null) {
                    unfinished++;
                    continue;
                }
                Instant submitted = Instant.parse(String.valueOf(job.get("submitted")));
                Instant finished = Instant.parse(String.valueOf(job.get("updated")));
                if (origin == null || submitted.isBefore(origin)) {
                    origin = submitted;
                }
                spans.add(new double[]{seconds(submitted), seconds(finished)});
            }
            if (unfinished > 0) {
                progress.printf("replay: %d jobs did not finish within the replay's patience%n", unfinished);
            }
            double zero = origin == null ? 0 : seconds(origin);
            double[] sub = new double[spans.size()];
            double[] fin = new double[spans.size()];
            for (int i = 0; i < sub.length; i++) {
                sub[i] = spans.get(i)[0] - zero;
                fin[i] = spans.get(i)[1] - zero;
            }
            return new JobTimes(sub, fin);
        }

        private static double seconds(Instant t) {
            return t.getEpochSecond() + t.getNano() / 1e9;
        }

        /** The most jobs waiting at once: in the system minus the ones being served. */
        int maxWaiting(int servers) {
            int best = 0;
            for (double[] e : events()) {
                best = Math.max(best, (int) e[2] - servers);
            }
            return Math.max(0, best);
        }

        /** When, after the deepest point, no job waited any more. */
        double clearedAt(int servers) {
            List<double[]> events = events();
            int deepest = 0;
            double at = Double.NaN;
            double cleared = Double.NaN;
            for (double[] e : events) {
                int waiting = (int) e[2] - servers;
                if (waiting > deepest) {
                    deepest = waiting;
                    cleared = Double.NaN;
                } else if (deepest > 0 && Double.isNaN(cleared) && waiting <= 0) {
                    cleared = e[0];
                }
            }
            return deepest == 0 ? at : cleared;
        }

        /**
         * One worker's jobs per second while jobs waited (so every worker went from one job straight to the next):
         * the finishes in those spells over their length, per worker; NaN if jobs never waited long enough to tell.
         * Spells with a worker idle would count the queue's wake-up latency as work.
         */
        double saturatedRate(int servers) {
            double saturated = 0;
            long finishes = 0;
            double last = 0;
            int inSystem = 0;
            for (double[] e : events()) {
                if (inSystem > servers) {
                    saturated += e[0] - last;
                    finishes += e[1] < 0 ? 1 : 0;
                }
                last = e[0];
                inSystem = (int) e[2];
            }
            return finishes >= 20 ? finishes / saturated / servers : Double.NaN;
        }

        /** Each job's time from submission to its result. */
        double[] responseTimes() {
            double[] r = new double[submitted.length];
            for (int i = 0; i < r.length; i++) {
                r[i] = finished[i] - submitted[i];
            }
            return r;
        }

        /** The same times moved {@code offset} seconds later. */
        JobTimes after(double offset) {
            return new JobTimes(Arrays.stream(submitted).map(t -> t + offset).toArray(),
                    Arrays.stream(finished).map(t -> t + offset).toArray());
        }

        /**
         * The most jobs waiting (in the system beyond the ones being served) at any moment of each of {@code buckets}
         * buckets of {@code bucketSeconds}: what a bucket starts with counts, as do the jobs still waiting after the
         * last bucket (in it).
         */
        int[] maxWaitingBy(double bucketSeconds, int buckets, int servers) {
            int[] depth = new int[buckets];
            int waiting = 0;
            int bucket = 0;
            for (double[] e : events()) {
                int at = (int) Math.min(buckets - 1, Math.max(0, e[0] / bucketSeconds));
                for (; bucket < at; bucket++) {
                    depth[bucket + 1] = Math.max(depth[bucket + 1], waiting); // carried into the next bucket
                }
                waiting = Math.max(0, (int) e[2] - servers);
                depth[at] = Math.max(depth[at], waiting);
            }
            return depth;
        }

        /** (time, +1 or -1, jobs in the system after it), in time order. */
        private List<double[]> events() {
            List<double[]> ev = new ArrayList<>();
            for (int i = 0; i < submitted.length; i++) {
                ev.add(new double[]{submitted[i], 1, 0});
                ev.add(new double[]{finished[i], -1, 0});
            }
            ev.sort((a, b) -> a[0] != b[0] ? Double.compare(a[0], b[0]) : Double.compare(a[1], b[1]));
            int n = 0;
            for (double[] e : ev) {
                n += (int) e[1];
                e[2] = n;
            }
            return ev;
        }
    }
}
