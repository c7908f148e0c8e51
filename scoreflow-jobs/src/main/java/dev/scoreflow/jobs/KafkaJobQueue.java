package dev.scoreflow.jobs;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * A job queue on Apache Kafka, the Kafka way: the jobs are records of a topic, the workers a consumer group that
 * shares its partitions, a worker's progress its committed offsets (a restarted worker resumes where its group
 * was), and every job's state and result a record of a compacted state topic keyed by job id that each process reads
 * into memory ({@link #get}, {@link #cancel} and long polling answer from it).
 *
 * <ul>
 *   <li><b>Submit</b> writes the job's "queued" state and the job (its {@link JobRequestCodec} bytes) with an
 *   idempotent producer, {@code acks=all}, and returns once the broker has acknowledged both; a broker that does not
 *   answer within {@link #SEND_TIMEOUT} is a {@link QueueUnavailableException} (HTTP 503).</li>
 *   <li><b>Exactly once</b>: a worker's outcome (the "done" state with the result, or a retry or a dead letter) and
 *   the consumed offset are written in one transaction; readers read committed records only. A worker killed before
 *   its commit leaves nothing: its partitions pass to another worker after the consumer session timeout, which reads
 *   the job again. A worker that lost its partitions cannot commit (the group generation fences it).</li>
 *   <li><b>Visibility timeout</b> = the consumer's {@code session.timeout.ms} (a dead process's jobs move on after
 *   it; the broker's {@code group.min.session.timeout.ms} must allow it) and, within a live process, a lease after
 *   which a job not finished is handed out again.</li>
 *   <li><b>Receives</b>: Kafka counts no deliveries, so this queue does: every hand-out first writes a "running"
 *   state with the attempt number (acknowledged before the worker gets the job), and retries carry it in a header.
 *   A job handed out to a worker that then died counts as a receive; one that was read but never handed out does not.
 *   A job that would exceed the maximum goes to the {@code .dead} topic, with its reason, and becomes
 *   {@code dead_lettered}.</li>
 *   <li><b>Delayed retries</b> go to the {@code .retry} topic with a due time; the worker that reads one holds it until
 *   then. In a FIFO queue a failed job is retried in place (its offset stays), so its group keeps its order.</li>
 *   <li><b>FIFO</b>: jobs are keyed by message group (jobs without one form one group), so a group lives in one
 *   partition, in order; a group's next job is handed out only when the one before it is finished.</li>
 *   <li><b>Publish-subscribe</b>: {@link #onFinished} and {@link #onEvent} read the state and {@code .events} topics
 *   with no consumer group: every subscriber sees everything.</li>
 * </ul>
 *
 * <p>One topic set per queue, not per model: name a queue per model ({@code ?queue=fraud}) for a topic per model.
 * At open, topics are created if missing and their retention checked (a warning if shorter than keepFinished: Kafka
 * deletes records by age, read or not). Thread-safe.
 */
public final class KafkaJobQueue implements JobQueue {
    private static final Logger LOG = LoggerFactory.getLogger(KafkaJobQueue.class);
    /** How long a submit, a publish or a "running" mark waits for the broker before giving up (503). */
    public static final Duration SEND_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration OUTCOME_TIMEOUT = Duration.ofSeconds(30);
    /** Partitions of the jobs topic when this queue creates it: the most worker processes that can share it. */
    public static final int DEFAULT_PARTITIONS = 6;

    private final String bootstrap;
    private final String queue;
    private final QueueSettings settings;
    private final Properties clientConfig;
    private final KafkaTopics topics;
    private final KafkaProducer<byte[], byte[]> producer;
    private final JobStateView view;
    private final List<Consumer<String>> eventListeners = new CopyOnWriteArrayList<>();
    private KafkaDeliveries deliveries; // guarded by this: started by the first receive
    private TopicTail events; // guarded by this: started by the first onEvent

    private KafkaJobQueue(String bootstrap, String queue, QueueSettings settings, Properties clientConfig,
                          KafkaTopics topics, KafkaProducer<byte[], byte[]> producer, JobStateView view) {
        this.bootstrap = bootstrap;
        this.queue = queue;
        this.settings = settings;
        this.clientConfig = clientConfig;
        this.topics = topics;
        this.producer = producer;
        this.view = view;
    }

    /**
     * Opens queue {@code queue} on the Kafka cluster at {@code bootstrap} ({@code host:port[,host:port]}), creating
     * its topics ({@code partitions} for the jobs) if they are missing, and reads its state topic.
     *
     * @throws QueueUnavailableException if the broker does not answer within seconds
     */
    public static KafkaJobQueue open(String bootstrap, String queue, QueueSettings settings, int partitions) {
        Objects.requireNonNull(bootstrap, "bootstrap");
        if (partitions < 1 || partitions > 1000) {
            throw new IllegalArgumentException("partitions must be in [1, 1000], was " + partitions);
        }
        KafkaTopics topics = new KafkaTopics(queue);
        Properties client = new Properties();
        client.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        client.put(CommonClientConfigs.CLIENT_ID_CONFIG, "scoreflow-jobs-" + queue);
        client.put(CommonClientConfigs.REQUEST_TIMEOUT_MS_CONFIG, (int) SEND_TIMEOUT.toMillis());
        client.put(CommonClientConfigs.DEFAULT_API_TIMEOUT_MS_CONFIG, 15_000);
        client.put(CommonClientConfigs.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1000);
        topics.ensure(client, partitions, settings, Duration.ofSeconds(15));
        Properties p = KafkaDeliveries.producerConfig(client);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 1);
        // a broker that is down must answer the submitter within seconds, not after the two-minute default
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) SEND_TIMEOUT.toMillis());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) SEND_TIMEOUT.toMillis() + 1000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) SEND_TIMEOUT.toMillis());
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p);
        JobStateView view;
        try {
            view = new JobStateView(client, topics.state, settings.keepFinished());
        } catch (KafkaException e) {
            producer.close(Duration.ZERO);
            throw new QueueUnavailableException("cannot read the state topic " + topics.state + " on Kafka at "
                    + bootstrap + ": " + e.getMessage(), e);
        }
        LOG.info("queue {} on Kafka at {}: topics {}.*, lease {}, {} receives at most{}", queue, bootstrap,
                topics.jobs, settings.visibilityTimeout(), settings.maxReceives(), settings.fifo() ? ", FIFO" : "");
        return new KafkaJobQueue(bootstrap, queue, settings, client, topics, producer, view);
    }

    @Override
    public QueueSettings settings() {
        return settings;
    }

    /** The topic the jobs are written to (for tools and tests). */
    public String jobsTopic() {
        return topics.jobs;
    }

    /** The dead-letter topic: each record the job's message, with its id, receives and last error in headers. */
    public String deadLetterTopic() {
        return topics.dead;
    }

    @Override
    public Submitted submit(JobRequest r) {
        // an idempotency key names the job: a repeat finds it in the state view (one process at a time; two
        // processes submitting the same key at the same instant may both queue it, and it runs under one id)
        String id = r.idempotencyKey() == null ? UUID.randomUUID().toString()
                : UUID.nameUUIDFromBytes((queue + "\0" + r.idempotencyKey()).getBytes(StandardCharsets.UTF_8)).toString();
        if (r.idempotencyKey() != null && view.get(id).isPresent()) {
            return new Submitted(id, false);
        }
        Instant now = Instant.now();
        Job queued = new Job(id, r.model(), JobState.QUEUED, 0, null, null, null, now, now,
                r.callbacks().isEmpty() ? null : "pending");
        ProducerRecord<byte[], byte[]> job = new ProducerRecord<>(topics.jobs, KafkaDeliveries.key(r, id),
                JobRequestCodec.encode(r));
        job.headers().add(KafkaDeliveries.ID, id.getBytes(StandardCharsets.UTF_8));
        // the state first: a worker that reads the job already finds it known
        Future<RecordMetadata> state = send(state(queued));
        Future<RecordMetadata> sent = send(job);
        await(List.of(state, sent), "cannot queue the job");
        view.putIfAbsent(queued); // read-your-writes here; other processes see it as they read the topic
        return new Submitted(id, true);
    }

    private ProducerRecord<byte[], byte[]> state(Job j) {
        return new ProducerRecord<>(topics.state, j.id().getBytes(StandardCharsets.UTF_8), JobStateCodec.encode(j));
    }

    private Future<RecordMetadata> send(ProducerRecord<byte[], byte[]> r) {
        try {
            return producer.send(r);
        } catch (KafkaException e) {
            throw unavailable("cannot send to " + r.topic(), e);
        }
    }

    private void await(List<Future<RecordMetadata>> sent, String what) {
        long deadline = System.nanoTime() + SEND_TIMEOUT.plusSeconds(2).toNanos();
        try {
            for (Future<RecordMetadata> f : sent) {
                f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
        } catch (ExecutionException e) {
            throw unavailable(what, e.getCause());
        } catch (TimeoutException e) {
            throw unavailable(what, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unavailable(what, e);
        }
    }

    private QueueUnavailableException unavailable(String what, Throwable e) {
        LOG.warn("queue {}: {}: {}", queue, what, e.toString());
        return new QueueUnavailableException(what + ": Kafka at " + bootstrap + ": " + e.getMessage(), e);
    }

    @Override
    public List<Delivery> receive(int max, Duration wait) throws InterruptedException {
        if (max < 1) {
            throw new IllegalArgumentException("max must be at least 1, was " + max);
        }
        List<Delivery> got = deliveries().receive(max, wait);
        if (got.isEmpty()) {
            return got;
        }
        // the attempt counts before the worker starts it: a worker that dies mid-job has used a receive
        List<Future<RecordMetadata>> marks = new ArrayList<>();
        Instant now = Instant.now();
        for (Delivery d : got) {
            Job before = view.get(d.id()).orElse(null);
            Job running = new Job(d.id(), d.request().model(), JobState.RUNNING, d.receives(),
                    before == null ? null : before.error(), null, null, before == null ? now : before.submitted(), now,
                    before == null ? null : before.callbacks());
            marks.add(send(state(running)));
            view.put(running);
        }
        await(marks, "cannot mark " + got.size() + " jobs running"); // their leases run out; they come again
        return got;
    }

    synchronized KafkaDeliveries deliveries() {
        if (deliveries == null) {
            deliveries = new KafkaDeliveries(clientConfig, topics, settings, view, topics.jobs + ".workers");
        }
        return deliveries;
    }

    @Override
    public boolean complete(Delivery d, byte[] result, String resultType) {
        return outcome(d, completeAsync(d, result, resultType));
    }

    @Override
    public boolean fail(Delivery d, String error, Duration retryAfter) {
        return outcome(d, failAsync(d, error, retryAfter));
    }

    /**
     * Queues the result for the consumer thread's next transaction, which commits it with the outcomes of other
     * deliveries (up to {@link KafkaDeliveries#MAX_BATCH}) and the offsets they free; the future completes after that
     * commit, so a result is visible only once it is durable. A process killed before the commit leaves nothing: the
     * job is read again by whoever takes its partition.
     */
    @Override
    public java.util.concurrent.CompletableFuture<Boolean> completeAsync(Delivery d, byte[] result, String resultType) {
        KafkaDeliveries k = deliveries();
        return k.finish(d, e -> new KafkaDeliveries.Outcome(e, d.receipt(),
                List.of(k.stateRecord(e, JobState.DONE, d.receives(), null, result, resultType)), false, null,
                d.receives(), new java.util.concurrent.CompletableFuture<>()));
    }

    /** A failed attempt, committed in a batch as {@link #completeAsync} is. */
    @Override
    public java.util.concurrent.CompletableFuture<Boolean> failAsync(Delivery d, String error, Duration retryAfter) {
        KafkaDeliveries k = deliveries();
        return k.finish(d, e -> {
            var done = new java.util.concurrent.CompletableFuture<Boolean>();
            if (retryAfter == null) {
                return new KafkaDeliveries.Outcome(e, d.receipt(), List.of(k.stateRecord(e, JobState.FAILED,
                        d.receives(), error, null, null)), false, null, d.receives(), done);
            }
            if (d.receives() >= settings.maxReceives()) {
                LOG.warn("queue {}: job {} dead-lettered after {} receives: {}", queue, d.id(), d.receives(), error);
                return k.deadLetter(e, d.receipt(), error, d.receives(), done);
            }
            var queued = k.stateRecord(e, JobState.QUEUED, d.receives(), error, null, null);
            if (settings.fifo()) {
                return new KafkaDeliveries.Outcome(e, d.receipt(), List.of(queued), true, retryAfter, d.receives(),
                        done);
            }
            return new KafkaDeliveries.Outcome(e, d.receipt(), List.of(k.retryRecord(e, d.receives(), retryAfter),
                    queued), false, null, d.receives(), done);
        });
    }

    private static boolean outcome(Delivery d, java.util.concurrent.CompletableFuture<Boolean> f) {
        try {
            return f.get(OUTCOME_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof QueueUnavailableException q) {
                throw q;
            }
            throw new QueueUnavailableException("the outcome of job " + d.id() + " failed: " + e.getCause(),
                    e.getCause());
        } catch (TimeoutException e) {
            throw new QueueUnavailableException("the outcome of job " + d.id() + " was not committed within "
                    + OUTCOME_TIMEOUT.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QueueUnavailableException("interrupted while committing job " + d.id(), e);
        }
    }

    @Override
    public Optional<Job> get(String id) {
        return view.get(id);
    }

    /**
     * Cancels a job this process knows as queued by writing its "cancelled" state; a worker that reads the job then
     * skips it. A worker that took it at the same moment in another process may still finish it.
     */
    @Override
    public boolean cancel(String id) {
        Job j = view.get(id).orElse(null);
        if (j == null || j.state() != JobState.QUEUED) {
            return false;
        }
        Job cancelled = new Job(id, j.model(), JobState.CANCELLED, j.receives(), j.error(), null, null, j.submitted(),
                Instant.now(), j.callbacks());
        await(List.of(send(state(cancelled))), "cannot cancel job " + id);
        view.put(cancelled);
        return true;
    }

    @Override
    public void noteCallbacks(String id, String status) {
        Job j = view.get(id).orElse(null);
        if (j == null) {
            return;
        }
        Job noted = new Job(id, j.model(), j.state(), j.receives(), j.error(), j.result(), j.resultType(),
                j.submitted(), Instant.now(), status);
        await(List.of(send(state(noted))), "cannot record the callbacks of job " + id);
    }

    @Override
    public void onFinished(Consumer<String> listener) {
        view.onFinished(listener);
    }

    @Override
    public void publish(String event) {
        byte[] bytes = event.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_EVENT_BYTES) {
            throw new IllegalArgumentException("an event has at most " + MAX_EVENT_BYTES + " bytes, had "
                    + bytes.length);
        }
        await(List.of(send(new ProducerRecord<>(topics.events, null, bytes))), "cannot publish an event");
    }

    @Override
    public synchronized void onEvent(Consumer<String> listener) {
        eventListeners.add(listener);
        if (events == null) {
            events = new TopicTail(clientConfig, topics.events, false, records -> {
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    String e = new String(r.value(), StandardCharsets.UTF_8);
                    eventListeners.forEach(l -> l.accept(e));
                }
            }, () -> { });
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            if (deliveries != null) {
                deliveries.close();
            }
            if (events != null) {
                events.close();
            }
        }
        view.close();
        producer.close(Duration.ofSeconds(5));
    }
}
