package dev.scoreflow.plan;

import java.util.Locale;
import java.util.Random;

/**
 * How long one request takes to serve, around the mean {@code 1 / serviceRate}: {@code exponential} (the M of M/M/c,
 * the textbook's assumption), {@code deterministic} (every request alike) or {@code lognormal:CV} (a measured server's
 * shape: most requests near the median, a tail; CV is the standard deviation over the mean).
 */
public record ServiceTime(Kind kind, double cv) {

    public enum Kind { EXPONENTIAL, DETERMINISTIC, LOGNORMAL }

    public ServiceTime {
        if (kind == Kind.LOGNORMAL && !(cv > 0 && cv <= 10)) {
            throw new IllegalArgumentException("a lognormal service time needs a CV in (0, 10], was " + cv);
        }
    }

    public static ServiceTime exponential() {
        return new ServiceTime(Kind.EXPONENTIAL, 1);
    }

    /** Parses {@code exponential}, {@code deterministic} or {@code lognormal:0.5}. */
    public static ServiceTime parse(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        if (v.equals("exponential")) {
            return exponential();
        }
        if (v.equals("deterministic")) {
            return new ServiceTime(Kind.DETERMINISTIC, 0);
        }
        if (v.startsWith("lognormal:")) {
            try {
                return new ServiceTime(Kind.LOGNORMAL, Double.parseDouble(v.substring("lognormal:".length())));
            } catch (NumberFormatException e) {
                // falls through to the error that lists the forms
            }
        }
        throw new IllegalArgumentException("a service time is exponential, deterministic or lognormal:CV (e.g. "
                + "lognormal:0.5), got '" + s + "'");
    }

    /** One service time in seconds with the given mean. */
    double sample(Random random, double mean) {
        return switch (kind) {
            case EXPONENTIAL -> -mean * Math.log(1 - random.nextDouble());
            case DETERMINISTIC -> mean;
            case LOGNORMAL -> {
                double sigma2 = Math.log(1 + cv * cv);
                double mu = Math.log(mean) - sigma2 / 2;
                yield Math.exp(mu + Math.sqrt(sigma2) * random.nextGaussian());
            }
        };
    }

    @Override
    public String toString() {
        return switch (kind) {
            case EXPONENTIAL -> "exponential";
            case DETERMINISTIC -> "deterministic";
            case LOGNORMAL -> "lognormal:" + cv;
        };
    }
}
