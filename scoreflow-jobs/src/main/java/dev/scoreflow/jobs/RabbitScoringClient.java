package dev.scoreflow.jobs;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ScoreflowException;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.api.internal.PendingReplies;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The client side of scoring as request-reply over RabbitMQ ({@link RabbitScoringService}): {@link #score} publishes
 * a request with a new {@code correlation_id} and {@code reply_to} set to RabbitMQ's direct reply-to
 * ({@code amq.rabbitmq.reply-to}: no reply queue to create or delete) and returns at once a future that the reply
 * with that correlation id completes.
 *
 * <p>A future fails with {@link dev.scoreflow.api.BadInputException} (the service refused the rows), {@link ScoreflowException} (the
 * service failed, the request could not be routed to the request queue, the connection was lost with its reply, or
 * the client was closed), {@link dev.scoreflow.api.DeadlineExceededException} (no reply within its timeout) or, at once,
 * {@link dev.scoreflow.api.CapacityExceededException} when {@code maxInFlight} requests already await their reply. Replies that match
 * no pending request (duplicates of a request answered twice, late ones) are counted and ignored. Thread-safe.
 */
public final class RabbitScoringClient implements AutoCloseable {
    static final String DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";

    private final Connection connection;
    private final Channel channel; // guarded by itself for publishing: one channel consumes the replies and publishes
    private final String requestQueue;
    private final Duration timeout;
    private final PendingReplies pending;
    private final ScheduledExecutorService timer;
    private volatile boolean closed;

    private RabbitScoringClient(Builder b) {
        this.requestQueue = b.requestQueue;
        this.timeout = b.timeout;
        this.pending = new PendingReplies(b.maxInFlight, b.ticker);
        this.connection = RabbitScoringService.connect(b.uri, "scoreflow-client-" + requestQueue);
        try {
            this.channel = connection.createChannel();
            // direct reply-to: consume the pseudo-queue with automatic acks before publishing on the same channel
            channel.basicConsume(DIRECT_REPLY_TO, true, new DefaultConsumer(channel) {
                @Override
                public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
                    reply(props, body);
                }
            });
            channel.addReturnListener(r -> pending.fail(r.getProperties().getCorrelationId(),
                    new ScoreflowException("request " + r.getProperties().getCorrelationId() + " could not be routed "
                            + "to queue " + requestQueue + " (" + r.getReplyText() + "): is the service's queue "
                            + "declared?")));
            channel.addShutdownListener(e -> pending.failAll(new ScoreflowException("the connection to RabbitMQ was "
                    + "lost before the reply came: " + e.getMessage())));
        } catch (IOException | ShutdownSignalException e) {
            closeConnection();
            throw new ScoreflowException("cannot consume replies on " + DIRECT_REPLY_TO + ": " + e, e);
        }
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "scoreflow-rabbit-client-timeouts");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> pending.expire(requestQueue), 20, 20, TimeUnit.MILLISECONDS);
    }

    /** A client of the service on {@code requestQueue} of the broker at {@code uri} (amqp://user:pw@host:port/vhost). */
    public static Builder builder(String uri, String requestQueue) {
        return new Builder(uri, requestQueue);
    }

    /** Scores {@code rows} with the builder's timeout. */
    public CompletableFuture<float[]> score(FloatMatrix rows) {
        return score(rows, timeout);
    }

    /** Scores {@code rows}: the future completes with one score per row, or fails as the class says. */
    public CompletableFuture<float[]> score(FloatMatrix rows, Duration timeout) {
        Objects.requireNonNull(rows, "rows");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be > 0, was " + timeout);
        }
        if (closed) {
            return CompletableFuture.failedFuture(new ScoreflowException("the RabbitMQ scoring client is closed"));
        }
        PendingReplies.Request request = pending.open(rows.rows(), timeout);
        String id = request.id();
        CompletableFuture<float[]> future = request.future();
        if (future.isDone()) {
            return future; // maxInFlight requests are pending already
        }
        if (closed) {
            future.completeExceptionally(new ScoreflowException("the RabbitMQ scoring client is closed"));
            return future;
        }
        ByteBuffer b = SeedBinaryCodec.encode(rows);
        byte[] body = new byte[b.remaining()];
        b.get(body);
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder().correlationId(id).replyTo(DIRECT_REPLY_TO)
                .contentType("application/octet-stream").build();
        try {
            synchronized (channel) {
                channel.basicPublish("", requestQueue, true, props, body); // mandatory: unroutable comes back
            }
        } catch (IOException | ShutdownSignalException e) {
            future.completeExceptionally(new ScoreflowException("request " + id + " could not be sent to "
                    + requestQueue + ": " + e.getMessage(), e));
        }
        return future;
    }

    private void reply(AMQP.BasicProperties props, byte[] body) {
        Map<String, Object> h = props.getHeaders();
        Object error = h == null ? null : h.get(RabbitScoringService.ERROR_HEADER);
        Object kind = h == null ? null : h.get(RabbitScoringService.ERROR_KIND_HEADER);
        pending.reply(props.getCorrelationId(), error == null ? null : error.toString(),
                "bad_input".equals(String.valueOf(kind)), body, ScoreflowException::new);
    }

    /** Requests awaiting their reply. */
    public int pending() {
        return pending.size();
    }

    /** Replies that matched no pending request (duplicates, late replies), ignored. */
    public long ignoredReplies() {
        return pending.ignored();
    }

    /** Fails every pending request ("closed") and closes the connection. Later calls to {@link #score} fail. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        timer.shutdownNow();
        pending.failAll(new ScoreflowException("the RabbitMQ scoring client was closed before the reply came"));
        closeConnection();
    }

    private void closeConnection() {
        try {
            if (connection.isOpen()) {
                connection.close(5000);
            }
        } catch (IOException | ShutdownSignalException e) {
            // down already
        }
    }

    /** Settings of a {@link RabbitScoringClient}; each refuses a bad value at once. Not thread-safe. */
    public static final class Builder {
        private final String uri;
        private final String requestQueue;
        private int maxInFlight = 1_000;
        private Duration timeout = Duration.ofSeconds(30);
        private LongSupplier ticker = System::nanoTime;

        private Builder(String uri, String requestQueue) {
            this.uri = Objects.requireNonNull(uri, "uri");
            if (requestQueue == null || requestQueue.isBlank()) {
                throw new IllegalArgumentException("requestQueue must be a queue name, was '" + requestQueue + "'");
            }
            this.requestQueue = requestQueue;
        }

        /** Most requests awaiting their reply, in [1, 1000000] (default 1000); more fail at once. */
        public Builder maxInFlight(int n) {
            if (n < 1 || n > 1_000_000) {
                throw new IllegalArgumentException("maxInFlight must be in [1, 1000000], was " + n);
            }
            this.maxInFlight = n;
            return this;
        }

        /** How long a request waits for its reply by default, > 0 (default 30 s). */
        public Builder timeout(Duration timeout) {
            if (timeout == null || timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("timeout must be > 0, was " + timeout);
            }
            this.timeout = timeout;
            return this;
        }

        /** The clock timeouts are measured with, in nanoseconds (default {@link System#nanoTime}); for tests. */
        public Builder ticker(LongSupplier ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /**
         * Connects and starts consuming replies.
         *
         * @throws ScoreflowException if the broker cannot be reached
         */
        public RabbitScoringClient build() {
            return new RabbitScoringClient(this);
        }
    }
}
