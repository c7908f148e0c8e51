package dev.scoreflow.plan;

import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code plan --measure}: a server's service rate, measured with a short closed-loop load (a fixed number of
 * clients, each sending its next request as soon as the last is answered: the server's own pace, never more than
 * {@link #CLIENTS} in flight). A second of warm-up is not counted.
 */
final class RateProbe {
    static final int CLIENTS = 8;

    private RateProbe() {
    }

    record Measured(String target, double rate, double p50Ms, double p99Ms, long refused) {
    }

    static Measured measure(URI base, String model, int rows, Duration duration, PrintStream progress) {
        V2Target target = V2Target.open(base, model, rows, 1);
        progress.printf("measuring %s for %d s with %d clients...%n", target, duration.toSeconds(), CLIENTS);
        long warmUpEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        long end = warmUpEnd + duration.toNanos();
        AtomicLong ok = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        List<Double> latencies = Collections.synchronizedList(new ArrayList<>());
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        for (int c = 0; c < CLIENTS; c++) {
            clients.execute(() -> {
                while (System.nanoTime() < end && !Thread.currentThread().isInterrupted()) {
                    long start = System.nanoTime();
                    try {
                        HttpResponse<Void> r = target.http.send(target.infer(), HttpResponse.BodyHandlers.discarding());
                        boolean counted = start >= warmUpEnd;
                        if (r.statusCode() == 200) {
                            if (counted) {
                                ok.incrementAndGet();
                                latencies.add((System.nanoTime() - start) / 1e6);
                            }
                        } else if (r.statusCode() == 503 || r.statusCode() == 429) {
                            if (counted) {
                                refused.incrementAndGet();
                            }
                            Thread.sleep(5); // an overloaded server: do not spin on it
                        } else {
                            failed.incrementAndGet();
                            throw new IllegalStateException("the server answered " + r.statusCode());
                        }
                    } catch (InterruptedException e) {
                        return;
                    } catch (Exception e) {
                        if (failed.get() == 1) {
                            progress.println("measure: a request failed: " + e.getMessage());
                        }
                        return;
                    }
                }
            });
        }
        clients.shutdown();
        try {
            if (!clients.awaitTermination(duration.toSeconds() + 30, TimeUnit.SECONDS)) {
                clients.shutdownNow();
            }
        } catch (InterruptedException e) {
            clients.shutdownNow();
            Thread.currentThread().interrupt();
        }
        if (ok.get() == 0) {
            throw new IllegalStateException("no request to " + target + " succeeded while measuring ("
                    + refused.get() + " refused, " + failed.get() + " failed)");
        }
        double[] sorted = latencies.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        double seconds = Math.max(1e-9, (Math.min(System.nanoTime(), end) - warmUpEnd) / 1e9);
        return new Measured(target.toString(), ok.get() / seconds, Simulation.quantile(sorted, 0.5),
                Simulation.quantile(sorted, 0.99), refused.get());
    }
}
