package dev.scoreflow.client;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One {@link ScoringClient} per JVM per {@link ClientConfig}: every Spark task (or stream thread) in an executor
 * that scores with the same configuration shares its connections, concurrency limit, circuit breaker and node
 * health. Shared clients are closed by {@link #closeAll()} or at JVM exit, never by their users.
 */
public final class ScoringClients {
    private static final ConcurrentHashMap<ClientConfig, ScoringClient> SHARED = new ConcurrentHashMap<>();
    private static final AtomicInteger CREATED = new AtomicInteger();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(ScoringClients::closeAll, "scoreflow-clients-close"));
    }

    private ScoringClients() {
    }

    /** The JVM's client for {@code config}, created on first use. */
    public static ScoringClient shared(ClientConfig config) {
        return SHARED.computeIfAbsent(config, c -> {
            CREATED.incrementAndGet();
            return new ScoringClient(c, true);
        });
    }

    /** How many shared clients this JVM has created (a test and a metric: one per configuration). */
    public static int created() {
        return CREATED.get();
    }

    /** The metrics of every shared client in this JVM, by configuration. */
    public static java.util.Map<ClientConfig, ClientMetrics> metrics() {
        java.util.Map<ClientConfig, ClientMetrics> out = new java.util.LinkedHashMap<>();
        SHARED.forEach((c, client) -> out.put(c, client.metrics()));
        return out;
    }

    /** Closes every shared client; a later {@link #shared} call creates a new one. */
    public static void closeAll() {
        List<ScoringClient> all = new ArrayList<>(SHARED.values());
        SHARED.clear();
        for (ScoringClient c : all) {
            c.closeNow();
        }
    }
}
