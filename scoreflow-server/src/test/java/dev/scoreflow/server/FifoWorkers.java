package dev.scoreflow.server;

import dev.scoreflow.jobs.Delivery;
import dev.scoreflow.jobs.JobQueue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Workers on a FIFO queue for order tests, on any broker: one thread per queue instance (as separate processes would
 * be), each taking one job at a time, pausing a seeded few milliseconds, failing the jobs at the {@code failing}
 * positions of {@code ids} once (retried after 200 ms), completing the rest.
 *
 * @param order     the jobs in the order their results were stored
 * @param overlaps  how often two workers held a job at once (a FIFO queue hands out one at a time: zero)
 * @param failedOnce the jobs failed once
 */
record FifoWorkers(List<String> order, int overlaps, Set<String> failedOnce) {

    static FifoWorkers run(List<JobQueue> queues, List<String> ids, Set<Integer> failing, long seed)
            throws InterruptedException {
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger inHand = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        Set<String> failedOnce = ConcurrentHashMap.newKeySet();
        Random random = new Random(seed);
        List<Thread> workers = new ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(100).toNanos();
        for (int w = 0; w < queues.size(); w++) {
            JobQueue mine = queues.get(w);
            long pause = 1 + random.nextInt(5);
            Thread t = new Thread(() -> {
                try {
                    while (order.size() < ids.size() && System.nanoTime() < deadline) {
                        for (Delivery d : mine.receive(1, Duration.ofMillis(200))) {
                            if (inHand.incrementAndGet() > 1) {
                                overlaps.incrementAndGet();
                            }
                            Thread.sleep(pause);
                            inHand.decrementAndGet();
                            if (failing.contains(ids.indexOf(d.id())) && failedOnce.add(d.id())) {
                                mine.fail(d, "try again", Duration.ofMillis(200)); // retried in place
                            } else if (mine.complete(d, new byte[]{1}, "application/octet-stream")) {
                                order.add(d.id());
                            }
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "fifo-worker-" + w);
            workers.add(t);
            t.start();
        }
        for (Thread t : workers) {
            t.join(120_000);
            if (t.isAlive()) {
                throw new AssertionError("FIFO workers not finished within 120 s");
            }
        }
        return new FifoWorkers(List.copyOf(order), overlaps.get(), Set.copyOf(failedOnce));
    }
}
