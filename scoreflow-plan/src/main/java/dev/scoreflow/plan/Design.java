package dev.scoreflow.plan;

/**
 * One way to serve the plan's load, as the lecture lists them: synchronous servers (one, or several behind a proxy;
 * a server with a full queue refuses), a queue with workers that process with a delay, or a cloud function per
 * request (capacity on demand, paid per call).
 */
public sealed interface Design {

    String label();

    /** {@code servers} synchronous servers; more than one sit behind a proxy. */
    record Servers(int servers) implements Design {
        @Override
        public String label() {
            return servers == 1 ? "1 server" : servers + " servers + proxy";
        }
    }

    /** A queue server taking every request, and {@code workers} workers scoring them in order. */
    record QueueWorkers(int workers) implements Design {
        @Override
        public String label() {
            return "queue + " + workers + (workers == 1 ? " worker" : " workers");
        }
    }

    /** A function started per request: no waiting, no idle capacity, a higher price per request. */
    record FunctionPerRequest() implements Design {
        @Override
        public String label() {
            return "function per request";
        }
    }
}
