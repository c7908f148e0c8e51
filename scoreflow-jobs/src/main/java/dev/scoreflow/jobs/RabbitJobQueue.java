package dev.scoreflow.jobs;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoverableConnection;
import com.rabbitmq.client.RecoveryListener;
import com.rabbitmq.client.ShutdownSignalException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A job queue on RabbitMQ, with PostgreSQL as the store of the jobs' states and results: RabbitMQ carries the
 * deliveries, the jobs table ({@link PostgresJobQueue} in store mode) knows each job's state, receives, last error
 * and result, answers {@link #get} and {@link #cancel}, keeps idempotency keys, and makes a result stored once.
 *
 * <ul>
 *   <li><b>Queue</b>: a durable quorum queue {@code NAME} (replicated on a cluster), with {@code x-delivery-limit} =
 *   max receives and the dead-letter exchange {@code NAME.dlx} (fanout) into the queue {@code NAME.dead}.</li>
 *   <li><b>Submit</b> records the queued job in the store, then publishes it (persistent) and waits for the
 *   broker's publisher confirm ({@link ConfirmedPublisher}); only then does it return (and the API answer 202). If
 *   the broker does not confirm within {@link #CONFIRM_TIMEOUT}, the job is removed from the store and the caller
 *   gets {@link QueueUnavailableException} (HTTP 503).</li>
 *   <li><b>Deliveries</b>: one consumer per process with manual acks and a prefetch bound ({@code basicQos}): at
 *   most {@code prefetch} jobs are unacknowledged in a process. A job is acknowledged only once its outcome is in the
 *   store.</li>
 *   <li><b>Visibility timeout</b>: a job handed to a worker of this process and not finished within it is given
 *   back to the broker (nack with requeue) and delivered again; the store's lease moves to the new delivery, so the
 *   slow worker's late result is refused. A process that dies or loses its connection gives back all its
 *   unacknowledged jobs at once: RabbitMQ redelivers them as soon as the connection closes (a SIGKILLed worker's
 *   kernel closes its socket), not after a timeout. A process that hangs with its connection open holds its jobs
 *   until the broker's {@code consumer_timeout} (30 min by default) closes its channel.</li>
 *   <li><b>Max receives</b>: counted in the store (every delivery claims the job and counts); a failed attempt at
 *   the maximum, or a delivery past it, is dead-lettered in the store with the last error and rejected to
 *   {@code NAME.dlx}. The broker's delivery limit is a backstop: it counts redeliveries of one message, so a job
 *   whose last worker died goes to {@code NAME.dead} without coming back, and the store's sweep dead-letters it once
 *   its lease has passed.</li>
 *   <li><b>Delayed retries</b>: a failed attempt is published (confirmed) to {@code NAME.retry.<ms>}, a queue with
 *   {@code x-message-ttl} = the delay that dead-letters back into {@code NAME}, and then acknowledged.</li>
 *   <li><b>FIFO</b> ({@code fifo=true}): the queue has a single active consumer ({@code x-single-active-consumer})
 *   and the consumer a prefetch of one, so jobs are handed out one at a time in order, across any number of worker
 *   processes (the next consumer takes over when the active one goes). This serializes the whole queue: every job
 *   is one group; use a queue per group for parallelism. A retry stays in place: the job is given back to the head
 *   of the queue after its delay, and the queue waits for it.</li>
 *   <li><b>Publish-subscribe</b>: finished jobs ({@link #onFinished}) and events ({@link #publish}) go to the fanout
 *   exchanges {@code NAME.finished} and {@code NAME.events}; each subscribing process binds an exclusive queue of its
 *   own, so every subscriber sees every message published while it is connected.</li>
 * </ul>
 *
 * <p>The connection recovers by itself (the client's automatic recovery, every second): consumers and subscriptions
 * come back; jobs held during the outage are delivered again; finished-job listeners are told null (they may have
 * missed some). A queue's arguments (FIFO, max receives) are fixed when it is created: opening it with others fails
 * with the broker's PRECONDITION_FAILED. Thread-safe.
 */
final class RabbitJobQueue implements JobQueue {
    private static final Logger LOG = LoggerFactory.getLogger(RabbitJobQueue.class);
    /** How long a submit, a retry or a publish waits for the broker's confirm before giving up (503). */
    static final Duration CONFIRM_TIMEOUT = Duration.ofSeconds(5);
    /** Unacknowledged jobs per process when the URL says nothing: a worker's few threads and a few spare. */
    static final int DEFAULT_PREFETCH = 8;
    static final String CONTENT_TYPE = "application/x-scoreflow-job";

    private final String name;
    private final QueueSettings settings;
    private final int prefetch;
    private final PostgresJobQueue store;
    private final Connection connection;
    private final String where;
    private final ConfirmedPublisher publisher;
    private final ScheduledExecutorService timer;
    /** Jobs the broker delivered and no worker received yet, bounded by the prefetch. */
    private final LinkedBlockingQueue<Incoming> incoming = new LinkedBlockingQueue<>();
    /** Jobs handed to workers, by receipt, until they are finished or their lease runs out. */
    private final Map<String, Held> held = new ConcurrentHashMap<>();
    /** Bumped when the connection starts to recover: deliveries of an earlier connection are void. */
    private final AtomicLong generation = new AtomicLong();
    private final Set<Long> declaredRetryQueues = ConcurrentHashMap.newKeySet();
    private final List<Consumer<String>> finishedListeners = new CopyOnWriteArrayList<>();
    private final List<Consumer<String>> eventListeners = new CopyOnWriteArrayList<>();
    private final Object channels = new Object();
    private Channel consumer; // guarded by channels: created by the first receive
    private Channel subscriber; // guarded by channels: created by the first onFinished or onEvent
    private boolean subscribedFinished; // guarded by channels
    private boolean subscribedEvents; // guarded by channels
    private volatile boolean closed;

    private record Incoming(long generation, long tag, String id, byte[] body) {
    }

    private record Held(long generation, long tag, long deadlineNanos) {
    }

    private RabbitJobQueue(String name, QueueSettings settings, int prefetch, PostgresJobQueue store,
                           Connection connection, String where) {
        this.name = name;
        this.settings = settings;
        this.prefetch = settings.fifo() ? 1 : prefetch;
        this.store = store;
        this.connection = connection;
        this.where = where;
        this.publisher = new ConfirmedPublisher(connection, CONFIRM_TIMEOUT, where);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "scoreflow-rabbit-leases-" + name);
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(50, settings.visibilityTimeout().toMillis() / 10);
        timer.scheduleWithFixedDelay(this::expireLeases, every, every, TimeUnit.MILLISECONDS);
        ((RecoverableConnection) connection).addRecoveryListener(new RecoveryListener() {
            @Override
            public void handleRecoveryStarted(Recoverable r) {
                generation.incrementAndGet();
                incoming.clear(); // their delivery tags died with the connection: the broker delivers them again
                LOG.warn("queue {}: the connection to {} was lost; recovering", name, where);
            }

            @Override
            public void handleRecovery(Recoverable r) {
                LOG.info("queue {}: connected to {} again", name, where);
                finishedListeners.forEach(l -> l.accept(null)); // some may have finished unannounced meanwhile
            }
        });
    }

    /**
     * Opens queue {@code name} on the broker {@code factory} connects to, declaring its queues and exchanges if they
     * are missing, with {@code store} (in store mode) for the states and results. The store is closed with the queue.
     *
     * @throws QueueUnavailableException if the broker does not answer (the store is closed then)
     */
    static RabbitJobQueue open(ConnectionFactory factory, String name, QueueSettings settings, int prefetch,
                               PostgresJobQueue store) {
        if (prefetch < 1 || prefetch > 65_535) {
            store.close();
            throw new IllegalArgumentException("prefetch must be in [1, 65535], was " + prefetch);
        }
        String where = "RabbitMQ at " + factory.getHost() + ":" + factory.getPort() + factory.getVirtualHost();
        factory.setAutomaticRecoveryEnabled(true);
        factory.setTopologyRecoveryEnabled(true);
        factory.setNetworkRecoveryInterval(1000);
        factory.setConnectionTimeout(5000);
        factory.setHandshakeTimeout(5000);
        factory.setShutdownTimeout(5000);
        factory.setRequestedHeartbeat(10);
        factory.setChannelRpcTimeout((int) CONFIRM_TIMEOUT.toMillis() * 2);
        Connection c;
        try {
            c = factory.newConnection("scoreflow-jobs-" + name);
        } catch (IOException | TimeoutException e) {
            store.close();
            throw new QueueUnavailableException("cannot connect to " + where + ": " + e, e);
        }
        try (Channel ch = c.createChannel()) {
            declare(ch, name, settings);
        } catch (IOException | TimeoutException | ShutdownSignalException e) {
            close(c);
            store.close();
            throw new QueueUnavailableException("cannot declare queue " + name + " on " + where + ": " + e, e);
        }
        return new RabbitJobQueue(name, settings, prefetch, store, c, where);
    }

    private static void declare(Channel ch, String name, QueueSettings settings) throws IOException {
        ch.exchangeDeclare(name + ".dlx", BuiltinExchangeType.FANOUT, true);
        ch.queueDeclare(name + ".dead", true, false, false, Map.of("x-queue-type", "quorum"));
        ch.queueBind(name + ".dead", name + ".dlx", "");
        Map<String, Object> args = new HashMap<>();
        args.put("x-queue-type", "quorum");
        args.put("x-delivery-limit", settings.maxReceives());
        args.put("x-dead-letter-exchange", name + ".dlx");
        if (settings.fifo()) {
            args.put("x-single-active-consumer", true);
        }
        ch.queueDeclare(name, true, false, false, args);
        ch.exchangeDeclare(name + ".finished", BuiltinExchangeType.FANOUT, true);
        ch.exchangeDeclare(name + ".events", BuiltinExchangeType.FANOUT, true);
    }

    @Override
    public QueueSettings settings() {
        return settings;
    }

    @Override
    public Submitted submit(JobRequest request) {
        Submitted s = store.submit(request);
        if (!s.created()) {
            return s; // an idempotent repeat: the first submission published it
        }
        try {
            publisher.publish("", name, job(s.id()), JobRequestCodec.encode(request));
        } catch (QueueUnavailableException e) {
            try {
                store.forget(s.id());
            } catch (QueueUnavailableException f) {
                e.addSuppressed(f);
            }
            throw e;
        }
        return s;
    }

    private static AMQP.BasicProperties job(String id) {
        return new AMQP.BasicProperties.Builder().messageId(id).deliveryMode(2).contentType(CONTENT_TYPE).build();
    }

    @Override
    public List<Delivery> receive(int max, Duration wait) throws InterruptedException {
        if (max < 1) {
            throw new IllegalArgumentException("max must be >= 1, was " + max);
        }
        startConsuming();
        store.sweep().forEach(this::announceFinished);
        long deadline = System.nanoTime() + wait.toNanos();
        List<Delivery> out = new ArrayList<>();
        while (out.size() < max) {
            Incoming m = out.isEmpty() ? incoming.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)
                    : incoming.poll();
            if (m == null) {
                break;
            }
            if (m.generation() != generation.get()) {
                continue; // delivered on a connection since lost: the broker delivers it again
            }
            String lease = UUID.randomUUID().toString();
            Optional<Integer> receives;
            try {
                receives = store.claimDelivered(m.id(), lease);
            } catch (QueueUnavailableException e) {
                settle(m.generation(), m.tag(), Settle.REQUEUE);
                if (out.isEmpty()) {
                    throw e;
                }
                break;
            }
            if (receives.isEmpty()) {
                settle(m.generation(), m.tag(), Settle.ACK); // cancelled, finished or forgotten: nothing to do
                continue;
            }
            if (receives.get() > settings.maxReceives()) {
                String why = "not finished within the visibility timeout in " + (receives.get() - 1) + " receives";
                if (store.deadLetter(m.id(), lease, why)) {
                    announceFinished(m.id());
                }
                settle(m.generation(), m.tag(), Settle.DEAD_LETTER);
                continue;
            }
            JobRequest request;
            try {
                request = JobRequestCodec.decode(m.body());
            } catch (RuntimeException e) {
                Delivery d = new Delivery(m.id(), lease, null, receives.get());
                store.fail(d, "the queued message cannot be read: " + e.getMessage(), null);
                announceFinished(m.id());
                settle(m.generation(), m.tag(), Settle.DEAD_LETTER);
                continue;
            }
            held.put(lease, new Held(m.generation(), m.tag(),
                    System.nanoTime() + settings.visibilityTimeout().toNanos()));
            out.add(new Delivery(m.id(), lease, request, receives.get()));
        }
        return out;
    }

    /** Starts this process's consumer on the queue (once; the client recovers it after a lost connection). */
    private void startConsuming() {
        synchronized (channels) {
            if (consumer != null) {
                return;
            }
            if (closed) {
                throw new IllegalStateException("queue " + name + " is closed");
            }
            try {
                Channel ch = connection.createChannel();
                ch.basicQos(prefetch);
                ch.basicConsume(name, false, new DefaultConsumer(ch) {
                    @Override
                    public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
                        incoming.add(new Incoming(generation.get(), env.getDeliveryTag(), props.getMessageId(),
                                body));
                    }
                });
                consumer = ch;
            } catch (IOException | ShutdownSignalException e) {
                throw new QueueUnavailableException("cannot consume queue " + name + " on " + where + ": " + e, e);
            }
        }
    }

    private enum Settle { ACK, REQUEUE, DEAD_LETTER }

    /**
     * Acknowledges, requeues or rejects (dead-letters) a delivery; one of a lost connection is left alone (the broker
     * delivers it again).
     */
    private void settle(long gen, long tag, Settle how) {
        synchronized (channels) {
            if (gen != generation.get() || consumer == null || !consumer.isOpen()) {
                return;
            }
            try {
                switch (how) {
                    case ACK -> consumer.basicAck(tag, false);
                    case REQUEUE -> consumer.basicNack(tag, false, true);
                    case DEAD_LETTER -> consumer.basicNack(tag, false, false);
                }
            } catch (IOException | ShutdownSignalException e) {
                LOG.warn("queue {}: cannot settle a delivery ({}); the broker delivers it again", name, e.toString());
            }
        }
    }

    /** Gives back the jobs whose workers held them past the visibility timeout. */
    private void expireLeases() {
        long now = System.nanoTime();
        for (Map.Entry<String, Held> e : held.entrySet()) {
            Held h = e.getValue();
            if (now - h.deadlineNanos() >= 0 && held.remove(e.getKey(), h)) {
                LOG.warn("queue {}: a job was not finished within the visibility timeout ({}); delivered again",
                        name, settings.visibilityTimeout());
                settle(h.generation(), h.tag(), Settle.REQUEUE);
            }
        }
    }

    @Override
    public boolean complete(Delivery d, byte[] result, String resultType) {
        Held h = held.remove(d.receipt());
        boolean done;
        try {
            done = store.complete(d, result, resultType);
        } catch (QueueUnavailableException e) {
            if (h != null) {
                held.put(d.receipt(), h); // not stored: its lease runs out and it comes again
            }
            throw e;
        }
        if (h != null) {
            settle(h.generation(), h.tag(), Settle.ACK); // refused or not, this delivery is spent
        }
        if (done) {
            announceFinished(d.id());
        }
        return done;
    }

    @Override
    public boolean fail(Delivery d, String error, Duration retryAfter) {
        Held h = held.remove(d.receipt());
        boolean changed;
        try {
            changed = store.fail(d, error, retryAfter);
        } catch (QueueUnavailableException e) {
            if (h != null) {
                held.put(d.receipt(), h);
            }
            throw e;
        }
        if (h == null) {
            return changed; // its lease ran out: the broker has it again
        }
        if (!changed) {
            settle(h.generation(), h.tag(), Settle.ACK);
            return false;
        }
        if (retryAfter == null) {
            settle(h.generation(), h.tag(), Settle.ACK);
            announceFinished(d.id());
        } else if (d.receives() >= settings.maxReceives()) {
            settle(h.generation(), h.tag(), Settle.DEAD_LETTER); // into NAME.dead; the store has the reason
            announceFinished(d.id());
        } else if (settings.fifo()) {
            // in place: back to the head of the queue after the delay; the single active consumer waits for it
            timer.schedule(() -> settle(h.generation(), h.tag(), Settle.REQUEUE), retryAfter.toMillis(),
                    TimeUnit.MILLISECONDS);
        } else {
            try {
                publisher.publish("", retryQueue(retryAfter.toMillis()), job(d.id()),
                        JobRequestCodec.encode(d.request()));
                settle(h.generation(), h.tag(), Settle.ACK);
            } catch (QueueUnavailableException | IOException e) {
                LOG.warn("queue {}: cannot delay job {} ({}); it is delivered again at once", name, d.id(),
                        e.toString());
                settle(h.generation(), h.tag(), Settle.REQUEUE);
            }
        }
        return true;
    }

    /** The queue that holds retries for {@code ms} and then dead-letters them back into the job queue. */
    private String retryQueue(long ms) throws IOException {
        String q = name + ".retry." + ms;
        if (!declaredRetryQueues.contains(ms)) {
            try (Channel ch = connection.createChannel()) {
                ch.queueDeclare(q, true, false, false, Map.of("x-message-ttl", ms, "x-dead-letter-exchange", "",
                        "x-dead-letter-routing-key", name));
            } catch (TimeoutException | ShutdownSignalException e) {
                throw new IOException("cannot declare " + q + ": " + e, e);
            }
            declaredRetryQueues.add(ms);
        }
        return q;
    }

    @Override
    public Optional<Job> get(String id) {
        return store.get(id);
    }

    @Override
    public boolean cancel(String id) {
        // the message stays in RabbitMQ; its delivery finds the job cancelled and is dropped
        boolean cancelled = store.cancel(id);
        if (cancelled) {
            announceFinished(id);
        }
        return cancelled;
    }

    @Override
    public void noteCallbacks(String id, String status) {
        store.noteCallbacks(id, status);
    }

    /** Best effort: a lost announcement is what the null to listeners after a recovery stands for. */
    private void announceFinished(String id) {
        try {
            publisher.publish(name + ".finished", "", null, id.getBytes(StandardCharsets.UTF_8));
        } catch (QueueUnavailableException e) {
            LOG.warn("queue {}: cannot announce that job {} finished: {}", name, id, e.getMessage());
        }
    }

    @Override
    public void onFinished(Consumer<String> listener) {
        finishedListeners.add(listener);
        subscribe(true);
    }

    @Override
    public void publish(String event) {
        byte[] bytes = event.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_EVENT_BYTES) {
            throw new IllegalArgumentException("an event has at most " + MAX_EVENT_BYTES + " bytes");
        }
        publisher.publish(name + ".events", "", null, bytes);
    }

    @Override
    public void onEvent(Consumer<String> listener) {
        eventListeners.add(listener);
        subscribe(false);
    }

    /** Binds an exclusive, server-named queue of this process to the finished or events exchange (once each). */
    private void subscribe(boolean finished) {
        synchronized (channels) {
            if (finished ? subscribedFinished : subscribedEvents) {
                return;
            }
            try {
                if (subscriber == null) {
                    subscriber = connection.createChannel();
                }
                String q = subscriber.queueDeclare().getQueue(); // exclusive, auto-delete: this connection's
                subscriber.queueBind(q, name + (finished ? ".finished" : ".events"), "");
                List<Consumer<String>> listeners = finished ? finishedListeners : eventListeners;
                subscriber.basicConsume(q, true, new DefaultConsumer(subscriber) {
                    @Override
                    public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
                        String s = new String(body, StandardCharsets.UTF_8);
                        for (Consumer<String> l : listeners) {
                            try {
                                l.accept(s);
                            } catch (RuntimeException e) {
                                LOG.error("queue {}: a listener failed", name, e);
                            }
                        }
                    }
                });
                if (finished) {
                    subscribedFinished = true;
                } else {
                    subscribedEvents = true;
                }
            } catch (IOException | ShutdownSignalException e) {
                throw new QueueUnavailableException("cannot subscribe to " + name + " on " + where + ": " + e, e);
            }
        }
    }

    /** The broker's count of the dead-letter queue's messages ({@code NAME.dead}), for tests and operators. */
    long deadMessages() {
        try (Channel ch = connection.createChannel()) {
            return ch.messageCount(name + ".dead");
        } catch (IOException | TimeoutException | ShutdownSignalException e) {
            throw new QueueUnavailableException("cannot count " + name + ".dead on " + where + ": " + e, e);
        }
    }

    @Override
    public void close() {
        closed = true;
        timer.shutdownNow();
        publisher.close();
        close(connection); // unacknowledged jobs go back to the broker at once
        store.close();
    }

    private static void close(Connection c) {
        try {
            c.close(5000);
        } catch (IOException | ShutdownSignalException e) {
            // the connection is down already: closing is done
        }
    }
}
