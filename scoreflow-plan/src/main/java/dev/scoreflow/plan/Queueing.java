package dev.scoreflow.plan;

/**
 * Closed-form queueing results the simulation is checked against: the M/M/c queue's Erlang C probability of
 * waiting and its mean wait (M/M/1 is c = 1).
 */
final class Queueing {
    private Queueing() {
    }

    /** The probability that an arrival waits in an M/M/c queue with offered load {@code a = λ/μ} (a < c). */
    static double erlangC(int c, double a) {
        if (!(a < c)) {
            throw new IllegalArgumentException("the offered load " + a + " must be below the servers " + c);
        }
        // Erlang B by its stable recurrence, then C from B
        double b = 1;
        for (int k = 1; k <= c; k++) {
            b = a * b / (k + a * b);
        }
        double rho = a / c;
        return b / (1 - rho + rho * b);
    }

    /**
     * The fewest servers {@code c} with which an arrival waits with probability at most {@code p} (Erlang C) at the
     * offered load {@code a = λ/μ}: sizing so that (almost) nothing waits, not only so that the load fits
     * ({@code ceil(a)} servers run at nearly 100 % and most arrivals wait). Exact for Poisson arrivals and exponential
     * service in steady state; a peak much shorter than the queue's settling time waits less than this says.
     */
    static int serversForWaitProbability(double a, double p) {
        if (!(p > 0 && p < 1)) {
            throw new IllegalArgumentException("a wait probability must be in (0, 1), was " + p);
        }
        if (a <= 0) {
            return 1;
        }
        int c = (int) Math.floor(a) + 1;
        while (erlangC(c, a) > p) {
            c++;
        }
        return c;
    }

    /** The mean wait in queue (seconds) of an M/M/c queue: C(c, a) / (cμ - λ). */
    static double meanWait(int c, double arrivalRate, double serviceRate) {
        return erlangC(c, arrivalRate / serviceRate) / (c * serviceRate - arrivalRate);
    }
}
