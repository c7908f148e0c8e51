package dev.scoreflow.jobs;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.ScoreflowException;
import dev.scoreflow.api.SeedBinaryCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Scoring as fully asynchronous request-reply over RabbitMQ: consumes scoring requests from a durable quorum queue,
 * scores each in-process and publishes the reply to the queue the request's {@code reply_to} names (through the
 * default exchange: a client's exclusive queue or RabbitMQ's direct reply-to), with the request's
 * {@code correlation_id}.
 *
 * <p>A request's body is a seed-binary body (little-endian float32 rows of the model's feature count); its
 * {@code correlation_id} and {@code reply_to} properties are required. The reply's body is the little-endian float32
 * scores; a request that cannot be scored gets instead an empty reply with headers {@value #ERROR_HEADER} (why) and
 * {@value #ERROR_KIND_HEADER} ({@code bad_input} or {@code failed}). A request without a correlation id or reply
 * queue cannot be answered: it is counted, logged and dropped.
 *
 * <p>At least once: a request is acknowledged only after its reply is published; a service that dies before that
 * leaves the request to the broker, which delivers it again (to another instance at once), so a request may be
 * answered twice: clients drop replies they no longer wait for, as {@link RabbitScoringClient} does. Replies are not
 * confirmed: a reply lost with the broker is a client's timeout. Instances on one request queue share its requests;
 * each has {@code concurrency} consumers (a channel each, scoring one request at a time) with {@code prefetch}
 * requests unacknowledged per consumer. Thread-safe.
 */
public final class RabbitScoringService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RabbitScoringService.class);
    /** Header of an error reply: why the request was not scored. */
    public static final String ERROR_HEADER = "scoreflow-error";
    /** Header of an error reply: {@code bad_input} (the request is wrong) or {@code failed}. */
    public static final String ERROR_KIND_HEADER = "scoreflow-error-kind";

    private final Connection connection;
    private final Model model;
    private final int features;
    private final String requestQueue;
    private final List<Channel> channels = new ArrayList<>();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong scored = new AtomicLong();
    private final AtomicLong badInput = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong unanswered = new AtomicLong();

    private RabbitScoringService(Connection connection, Model model, String requestQueue) {
        this.connection = connection;
        this.model = model;
        this.features = model.signature().featureCount();
        this.requestQueue = requestQueue;
    }

    /**
     * Connects to the broker at {@code uri} ({@code amqp://user:password@host:port/vhost}), declares the durable
     * quorum queue {@code requestQueue} if it is missing and starts serving it with {@code model} (not closed with
     * the service).
     *
     * @throws ScoreflowException if the broker cannot be reached or refuses the queue
     */
    public static RabbitScoringService start(String uri, Model model, String requestQueue, int concurrency,
                                             int prefetch) {
        if (requestQueue == null || requestQueue.isBlank()) {
            throw new IllegalArgumentException("requestQueue must be a queue name, was '" + requestQueue + "'");
        }
        if (concurrency < 1 || concurrency > 256) {
            throw new IllegalArgumentException("concurrency must be in [1, 256], was " + concurrency);
        }
        if (prefetch < 1 || prefetch > 65_535) {
            throw new IllegalArgumentException("prefetch must be in [1, 65535], was " + prefetch);
        }
        Connection c = connect(uri, "scoreflow-serve-" + requestQueue);
        RabbitScoringService s = new RabbitScoringService(c, model, requestQueue);
        try {
            try (Channel ch = c.createChannel()) {
                ch.queueDeclare(requestQueue, true, false, false, Map.of("x-queue-type", "quorum"));
            }
            for (int i = 0; i < concurrency; i++) {
                Channel ch = c.createChannel();
                ch.basicQos(prefetch);
                s.channels.add(ch);
                ch.basicConsume(requestQueue, false, s.new Requests(ch));
            }
        } catch (IOException | TimeoutException | ShutdownSignalException e) {
            s.close();
            throw new ScoreflowException("cannot serve queue " + requestQueue + " on " + uri(c) + ": " + e, e);
        }
        LOG.info("serving requests of queue {} on {} with {} consumers (prefetch {})", requestQueue, uri(c),
                concurrency, prefetch);
        return s;
    }

    /** A recovering connection (every second) with bounded connect and handshake times. */
    static Connection connect(String uri, String name) {
        ConnectionFactory f = new ConnectionFactory();
        try {
            f.setUri(uri);
        } catch (Exception e) {
            throw new IllegalArgumentException("not an AMQP URI (amqp://user:password@host:port/vhost): '"
                    + redact(uri) + "': " + e.getMessage());
        }
        if (f.getVirtualHost().isEmpty()) {
            f.setVirtualHost("/"); // "amqp://host/" names the empty vhost, which RabbitMQ does not have: as queue URLs do
        }
        f.setAutomaticRecoveryEnabled(true);
        f.setNetworkRecoveryInterval(1000);
        f.setConnectionTimeout(5000);
        f.setHandshakeTimeout(5000);
        f.setRequestedHeartbeat(10);
        f.setChannelRpcTimeout(10_000);
        try {
            return f.newConnection(name);
        } catch (IOException | TimeoutException e) {
            throw new ScoreflowException("cannot connect to RabbitMQ at " + f.getHost() + ":" + f.getPort()
                    + f.getVirtualHost() + ": " + e, e);
        }
    }

    /** {@code uri} without its password, for messages. */
    static String redact(String uri) {
        return uri == null ? null : uri.replaceAll("(//[^:/@]*):[^@/]*@", "$1:***@");
    }

    private static String uri(Connection c) {
        return c.getAddress().getHostAddress() + ":" + c.getPort();
    }

    /** One consumer: scores each request on its channel's thread, replies, then acknowledges. */
    private final class Requests extends DefaultConsumer {
        Requests(Channel ch) {
            super(ch);
        }

        @Override
        public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body)
                throws IOException {
            requests.incrementAndGet();
            String id = props.getCorrelationId();
            String replyTo = props.getReplyTo();
            if (id == null || id.isEmpty() || replyTo == null || replyTo.isEmpty()) {
                unanswered.incrementAndGet();
                LOG.warn("a request on {} without {}: it cannot be answered, dropped", requestQueue,
                        id == null || id.isEmpty() ? "correlation_id" : "reply_to");
                getChannel().basicAck(env.getDeliveryTag(), false);
                return;
            }
            Map<String, Object> headers = new HashMap<>();
            byte[] reply;
            try {
                FloatMatrix m = SeedBinaryCodec.decode(ByteBuffer.wrap(body), features);
                reply = bytes(SeedBinaryCodec.encode(model.score(m)));
                scored.incrementAndGet();
            } catch (BadInputException e) {
                reply = new byte[0];
                headers.put(ERROR_HEADER, String.valueOf(e.getMessage()));
                headers.put(ERROR_KIND_HEADER, "bad_input");
                badInput.incrementAndGet();
                LOG.info("request {} rejected: {}", id, e.getMessage());
            } catch (RuntimeException e) {
                reply = new byte[0];
                headers.put(ERROR_HEADER, "scoring failed: " + e);
                headers.put(ERROR_KIND_HEADER, "failed");
                failed.incrementAndGet();
                LOG.error("request {}: scoring failed: {}", id, e.toString(), e);
            }
            AMQP.BasicProperties out = new AMQP.BasicProperties.Builder().correlationId(id)
                    .headers(headers.isEmpty() ? null : headers).build();
            getChannel().basicPublish("", replyTo, out, reply);
            getChannel().basicAck(env.getDeliveryTag(), false);
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** Requests read (answered or not). */
    public long requests() {
        return requests.get();
    }

    /** Replies sent with scores. */
    public long scored() {
        return scored.get();
    }

    /** Error replies: {@code bad_input} ones. */
    public long badInput() {
        return badInput.get();
    }

    /** Error replies: scoring failed. */
    public long failed() {
        return failed.get();
    }

    /** Requests dropped without a reply (no correlation id or reply queue). */
    public long unanswered() {
        return unanswered.get();
    }

    /**
     * Closes the consumers' channels and the connection: requests delivered but not yet acknowledged (answered) go
     * back to the broker, which delivers them to another instance. Idempotent.
     */
    @Override
    public void close() {
        for (Channel ch : channels) {
            try {
                if (ch.isOpen()) {
                    ch.close(); // waits for the delivery at hand to be handled
                }
            } catch (IOException | TimeoutException | ShutdownSignalException e) {
                // closing anyway
            }
        }
        try {
            if (connection.isOpen()) {
                connection.close(5000);
            }
        } catch (IOException | ShutdownSignalException e) {
            // down already
        }
    }
}
