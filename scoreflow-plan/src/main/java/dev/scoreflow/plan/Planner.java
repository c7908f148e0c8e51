package dev.scoreflow.plan;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns a plan into the lecture's numbers for every design it names: the load (rates, traffic), and for each design
 * its capacity, utilisation, efficiency, servers needed, a simulated day and its cost. Pure: the same plan gives the
 * same answer (the simulation is seeded).
 */
public final class Planner {
    private Planner() {
    }

    /** The plan's designs, in the order the lecture takes them. */
    public static List<Design> designs(Plan p) {
        List<Design> out = new ArrayList<>();
        p.serverCounts().forEach(n -> out.add(new Design.Servers(n)));
        if (p.queueWorkers() > 0) {
            out.add(new Design.QueueWorkers(p.queueWorkers()));
        }
        if (p.function()) {
            out.add(new Design.FunctionPerRequest());
        }
        return out;
    }

    public static Report plan(Plan p) {
        Load load = Load.of(p);
        List<Outcome> outcomes = new ArrayList<>();
        for (Design d : designs(p)) {
            outcomes.add(outcome(p, load, d));
        }
        return new Report(p, load, outcomes);
    }

    /** The fewest servers whose capacity is at least the peak step's rate: the peak fits, though most of it waits. */
    static int serversForPeak(Plan p, Load load) {
        return Math.max(1, (int) Math.ceil(load.peakRate() / p.serviceRate() - 1e-9));
    }

    static Outcome outcome(Plan p, Load load, Design d) {
        int needed = serversForPeak(p, load);
        if (d instanceof Design.FunctionPerRequest) {
            return new Outcome(d, Double.POSITIVE_INFINITY, 1, 1, 1, needed, null,
                    load.requestsPerDay() * p.prices().functionRequest(p.serviceRate()));
        }
        int servers;
        int queueLimit;
        double cost;
        if (d instanceof Design.Servers s) {
            servers = s.servers();
            // the proxy spreads requests over the servers: simulated as one queue they all serve, each server
            // holding its own share of waiting requests
            queueLimit = (int) Math.min(Integer.MAX_VALUE, (long) servers * p.serverQueue());
            cost = 24 * (servers * p.prices().serverHour() + (servers > 1 ? p.prices().proxyHour() : 0));
        } else {
            servers = ((Design.QueueWorkers) d).workers();
            queueLimit = Integer.MAX_VALUE; // the queue takes everything; the workers catch up later
            cost = 24 * (servers * p.prices().workerHour() + p.prices().queueHour());
        }
        double capacity = servers * p.serviceRate();
        SimulatedDay day = Simulation.run(load.stepRates(), servers, p.serviceRate(), p.serviceTime(),
                queueLimit, p.seed());
        return new Outcome(d, capacity, load.averageRate() / capacity, load.peakRate() / capacity,
                load.requestsPerDay() / (capacity * Simulation.DAY_SECONDS), needed, day, cost);
    }

    /** A plan, its load and what each design does with it. */
    public record Report(Plan plan, Load load, List<Outcome> outcomes) {

        /** The fewest servers whose capacity is at least the peak step's rate (so the peak fits; many wait). */
        public int serversForPeak() {
            return Planner.serversForPeak(plan, load);
        }

        /**
         * The fewest servers with which a request arriving at the peak step's rate waits with probability at most
         * the plan's {@code waitProbability} (Erlang C: Poisson arrivals, exponential service, steady state).
         */
        public int serversSoFewWait() {
            return Queueing.serversForWaitProbability(load.peakRate() / plan.serviceRate(), plan.waitProbability());
        }
    }
}
