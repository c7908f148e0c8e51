package dev.scoreflow.plan;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.PriorityQueue;
import java.util.Random;

/**
 * A discrete-event simulation of one day: Poisson arrivals at a rate that is constant within each step of the plan's
 * profile (an hour, or finer), served first come first served by {@code servers} identical servers with service
 * times drawn from the plan's distribution, and at most {@code queueLimit} requests waiting (beyond it a request
 * is refused, as a server answers 503; {@link Integer#MAX_VALUE} for a queue that takes everything). Seeded: the
 * same inputs give the same day.
 *
 * <p>FIFO makes the multi-server queue cheap to simulate exactly: each request starts when it arrives or when the
 * earliest server frees up, whichever is later, and start times never decrease, so the requests waiting at any
 * moment are those accepted whose start is still ahead (a deque, not an event list).
 */
final class Simulation {
    /** The day's length and the series' resolution. */
    static final int DAY_SECONDS = 86_400;
    static final int MINUTE = 60;

    private Simulation() {
    }

    /**
     * Simulates one day of the plan's rates, counted per minute.
     *
     * @param rates       arrivals per second in each step of the day, the steps alike and whole minutes (24 values
     *                    for hourly steps, 96 for quarter hours, 1440 for minutes)
     * @param servers     servers (or workers) serving the one queue
     * @param serviceRate requests per second one server handles (the mean service time is its inverse)
     * @param queueLimit  requests that may wait; more are refused
     */
    static SimulatedDay run(double[] rates, int servers, double serviceRate, ServiceTime serviceTime,
                            int queueLimit, long seed) {
        if (rates.length == 0 || DAY_SECONDS % rates.length != 0 || DAY_SECONDS / rates.length % MINUTE != 0) {
            throw new IllegalArgumentException("rates for steps of whole minutes that divide the day expected (24 "
                    + "for hours), got " + rates.length);
        }
        double step = DAY_SECONDS / rates.length;
        return serve(arrivals(rates, step, seed), DAY_SECONDS, MINUTE, servers, serviceRate, serviceTime,
                queueLimit, seed);
    }

    /**
     * Poisson arrival times (seconds from 0) at {@code rates[i]} per second during slot i, each slot
     * {@code slotSeconds} long: the same seed gives the same times, so a replay sends what the prediction served.
     */
    static double[] arrivals(double[] rates, double slotSeconds, long seed) {
        Random random = new Random(seed);
        double expected = 0;
        for (double r : rates) {
            expected += r * slotSeconds;
        }
        double[] times = new double[(int) Math.min(100_000_000, expected * 1.1 + 16)];
        int n = 0;
        for (int slot = 0; slot < rates.length; slot++) {
            double rate = rates[slot];
            if (rate <= 0) {
                continue;
            }
            double t = slot * slotSeconds;
            double end = t + slotSeconds;
            while (true) {
                t += -Math.log(1 - random.nextDouble()) / rate; // memoryless: restarting per slot is exact
                if (t >= end) {
                    break;
                }
                if (n == times.length) {
                    times = Arrays.copyOf(times, times.length * 2);
                }
                times[n++] = t;
            }
        }
        return Arrays.copyOf(times, n);
    }

    /**
     * Serves {@code arrivals} (sorted, seconds) first come first served, counting per {@code bucketSeconds} over
     * {@code horizonSeconds} (utilisation is over the horizon too).
     */
    static SimulatedDay serve(double[] arrivals, double horizonSeconds, double bucketSeconds, int servers,
                              double serviceRate, ServiceTime serviceTime, int queueLimit, long seed) {
        return traced(arrivals, horizonSeconds, bucketSeconds, servers, serviceRate, serviceTime, queueLimit, seed)
                .day();
    }

    /**
     * A simulated day with each served request's wait (in the queue) and response time (wait and service), in the
     * order they arrived: what a replay compares with the times it observes, and the share that waited.
     */
    record Traced(SimulatedDay day, double[] waits, double[] responses) {
        /** The share of served requests that waited at all. */
        double waitedShare() {
            long waited = 0;
            for (double w : waits) {
                waited += w > 0 ? 1 : 0;
            }
            return waits.length == 0 ? 0 : (double) waited / waits.length;
        }
    }

    /** {@link #serve}, keeping every served request's wait and response time. */
    static Traced traced(double[] arrivals, double horizonSeconds, double bucketSeconds, int servers,
                         double serviceRate, ServiceTime serviceTime, int queueLimit, long seed) {
        Random serviceRandom = new Random(seed * 31 + 7); // its own stream: a change in one does not shift the other
        double meanService = 1 / serviceRate;
        PriorityQueue<Double> freeAt = new PriorityQueue<>();
        for (int i = 0; i < servers; i++) {
            freeAt.add(0.0);
        }
        ArrayDeque<Double> waitingStarts = new ArrayDeque<>();
        double[] waits = new double[Math.max(16, arrivals.length)];
        double[] responses = new double[waits.length];
        int served = 0;
        long refused = 0;
        double busy = 0;
        int maxWaiting = 0;
        double maxWaitingAt = -1;
        double clearedAt = Double.NaN;
        double lastEnd = 0;
        int buckets = (int) Math.ceil(horizonSeconds / bucketSeconds);
        int[] depthByBucket = new int[buckets];
        long[] arrivalsByBucket = new long[buckets];
        long[] refusedByBucket = new long[buckets];
        for (double t : arrivals) {
            int bucket = (int) Math.min(buckets - 1, t / bucketSeconds);
            arrivalsByBucket[bucket]++;
            double lastStarted = Double.NaN;
            while (!waitingStarts.isEmpty() && waitingStarts.peekFirst() <= t) {
                lastStarted = waitingStarts.pollFirst();
            }
            int waitingBefore = waitingStarts.size();
            if (maxWaitingAt >= 0 && Double.isNaN(clearedAt) && waitingBefore == 0) {
                // the queue emptied when its last waiting request started
                clearedAt = Double.isNaN(lastStarted) ? t : lastStarted;
            }
            double free = freeAt.peek();
            boolean mustWait = free > t;
            if (mustWait && waitingBefore >= queueLimit) {
                refused++;
                refusedByBucket[bucket]++;
                continue;
            }
            freeAt.poll();
            double start = Math.max(t, free);
            double service = serviceTime.sample(serviceRandom, meanService);
            double done = start + service;
            freeAt.add(done);
            busy += service;
            lastEnd = Math.max(lastEnd, done);
            responses[served] = done - t;
            waits[served++] = start - t;
            if (mustWait) {
                waitingStarts.addLast(start);
            }
            int waiting = waitingStarts.size();
            depthByBucket[bucket] = Math.max(depthByBucket[bucket], waiting);
            if (waiting > maxWaiting) {
                maxWaiting = waiting;
                maxWaitingAt = t;
                clearedAt = Double.NaN;
            }
        }
        if (maxWaitingAt >= 0 && Double.isNaN(clearedAt)) {
            // no arrival found the queue empty after its deepest point: it clears when the last waiting one starts
            clearedAt = waitingStarts.isEmpty() ? maxWaitingAt : waitingStarts.peekLast();
        }
        double[] inOrder = Arrays.copyOf(waits, served);
        double[] w = inOrder.clone();
        Arrays.sort(w);
        SimulatedDay day = new SimulatedDay(arrivals.length, served, refused, maxWaiting, maxWaitingAt, clearedAt,
                mean(w), quantile(w, 0.5), quantile(w, 0.99), w.length == 0 ? 0 : w[w.length - 1],
                busy / (servers * horizonSeconds), lastEnd, bucketSeconds, depthByBucket, arrivalsByBucket,
                refusedByBucket);
        return new Traced(day, inOrder, Arrays.copyOf(responses, served));
    }

    private static double mean(double[] sorted) {
        double s = 0;
        for (double v : sorted) {
            s += v;
        }
        return sorted.length == 0 ? 0 : s / sorted.length;
    }

    static double quantile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        return sorted[(int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1 < 0 ? 0
                : Math.ceil(q * sorted.length) - 1)];
    }
}
