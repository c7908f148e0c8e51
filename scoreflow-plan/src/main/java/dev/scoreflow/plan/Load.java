package dev.scoreflow.plan;

/**
 * The day's load a plan implies, before any design: arrivals per second in each hour, the working hours' average,
 * the busiest and quietest working hour, and the traffic they make.
 */
public record Load(double requestsPerDay, double[] hourlyRates, double averageRate, double peakRate, int peakHour,
                   double quietRate, double megabitsPerRequestIn, double megabitsPerRequestOut) {

    static Load of(Plan p) {
        double[] rates = new double[24];
        double[] shares = p.hourShares();
        double peak = 0;
        int peakHour = p.dayStart();
        double quiet = Double.MAX_VALUE;
        for (int h = 0; h < shares.length; h++) {
            double r = p.requestsPerDay() * shares[h] / 3600;
            rates[p.dayStart() + h] = r;
            if (r > peak) {
                peak = r;
                peakHour = p.dayStart() + h;
            }
            quiet = Math.min(quiet, r);
        }
        double working = (p.dayEnd() - p.dayStart()) * 3600.0;
        // the lecture's arithmetic: MB x (bits per byte) per request, the encoding's growth included
        double in = p.requestMegabytes() * p.encoding().factor * p.bitsPerByte();
        double out = p.responseMegabytes() * p.encoding().factor * p.bitsPerByte();
        return new Load(p.requestsPerDay(), rates, p.requestsPerDay() / working, peak, peakHour, quiet, in, out);
    }

    /** Incoming traffic in Mbit/s at {@code rate} requests per second. */
    public double megabitsIn(double rate) {
        return rate * megabitsPerRequestIn;
    }

    public double megabitsOut(double rate) {
        return rate * megabitsPerRequestOut;
    }
}
