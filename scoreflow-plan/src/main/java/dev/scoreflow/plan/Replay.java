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
 * server's rate (every hour's arrival rate times real rate / plan rate, so each hour loads the real server as the
 * plan's hour loads the plan's server), sent as Poisson arrivals to a real server, synchronously (refusals counted)
 * or as jobs (backlog measured from the jobs' own submitted and finished times), beside what the simulation predicts
 * for the very same arrival times.
 */
final class Replay {
    /** Requests in flight beyond this are not sent but counted: the replay must not exhaust this machine. */
    static final int MAX_IN_FLIGHT = 4096;

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

        double slotSeconds() {
            return 3600 / speedup;
        }

        /** Each working hour's arrivals per second in the replay. */
        double[] rates() {
            Load load = Load.of(plan);
            double scale = realRate / plan.serviceRate();
            double[] r = new double[plan.dayEnd() - plan.dayStart()];
            for (int h = 0; h < r.length; h++) {
                r[h] = load.hourlyRates()[plan.dayStart() + h] * scale;
            }
            return r;
        }
    }

    /**
     * What the replay sent and saw, beside the prediction for the same arrivals at the measured rate, and again at the
     * rate the real system achieved during the replay ({@code achievedRate}, NaN and {@code repredicted} null when
     * the replay never saturated it). The second separates the model's error from the rate measurement's: on a busy
     * machine the rate measured before the replay is not the rate during it.
     */
    record Result(Settings settings, SimulatedDay predicted, long sent, long served, long refused, long failed,
                  long notSent, long[] refusedBySlot, int maxWaiting, double p99Wait, double clearedAt,
                  double seconds, double achievedRate, SimulatedDay repredicted) {
    }

    static Result run(V2Target target, Settings s, PrintStream progress) throws InterruptedException {
        double slot = s.slotSeconds();
        double[] rates = s.rates();
        double horizon = rates.length * slot;
        double[] times = Simulation.arrivals(rates, slot, s.plan().seed());
        SimulatedDay predicted = Simulation.serve(times, horizon, slot, s.servers(), s.realRate(),
                s.plan().serviceTime(), s.jobs() ? Integer.MAX_VALUE : s.queueLimit(), s.plan().seed());
        progress.printf("replaying %d working hours in %.0f s: %,d requests to %s (%s), peak %.1f/s against %.1f/s%n",
                rates.length, horizon, times.length, target, s.jobs() ? "jobs" : "synchronous",
                Arrays.stream(rates).max().orElse(0), s.realRate() * s.servers());
        Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
        AtomicLong served = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicLong notSent = new AtomicLong();
        AtomicLongArray refusedBySlot = new AtomicLongArray(rates.length);
        AtomicLongArray servedBySlot = new AtomicLongArray(rates.length);
        String[] locations = new String[times.length];
        List<CompletableFuture<?>> pending = new ArrayList<>();
        long t0 = System.nanoTime();
        int nextProgress = 1;
        for (int i = 0; i < times.length; i++) {
            long due = t0 + (long) (times[i] * 1e9);
            long ahead = due - System.nanoTime();
            if (ahead > 0) {
                TimeUnit.NANOSECONDS.sleep(ahead); // the schedule, not a guess: the i-th arrival is due then
            }
            if (times[i] >= nextProgress * slot) {
                progress.printf("  hour %d of %d: %,d sent, %,d refused%n", nextProgress, rates.length, i,
                        refused.get());
                nextProgress++;
            }
            if (!inFlight.tryAcquire()) {
                notSent.incrementAndGet();
                continue;
            }
            int index = i;
            int slotIndex = (int) Math.min(rates.length - 1, times[i] / slot);
            CompletableFuture<?> f = target.http.sendAsync(s.jobs() ? target.submitJob() : target.infer(),
                            HttpResponse.BodyHandlers.ofString())
                    .whenComplete((r, e) -> {
                        inFlight.release();
                        if (e != null) {
                            failed.incrementAndGet();
                        } else if (r.statusCode() == 200 || r.statusCode() == 202) {
                            served.incrementAndGet();
                            servedBySlot.incrementAndGet(slotIndex);
                            if (s.jobs()) {
                                locations[index] = r.headers().firstValue("Location").orElse(null);
                            }
                        } else if (r.statusCode() == 503 || r.statusCode() == 429) {
                            refused.incrementAndGet();
                            refusedBySlot.incrementAndGet(slotIndex);
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
        long[] bySlot = new long[rates.length];
        for (int i = 0; i < bySlot.length; i++) {
            bySlot[i] = refusedBySlot.get(i);
        }
        int maxWaiting = -1;
        double p99 = Double.NaN;
        double cleared = Double.NaN;
        double achieved = Double.NaN;
        if (s.jobs()) {
            JobTimes jt = JobTimes.collect(target, locations, progress);
            maxWaiting = jt.maxWaiting(s.servers());
            p99 = jt.p99Wait(1 / s.realRate());
            cleared = jt.clearedAt(s.servers());
            achieved = jt.saturatedRate(s.servers());
        } else {
            // in the hour with the most refusals the server was saturated: what it served then is its rate
            int worst = 0;
            for (int i = 1; i < bySlot.length; i++) {
                worst = bySlot[i] > bySlot[worst] ? i : worst;
            }
            if (bySlot[worst] > 0) {
                achieved = servedBySlot.get(worst) / slot / s.servers();
            }
        }
        SimulatedDay repredicted = Double.isNaN(achieved) ? null : Simulation.serve(times, horizon, slot,
                s.servers(), achieved, s.plan().serviceTime(), s.jobs() ? Integer.MAX_VALUE : s.queueLimit(),
                s.plan().seed());
        return new Result(s, predicted, times.length, served.get(), refused.get(), failed.get(), notSent.get(), bySlot,
                maxWaiting, p99, cleared, (System.nanoTime() - t0) / 1e9, achieved, repredicted);
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

        double p99Wait(double serviceSeconds) {
            double[] w = new double[submitted.length];
            for (int i = 0; i < w.length; i++) {
                w[i] = Math.max(0, finished[i] - submitted[i] - serviceSeconds);
            }
            Arrays.sort(w);
            return Simulation.quantile(w, 0.99);
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
