package dev.scoreflow.jobs;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Workers on a FIFO queue for order tests, on any broker: one thread per queue instance (as separate worker processes
 * would be), each asking for as many jobs as there are groups and scoring them one after the other, pausing a seeded
 * few milliseconds per job, failing the {@code failing} jobs once
 * (retried after 200 ms), completing the rest. The first worker to have completed a third of the jobs stops and
 * closes its queue (a worker process stopping), so the others must take over: every run has a handover, whichever
 * worker the broker favours (RabbitMQ's single active consumer and Kafka's partition owner would otherwise give one
 * worker everything).
 *
 * <p>Each take is timed on one logical clock at two moments inside the window in which the worker surely holds the
 * job: {@code start} just after its receive returned, {@code end} just before the outcome is handed to the queue
 * (which may give the group's next job out as soon as it has stored it). Two takes of a group whose windows intersect
 * were held at once, and the completions ordered by {@code end} are the order the queue released the jobs in; neither
 * can be fooled by a thread that is slow to record after the fact. With {@code storeReadsItsWrites}, a worker also
 * asks its queue, as soon as it holds a job, whether the job submitted before it in its group is stored done: that
 * catches a job handed out inside its predecessor's commit window, which no client-side clock can see.
 *
 * @param order        the jobs completed, in the order their completions began
 * @param takes        the jobs each worker took (attempts that failed included)
 * @param overlaps     pairs of takes of two jobs of one group held at once, both outcomes accepted by the queue
 *                     (FIFO hands a group out one at a time: zero; a take whose outcome was refused or cut had lost
 *                     its lease or partition, and the job had passed on: a redelivery, not counted)
 * @param outOfTurn    jobs taken while their predecessor was not stored done, as "id: predecessor state"
 * @param failedOnce   the jobs failed once
 * @param handedOverBy the worker that stopped after its share, -1 if none did
 * @param cut          calls the queue did not answer ({@link QueueUnavailableException}: on Kafka, a commit fenced by
 *                     a rebalance); as a worker does, the worker goes on and the job comes again
 */
public record FifoWorkers(List<String> order, List<Integer> takes, int overlaps, List<String> outOfTurn,
                          Set<String> failedOnce, int handedOverBy, int cut) {

    /** A job held from {@code start} to {@code end}; {@code accepted}: the queue took its outcome (it still held it). */
    private record Take(String id, int worker, long start, long end, boolean completed, boolean accepted) {
    }

    /** {@link #runGroups(List, List, Set, long, boolean)} with one group, {@code ids}. */
    public static FifoWorkers run(List<JobQueue> queues, List<String> ids, Set<String> failing, long seed,
                                  boolean storeReadsItsWrites) throws InterruptedException {
        return runGroups(queues, List.of(ids), failing, seed, storeReadsItsWrites);
    }

    /**
     * Runs one worker per queue of {@code queues} until every job of {@code groups} (each a group's jobs in
     * submission order) is completed or 100 s pass; closes every queue before it returns.
     */
    public static FifoWorkers runGroups(List<JobQueue> queues, List<List<String>> groups, Set<String> failing,
                                        long seed, boolean storeReadsItsWrites) throws InterruptedException {
        java.util.Map<String, String> predecessor = new java.util.HashMap<>();
        java.util.Map<String, Integer> groupOf = new java.util.HashMap<>();
        for (int g = 0; g < groups.size(); g++) {
            List<String> ids = groups.get(g);
            for (int i = 0; i < ids.size(); i++) {
                groupOf.put(ids.get(i), g);
                if (i > 0) {
                    predecessor.put(ids.get(i), ids.get(i - 1));
                }
            }
        }
        int jobs = groupOf.size();
        AtomicLong clock = new AtomicLong();
        List<Take> takes = new CopyOnWriteArrayList<>();
        List<String> outOfTurn = new CopyOnWriteArrayList<>();
        Set<String> failedOnce = ConcurrentHashMap.newKeySet();
        AtomicInteger completed = new AtomicInteger();
        AtomicInteger cut = new AtomicInteger();
        AtomicInteger handedOverBy = new AtomicInteger(-1);
        AtomicBoolean handedOver = new AtomicBoolean();
        int share = Math.max(1, jobs / 3);
        Random random = new Random(seed);
        List<Thread> workers = new ArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(100).toNanos();
        try {
            for (int w = 0; w < queues.size(); w++) {
                JobQueue mine = queues.get(w);
                int worker = w;
                long pause = 1 + random.nextInt(5);
                Thread t = new Thread(() -> {
                    int mineDone = 0;
                    try {
                        while (completed.get() < jobs && System.nanoTime() < deadline) {
                            // as many as there are groups: a FIFO queue hands out at most one of each at a time
                            List<Delivery> got;
                            try {
                                got = mine.receive(groups.size(), Duration.ofMillis(200));
                            } catch (QueueUnavailableException e) {
                                cut.incrementAndGet(); // as a worker does: try again
                                continue;
                            }
                            long[] starts = new long[got.size()];
                            for (int i = 0; i < got.size(); i++) {
                                starts[i] = clock.incrementAndGet(); // held from now on, each of them
                                String before = predecessor.get(got.get(i).id());
                                if (storeReadsItsWrites && before != null) {
                                    String state = mine.get(before).map(j -> j.state().wireName()).orElse("unknown");
                                    if (!state.equals("done")) {
                                        outOfTurn.add(got.get(i).id() + ": " + state);
                                    }
                                }
                            }
                            for (int i = 0; i < got.size(); i++) {
                                Delivery d = got.get(i);
                                Thread.sleep(pause);
                                long end = clock.incrementAndGet();
                                boolean stored = false;
                                boolean accepted = false;
                                try {
                                    if (failing.contains(d.id()) && failedOnce.add(d.id())) {
                                        accepted = mine.fail(d, "try again", Duration.ofMillis(200)); // in place
                                    } else {
                                        stored = mine.complete(d, new byte[]{1}, "application/octet-stream");
                                        accepted = stored;
                                    }
                                } catch (QueueUnavailableException e) {
                                    // not stored (Kafka: a rebalance fenced the commit): the job comes again
                                    cut.incrementAndGet();
                                }
                                takes.add(new Take(d.id(), worker, starts[i], end, stored, accepted));
                                if (stored) {
                                    completed.incrementAndGet();
                                    mineDone++;
                                }
                            }
                            if (mineDone >= share && completed.get() < jobs && handedOver.compareAndSet(false,
                                    true)) {
                                handedOverBy.set(worker);
                                mine.close(); // stopping: its consumer leaves, what it had not taken goes back
                                return;
                            }
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } catch (RuntimeException e) {
                        errors.add(e);
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
        } finally {
            for (Thread t : workers) {
                t.interrupt();
            }
            for (int w = 0; w < queues.size(); w++) {
                if (w != handedOverBy.get()) {
                    queues.get(w).close();
                }
            }
        }
        if (!errors.isEmpty()) {
            AssertionError e = new AssertionError("a FIFO worker failed: " + errors.get(0), errors.get(0));
            errors.stream().skip(1).forEach(e::addSuppressed);
            throw e;
        }
        // two jobs of a group held at once, each by a take whose outcome the queue accepted (a take whose outcome
        // was refused or cut had lost its lease or partition: the job had passed on, as after a visibility timeout)
        List<Take> held = takes.stream().filter(Take::accepted).toList();
        int overlaps = 0;
        for (Take t : held) {
            for (Take u : held) {
                if (t.start() < u.start() && u.start() < t.end() && !t.id().equals(u.id())
                        && groupOf.get(t.id()).equals(groupOf.get(u.id()))) {
                    overlaps++;
                }
            }
        }
        List<Integer> perWorker = new ArrayList<>();
        for (int w = 0; w < queues.size(); w++) {
            int worker = w;
            perWorker.add((int) takes.stream().filter(t -> t.worker() == worker).count());
        }
        List<String> order = takes.stream().filter(Take::completed).sorted(Comparator.comparingLong(Take::end))
                .map(Take::id).toList();
        return new FifoWorkers(order, List.copyOf(perWorker), overlaps, List.copyOf(outOfTurn), Set.copyOf(failedOnce),
                handedOverBy.get(), cut.get());
    }

    /** {@link #assertGroupsKeptInOrder(List, int)} for one group. */
    public void assertKeptInOrder(List<String> ids, int failures) {
        assertGroupsKeptInOrder(List.of(ids), failures);
    }

    /**
     * What every FIFO run must show: each group completed once per job in submission order, every worker took jobs,
     * one handed over, no two jobs of a group held at once, none taken before its predecessor was stored done, and
     * each of the {@code failures} jobs failed once.
     */
    public void assertGroupsKeptInOrder(List<List<String>> groups, int failures) {
        for (List<String> ids : groups) {
            assertThat(order.stream().filter(ids::contains).toList()).as("the group's completions")
                    .containsExactlyElementsOf(ids);
        }
        assertThat(order).as("completions").hasSize(groups.stream().mapToInt(List::size).sum());
        assertThat(takes).as("the jobs each worker took").allMatch(n -> n > 0);
        assertThat(handedOverBy).as("a worker stopped and the others took over").isNotNegative();
        assertThat(overlaps).as("one job of a group at a time").isZero();
        assertThat(outOfTurn).as("jobs handed out before their predecessor was stored done").isEmpty();
        assertThat(failedOnce).hasSize(failures);
    }
}
