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
 * @param profile             relative weights of the working hours (one per hour; empty: all hours alike)
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
 * @param seed                the simulation's seed
 */
public record Plan(String name, long users, double requestsPerUser, int dayStart, int dayEnd, List<Double> profile,
                   double requestMegabytes, double responseMegabytes, double bitsPerByte, Encoding encoding,
                   double serviceRate, ServiceTime serviceTime, int serverQueue, List<Integer> serverCounts,
                   int queueWorkers, boolean function, Prices prices, long seed) {

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
        if (!profile.isEmpty() && profile.size() != dayEnd - dayStart) {
            throw new IllegalArgumentException("the profile needs one weight per working hour (" + (dayEnd - dayStart)
                    + "), had " + profile.size());
        }
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
    }

    /** Requests per day. */
    public double requestsPerDay() {
        return users * requestsPerUser;
    }

    /** The share of the day's requests arriving in each working hour (sums to 1). */
    double[] hourShares() {
        int hours = dayEnd - dayStart;
        double[] shares = new double[hours];
        double total = profile.isEmpty() ? hours : profile.stream().mapToDouble(Double::doubleValue).sum();
        for (int h = 0; h < hours; h++) {
            shares[h] = (profile.isEmpty() ? 1.0 : profile.get(h)) / total;
        }
        return shares;
    }

    public Plan withUsers(long n) {
        return new Plan(name, n, requestsPerUser, dayStart, dayEnd, profile, requestMegabytes, responseMegabytes,
                bitsPerByte, encoding, serviceRate, serviceTime, serverQueue, serverCounts, queueWorkers, function,
                prices, seed);
    }

    public Plan withServiceRate(double rate) {
        return new Plan(name, users, requestsPerUser, dayStart, dayEnd, profile, requestMegabytes, responseMegabytes,
                bitsPerByte, encoding, rate, serviceTime, serverQueue, serverCounts, queueWorkers, function, prices,
                seed);
    }

    public Plan withSeed(long s) {
        return new Plan(name, users, requestsPerUser, dayStart, dayEnd, profile, requestMegabytes, responseMegabytes,
                bitsPerByte, encoding, serviceRate, serviceTime, serverQueue, serverCounts, queueWorkers, function,
                prices, s);
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
