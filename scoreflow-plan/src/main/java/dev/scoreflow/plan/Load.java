package dev.scoreflow.plan;

/**
 * The day's load a plan implies, before any design: arrivals per second in each step of the plan's profile (an hour,
 * or finer) over the whole day, the working hours' average, the busiest and quietest working step, and the traffic
 * they make. The peak is the finest step's: a burst of a quarter of an hour is four times the rate its hour's average
 * shows, and it is the burst that a server must take.
 *
 * @param stepSeconds the profile's step (3600 for an hourly profile)
 * @param stepRates   arrivals per second in each step of the day, from midnight (86,400 / stepSeconds values)
 * @param peakStart   when the busiest step starts, in seconds from midnight
 */
public record Load(double requestsPerDay, double stepSeconds, double[] stepRates, double averageRate, double peakRate,
                   double peakStart, double quietRate, double megabitsPerRequestIn, double megabitsPerRequestOut) {

    static Load of(Plan p) {
        double step = p.profileStepMinutes() * 60.0;
        double[] rates = new double[(int) (Simulation.DAY_SECONDS / step)];
        double[] shares = p.stepShares();
        int first = (int) (p.dayStart() * 3600 / step);
        double peak = 0;
        int peakStep = first;
        double quiet = Double.MAX_VALUE;
        for (int i = 0; i < shares.length; i++) {
            double r = p.requestsPerDay() * shares[i] / step;
            rates[first + i] = r;
            if (r > peak) {
                peak = r;
                peakStep = first + i;
            }
            quiet = Math.min(quiet, r);
        }
        double working = (p.dayEnd() - p.dayStart()) * 3600.0;
        // the lecture's arithmetic: MB x (bits per byte) per request, the encoding's growth included
        double in = p.requestMegabytes() * p.encoding().factor * p.bitsPerByte();
        double out = p.responseMegabytes() * p.encoding().factor * p.bitsPerByte();
        return new Load(p.requestsPerDay(), step, rates, p.requestsPerDay() / working, peak, peakStep * step, quiet,
                in, out);
    }

    /** Arrivals per second in each hour of the day (24 values): the hourly view, each hour its steps' average. */
    public double[] hourlyRates() {
        double[] hourly = new double[24];
        int perHour = (int) (3600 / stepSeconds);
        for (int i = 0; i < stepRates.length; i++) {
            hourly[i / perHour] += stepRates[i] / perHour;
        }
        return hourly;
    }

    /** The hour the busiest step falls in. */
    public int peakHour() {
        return (int) (peakStart / 3600);
    }

    /** The busiest hour's average rate: the peak as an hourly view sees it ({@link #peakRate()} if hourly). */
    public double peakHourRate() {
        double max = 0;
        for (double r : hourlyRates()) {
            max = Math.max(max, r);
        }
        return max;
    }

    /** Incoming traffic in Mbit/s at {@code rate} requests per second. */
    public double megabitsIn(double rate) {
        return rate * megabitsPerRequestIn;
    }

    public double megabitsOut(double rate) {
        return rate * megabitsPerRequestOut;
    }
}
