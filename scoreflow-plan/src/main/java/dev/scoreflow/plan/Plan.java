package dev.scoreflow.plan;

import java.util.List;
import java.util.Objects;

/**
 * What a capacity plan starts from, as the lecture's cases state it: who sends how much and when, what one server
 * handles, and what each design costs. Immutable; {@link PlanFile} reads it from a file, {@code scoreflow plan}'s
 * flags override single fields with the {@code with...} methods.
 *
 * @param users               how many users send requests
 * @param requestsPerUser     requests each user sends per day
 * @param dayStart            the hour (0-23) the working day starts
 * @param dayEnd              the hour (1-24) it ends; all requests arrive within [dayStart, dayEnd)
 * @param profile             relative weights of the working day's steps, in order (empty: all alike)
 * @param profileStepMinutes  each weight's length in minutes, dividing the hour (60: hourly, 15, 1); 0 derives it
 *                            from the weights' count, which must then cut the working day into whole minutes
 * @param requestMegabytes    the size of a request's payload, in MB (as the lecture counts: 10^6 bytes)
 * @param responseMegabytes   the size of an answer's payload, in MB
 * @param bitsPerByte         the lecture's rule of thumb: 10 bits per byte on the wire (protocol overhead)
 * @param encoding            how the payload travels: {@code binary} and {@code protobuf} ×1, {@code base64} ×4/3
 * @param serviceRate         requests per second one server (or one worker) handles
 * @param serviceTime         the distribution of one request's service time around 1/serviceRate
 * @param serverQueue         requests a server holds waiting beyond those in service before it refuses (503)
 * @param serverCounts        the "servers behind a proxy" designs to compare (1 means one server, no proxy)
 * @param queueWorkers        workers of the "queue with a worker" design (0: no such design)
 * @param function            whether to include the "cloud function per request" design
 * @param prices              what each part costs
 * @param waitProbability     the share of requests allowed to wait at the peak when sizing the servers so that
 *                            (almost) nothing waits (Erlang C)
 * @param seed                the simulation's seed
 */
public record Plan(String name, long users, double requestsPerUser, int dayStart, int dayEnd, List<Double> profile,
                   int profileStepMinutes, double requestMegabytes, double responseMegabytes, double bitsPerByte,
                   Encoding encoding, double serviceRate, ServiceTime serviceTime, int serverQueue,
                   List<Integer> serverCounts, int queueWorkers, boolean function, Prices prices,
                   double waitProbability, long seed) {

    /** The share of requests that may wait at the peak unless a plan says otherwise. */
    public static final double DEFAULT_WAIT_PROBABILITY = 0.01;

    /** The payload's wire size relative to its raw bytes. */
    public enum Encoding {
        BINARY(1.0), PROTOBUF(1.0), BASE64(4.0 / 3.0);

        final double factor;

        Encoding(double factor) {
            this.factor = factor;
        }
    }

    /**
     * Prices per day's parts, in any one currency: a server-hour, the proxy's hour, the queue server's hour, a
     * worker's hour, and one function call (if not given: {@code functionFactor} times what a request costs on a
     * fully used server, the lecture's "5 times the price per request").
     */
    public record Prices(double serverHour, double proxyHour, double queueHour, double workerHour,
                         double functionRequest, double functionFactor) {
        public Prices {
            for (double p : new double[]{serverHour, proxyHour, queueHour, workerHour, functionFactor}) {
                positiveOrZero("a price", p);
            }
        }

        /** One function call's price: given, or derived from the server's price. */
        double functionRequest(double serviceRate) {
            return functionRequest >= 0 ? functionRequest : functionFactor * serverHour / (serviceRate * 3600);
        }
    }

    public Plan {
        Objects.requireNonNull(name, "name");
        if (users < 1) {
            throw new IllegalArgumentException("users must be at least 1, was " + users);
        }
        positive("requests per user", requestsPerUser);
        if (dayStart < 0 || dayEnd > 24 || dayStart >= dayEnd) {
            throw new IllegalArgumentException("the working day must be hours start-end with 0 <= start < end <= 24, "
                    + "was " + dayStart + "-" + dayEnd);
        }
        profile = List.copyOf(profile);
        profileStepMinutes = profileStep(profile.size(), profileStepMinutes, dayEnd - dayStart);
        double total = 0;
        for (double w : profile) {
            positiveOrZero("a profile weight", w);
            total += w;
        }
        if (!profile.isEmpty() && total <= 0) {
            throw new IllegalArgumentException("the profile's weights must not all be 0");
        }
        positive("the request size", requestMegabytes);
        positiveOrZero("the response size", responseMegabytes);
        positive("bits per byte", bitsPerByte);
        Objects.requireNonNull(encoding, "encoding");
        positive("the service rate", serviceRate);
        Objects.requireNonNull(serviceTime, "serviceTime");
        if (serverQueue < 0) {
            throw new IllegalArgumentException("the server queue must be >= 0, was " + serverQueue);
        }
        serverCounts = List.copyOf(serverCounts);
        for (int n : serverCounts) {
            if (n < 1 || n > 10_000) {
                throw new IllegalArgumentException("a server count must be in [1, 10000], was " + n);
            }
        }
        if (queueWorkers < 0 || queueWorkers > 10_000) {
            throw new IllegalArgumentException("queue workers must be in [0, 10000], was " + queueWorkers);
        }
        Objects.requireNonNull(prices, "prices");
        if (!(waitProbability > 0 && waitProbability < 1)) {
            throw new IllegalArgumentException("the wait probability must be in (0, 1), was " + waitProbability);
        }
    }

    /** An hourly plan (one weight per working hour), sized so that at most 1 % wait at the peak. */
    public Plan(String name, long users, double requestsPerUser, int dayStart, int dayEnd, List<Double> profile,
                double requestMegabytes, double responseMegabytes, double bitsPerByte, Encoding encoding,
                double serviceRate, ServiceTime serviceTime, int serverQueue, List<Integer> serverCounts,
                int queueWorkers, boolean function, Prices prices, long seed) {
        this(name, users, requestsPerUser, dayStart, dayEnd, profile, 60, requestMegabytes, responseMegabytes,
                bitsPerByte, encoding, serviceRate, serviceTime, serverQueue, serverCounts, queueWorkers, function,
                prices, DEFAULT_WAIT_PROBABILITY, seed);
    }

    /**
     * The profile's step in minutes: as given, or (0) the working day over the weights' count. The step divides the
     * hour, so that the hourly view (rates, refusals per hour) adds whole steps; an empty profile is hourly.
     */
    private static int profileStep(int weights, int given, int hours) {
        int minutes = hours * 60;
        if (given < 0 || given > 60 || (given > 0 && 60 % given != 0)) {
            throw new IllegalArgumentException("the profile step must be a number of minutes dividing the hour (1, 2, "
                    + "3, 4, 5, 6, 10, 12, 15, 20, 30 or 60), or 0 to derive it from the weights, was " + given);
        }
        if (weights == 0) {
            return given == 0 ? 60 : given;
        }
        int step = given != 0 ? given : minutes % weights == 0 ? minutes / weights : -1;
        if (step <= 0 || 60 % step != 0 || weights * step != minutes) {
            throw new IllegalArgumentException("the profile needs one weight per working hour (" + hours + "), or per "
                    + (given != 0 ? "step of " + given + " min (" + minutes / given + ")"
                    : "step of minutes dividing the hour (" + hours * 2 + " for 30 min, " + hours * 4 + " for 15 min, "
                    + minutes + " for 1 min)") + ", had " + weights);
        }
        return step;
    }

    /** Requests per day. */
    public double requestsPerDay() {
        return users * requestsPerUser;
    }

    /** The share of the day's requests arriving in each step of the working day (sums to 1). */
    double[] stepShares() {
        int steps = (dayEnd - dayStart) * 60 / profileStepMinutes;
        double[] shares = new double[steps];
        double total = profile.isEmpty() ? steps : profile.stream().mapToDouble(Double::doubleValue).sum();
        for (int i = 0; i < steps; i++) {
            shares[i] = (profile.isEmpty() ? 1.0 : profile.get(i)) / total;
        }
        return shares;
    }

    public Plan withUsers(long n) {
        return new Plan(name, n, requestsPerUser, dayStart, dayEnd, profile, profileStepMinutes, requestMegabytes,
                responseMegabytes, bitsPerByte, encoding, serviceRate, serviceTime, serverQueue, serverCounts,
                queueWorkers, function, prices, waitProbability, seed);
    }

    public Plan withServiceRate(double rate) {
        return new Plan(name, users, requestsPerUser, dayStart, dayEnd, profile, profileStepMinutes, requestMegabytes,
                responseMegabytes, bitsPerByte, encoding, rate, serviceTime, serverQueue, serverCounts, queueWorkers,
                function, prices, waitProbability, seed);
    }

    public Plan withSeed(long s) {
        return new Plan(name, users, requestsPerUser, dayStart, dayEnd, profile, profileStepMinutes, requestMegabytes,
                responseMegabytes, bitsPerByte, encoding, serviceRate, serviceTime, serverQueue, serverCounts,
                queueWorkers, function, prices, waitProbability, s);
    }

    private static void positive(String what, double v) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(what + " must be a positive number, was " + v);
        }
    }

    private static void positiveOrZero(String what, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(what + " must be a number >= 0, was " + v);
        }
    }
}
