package dev.scoreflow.plan;

import java.util.List;
import java.util.Objects;

/**
 * What a capacity plan starts from, as the lecture's cases state it: who sends how much and when, what one server
 * handles, and what each design costs. Immutable; {@link PlanFile} reads it from a file, {@link #builder()} starts
 * from the lecture's case 1 (every key's default) and sets what differs, {@link #toBuilder()} changes a copy.
 * Each field below has an accessor of its name.
 *
 * <br>{@code name}: what the reports call the plan
 * <br>{@code users}: how many users send requests
 * <br>{@code requestsPerUser}: requests each user sends per day
 * <br>{@code dayStart}: the hour (0-23) the working day starts
 * <br>{@code dayEnd}: the hour (1-24) it ends; all requests arrive within [dayStart, dayEnd)
 * <br>{@code profile}: relative weights of the working day's steps, in order (empty: all alike)
 * <br>{@code profileStepMinutes}: each weight's length in minutes, dividing the hour (60: hourly, 15, 1); 0 derives it
 *   from the weights' count, which must then cut the working day into whole minutes
 * <br>{@code requestMegabytes}: the size of a request's payload, in MB (as the lecture counts: 10^6 bytes)
 * <br>{@code responseMegabytes}: the size of an answer's payload, in MB
 * <br>{@code bitsPerByte}: the lecture's rule of thumb: 10 bits per byte on the wire (protocol overhead)
 * <br>{@code encoding}: how the payload travels: {@code binary} and {@code protobuf} ×1, {@code base64} ×4/3
 * <br>{@code serviceRate}: requests per second one server (or one worker) handles
 * <br>{@code serviceTime}: the distribution of one request's service time around 1/serviceRate
 * <br>{@code serverQueue}: requests a server holds waiting beyond those in service before it refuses (503)
 * <br>{@code serverCounts}: the "servers behind a proxy" designs to compare (1 means one server, no proxy)
 * <br>{@code queueWorkers}: workers of the "queue with a worker" design (0: no such design)
 * <br>{@code function}: whether to include the "cloud function per request" design
 * <br>{@code prices}: what each part costs
 * <br>{@code waitProbability}: the share of requests allowed to wait at the peak when sizing the servers so that
 *   (almost) nothing waits (Erlang C)
 * <br>{@code seed}: the simulation's seed
 */
public final class Plan {
    private final String name;
    private final long users;
    private final double requestsPerUser;
    private final int dayStart;
    private final int dayEnd;
    private final List<Double> profile;
    private final int profileStepMinutes;
    private final double requestMegabytes;
    private final double responseMegabytes;
    private final double bitsPerByte;
    private final Encoding encoding;
    private final double serviceRate;
    private final ServiceTime serviceTime;
    private final int serverQueue;
    private final List<Integer> serverCounts;
    private final int queueWorkers;
    private final boolean function;
    private final Prices prices;
    private final double waitProbability;
    private final long seed;

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

    private Plan(Builder b) {
        name = Objects.requireNonNull(b.name, "name");
        users = b.users;
        requestsPerUser = b.requestsPerUser;
        dayStart = b.dayStart;
        dayEnd = b.dayEnd;
        profile = List.copyOf(Objects.requireNonNull(b.profile, "profile"));
        requestMegabytes = b.requestMegabytes;
        responseMegabytes = b.responseMegabytes;
        bitsPerByte = b.bitsPerByte;
        encoding = Objects.requireNonNull(b.encoding, "encoding");
        serviceRate = b.serviceRate;
        serviceTime = Objects.requireNonNull(b.serviceTime, "serviceTime");
        serverQueue = b.serverQueue;
        serverCounts = List.copyOf(Objects.requireNonNull(b.serverCounts, "serverCounts"));
        queueWorkers = b.queueWorkers;
        function = b.function;
        prices = Objects.requireNonNull(b.prices, "prices");
        waitProbability = b.waitProbability;
        seed = b.seed;
        if (users < 1) {
            throw new IllegalArgumentException("users must be at least 1, was " + users);
        }
        positive("requests per user", requestsPerUser);
        if (dayStart < 0 || dayEnd > 24 || dayStart >= dayEnd) {
            throw new IllegalArgumentException("the working day must be hours start-end with 0 <= start < end <= 24, "
                    + "was " + dayStart + "-" + dayEnd);
        }
        profileStepMinutes = profileStep(profile.size(), b.profileStepMinutes, dayEnd - dayStart);
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
        positive("the service rate", serviceRate);
        if (serverQueue < 0) {
            throw new IllegalArgumentException("the server queue must be >= 0, was " + serverQueue);
        }
        for (int n : serverCounts) {
            if (n < 1 || n > 10_000) {
                throw new IllegalArgumentException("a server count must be in [1, 10000], was " + n);
            }
        }
        if (queueWorkers < 0 || queueWorkers > 10_000) {
            throw new IllegalArgumentException("queue workers must be in [0, 10000], was " + queueWorkers);
        }
        if (!(waitProbability > 0 && waitProbability < 1)) {
            throw new IllegalArgumentException("the wait probability must be in (0, 1), was " + waitProbability);
        }
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

    public String name() {
        return name;
    }

    public long users() {
        return users;
    }

    public double requestsPerUser() {
        return requestsPerUser;
    }

    public int dayStart() {
        return dayStart;
    }

    public int dayEnd() {
        return dayEnd;
    }

    public List<Double> profile() {
        return profile;
    }

    public int profileStepMinutes() {
        return profileStepMinutes;
    }

    public double requestMegabytes() {
        return requestMegabytes;
    }

    public double responseMegabytes() {
        return responseMegabytes;
    }

    public double bitsPerByte() {
        return bitsPerByte;
    }

    public Encoding encoding() {
        return encoding;
    }

    public double serviceRate() {
        return serviceRate;
    }

    public ServiceTime serviceTime() {
        return serviceTime;
    }

    public int serverQueue() {
        return serverQueue;
    }

    public List<Integer> serverCounts() {
        return serverCounts;
    }

    public int queueWorkers() {
        return queueWorkers;
    }

    public boolean function() {
        return function;
    }

    public Prices prices() {
        return prices;
    }

    public double waitProbability() {
        return waitProbability;
    }

    public long seed() {
        return seed;
    }

    /** A builder that starts from the lecture's case 1: every plan-file key's default ({@link PlanFile}). */
    public static Builder builder() {
        return PlanFile.parse("defaults", List.of(), java.util.Map.of()).toBuilder();
    }

    /** A builder holding this plan's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.name = name;
        b.users = users;
        b.requestsPerUser = requestsPerUser;
        b.dayStart = dayStart;
        b.dayEnd = dayEnd;
        b.profile = profile;
        b.profileStepMinutes = profileStepMinutes;
        b.requestMegabytes = requestMegabytes;
        b.responseMegabytes = responseMegabytes;
        b.bitsPerByte = bitsPerByte;
        b.encoding = encoding;
        b.serviceRate = serviceRate;
        b.serviceTime = serviceTime;
        b.serverQueue = serverQueue;
        b.serverCounts = serverCounts;
        b.queueWorkers = queueWorkers;
        b.function = function;
        b.prices = prices;
        b.waitProbability = waitProbability;
        b.seed = seed;
        return b;
    }

    /** Sets a plan's fields by name; {@link #build()} checks them all together. Not thread-safe. */
    public static final class Builder {
        private String name;
        private long users;
        private double requestsPerUser;
        private int dayStart;
        private int dayEnd;
        private List<Double> profile;
        private int profileStepMinutes;
        private double requestMegabytes;
        private double responseMegabytes;
        private double bitsPerByte;
        private Encoding encoding;
        private double serviceRate;
        private ServiceTime serviceTime;
        private int serverQueue;
        private List<Integer> serverCounts;
        private int queueWorkers;
        private boolean function;
        private Prices prices;
        private double waitProbability;
        private long seed;

        Builder() { // PlanFile fills every field; users start from builder()
        }

        public Builder name(String v) {
            this.name = v;
            return this;
        }

        public Builder users(long v) {
            this.users = v;
            return this;
        }

        public Builder requestsPerUser(double v) {
            this.requestsPerUser = v;
            return this;
        }

        public Builder dayStart(int v) {
            this.dayStart = v;
            return this;
        }

        public Builder dayEnd(int v) {
            this.dayEnd = v;
            return this;
        }

        public Builder profile(List<Double> v) {
            this.profile = v;
            return this;
        }

        public Builder profileStepMinutes(int v) {
            this.profileStepMinutes = v;
            return this;
        }

        public Builder requestMegabytes(double v) {
            this.requestMegabytes = v;
            return this;
        }

        public Builder responseMegabytes(double v) {
            this.responseMegabytes = v;
            return this;
        }

        public Builder bitsPerByte(double v) {
            this.bitsPerByte = v;
            return this;
        }

        public Builder encoding(Encoding v) {
            this.encoding = v;
            return this;
        }

        public Builder serviceRate(double v) {
            this.serviceRate = v;
            return this;
        }

        public Builder serviceTime(ServiceTime v) {
            this.serviceTime = v;
            return this;
        }

        public Builder serverQueue(int v) {
            this.serverQueue = v;
            return this;
        }

        public Builder serverCounts(List<Integer> v) {
            this.serverCounts = v;
            return this;
        }

        public Builder queueWorkers(int v) {
            this.queueWorkers = v;
            return this;
        }

        public Builder function(boolean v) {
            this.function = v;
            return this;
        }

        public Builder prices(Prices v) {
            this.prices = v;
            return this;
        }

        public Builder waitProbability(double v) {
            this.waitProbability = v;
            return this;
        }

        public Builder seed(long v) {
            this.seed = v;
            return this;
        }

        /** The working day as hours {@code [start, end)}. */
        public Builder hours(int start, int end) {
            this.dayStart = start;
            this.dayEnd = end;
            return this;
        }

        /** The plan, every field checked; an {@link IllegalArgumentException} names the first that is wrong. */
        public Plan build() {
            return new Plan(this);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Plan p && toString().equals(p.toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }

    /** Every field by name (a plan holds no secrets). */
    @Override
    public String toString() {
        return "Plan[name=" + name + ", users=" + users + ", requestsPerUser=" + requestsPerUser + ", dayStart="
                + dayStart + ", dayEnd=" + dayEnd + ", profile=" + profile + ", profileStepMinutes="
                + profileStepMinutes + ", requestMegabytes=" + requestMegabytes + ", responseMegabytes="
                + responseMegabytes + ", bitsPerByte=" + bitsPerByte + ", encoding=" + encoding + ", serviceRate="
                + serviceRate + ", serviceTime=" + serviceTime + ", serverQueue=" + serverQueue + ", serverCounts="
                + serverCounts + ", queueWorkers=" + queueWorkers + ", function=" + function + ", prices=" + prices
                + ", waitProbability=" + waitProbability + ", seed=" + seed + "]";
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
