package dev.scoreflow.plan;

/**
 * What one design does with the plan's day: its capacity (requests/s; infinite for a function), utilisation over
 * the working hours and in the peak step, efficiency over the whole day (requests served over what it could have
 * served in 24 h), the servers a synchronous design would need so that the peak step's rate fits (not so that
 * nothing waits: see {@link Planner.Report#serversSoFewWait()}), the simulated day
 * (refusals, waits, queue depth, when the backlog clears; null for a function) and the cost per day.
 */
public record Outcome(Design design, double capacity, double workingUtilisation, double peakUtilisation,
                      double efficiency, int serversNeeded, SimulatedDay simulated, double costPerDay) {

    /** Requests that got an answer in the simulated day (all of them for a function). */
    public double served(Load load) {
        return simulated == null ? load.requestsPerDay() : simulated.served();
    }
}
