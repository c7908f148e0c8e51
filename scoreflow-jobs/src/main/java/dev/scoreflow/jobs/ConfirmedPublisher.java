package dev.scoreflow.jobs;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConfirmListener;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Publishes to RabbitMQ and returns only once the broker has confirmed the message (publisher confirms): for a
 * durable queue and a persistent message, the broker has then written it to disk (a quorum queue: to a majority).
 * One channel in confirm mode shared by every caller: the publish itself is serialized (a channel's sequence numbers
 * must match its publish order), the wait for the confirm is not, so many submissions' confirms are in flight at once
 * and the broker acknowledges them together ({@code multiple}). A channel the broker closed is replaced by a new one
 * on the next publish, its unconfirmed messages failed. Thread-safe.
 */
final class ConfirmedPublisher implements AutoCloseable {
    private final Connection connection;
    private final Duration timeout;
    private final String what;
    private Confirming channel; // guarded by this

    /** A channel in confirm mode and its messages not yet confirmed, by sequence number. */
    private static final class Confirming implements ConfirmListener {
        final Channel channel;
        final ConcurrentNavigableMap<Long, CompletableFuture<Void>> unconfirmed = new ConcurrentSkipListMap<>();

        Confirming(Channel channel) {
            this.channel = channel;
        }

        @Override
        public void handleAck(long tag, boolean multiple) {
            settle(tag, multiple, null);
        }

        @Override
        public void handleNack(long tag, boolean multiple) {
            settle(tag, multiple, new IOException("the broker refused (nacked) the message"));
        }

        private void settle(long tag, boolean multiple, Exception failure) {
            Map<Long, CompletableFuture<Void>> done = multiple ? unconfirmed.headMap(tag, true)
                    : unconfirmed.subMap(tag, true, tag, true);
            for (var it = done.values().iterator(); it.hasNext(); ) {
                CompletableFuture<Void> f = it.next();
                it.remove();
                if (failure == null) {
                    f.complete(null);
                } else {
                    f.completeExceptionally(failure);
                }
            }
        }

        void failAll(Exception cause) {
            settle(Long.MAX_VALUE, true, cause);
        }
    }

    /** @param what names the broker in errors ("RabbitMQ at host:port/vhost") */
    ConfirmedPublisher(Connection connection, Duration timeout, String what) {
        this.connection = connection;
        this.timeout = timeout;
        this.what = what;
    }

    /**
     * Publishes {@code body} to {@code exchange} with {@code routingKey} and waits for the broker's confirm.
     *
     * @throws QueueUnavailableException if the broker is not connected, nacks the message or does not confirm it
     *                                   within the timeout: the message may or may not have been taken
     */
    void publish(String exchange, String routingKey, AMQP.BasicProperties props, byte[] body) {
        CompletableFuture<Void> confirmed = new CompletableFuture<>();
        Confirming c = null;
        try {
            synchronized (this) {
                c = channel();
                long seq = c.channel.getNextPublishSeqNo();
                c.unconfirmed.put(seq, confirmed);
                try {
                    c.channel.basicPublish(exchange, routingKey, props, body);
                } catch (IOException | RuntimeException e) {
                    c.unconfirmed.remove(seq);
                    throw e;
                }
            }
            confirmed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (IOException | ShutdownSignalException e) {
            throw unavailable(exchange, routingKey, e);
        } catch (ExecutionException e) {
            throw unavailable(exchange, routingKey, e.getCause());
        } catch (TimeoutException e) {
            // as waitForConfirmsOrDie does: a channel that does not confirm in time is closed, its other unconfirmed
            // messages failed with it (their senders answer 503; each may or may not have been taken)
            closeQuietly(c);
            throw unavailable(exchange, routingKey, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QueueUnavailableException("interrupted while waiting for " + what + " to confirm", e);
        }
    }

    private QueueUnavailableException unavailable(String exchange, String routingKey, Throwable e) {
        return new QueueUnavailableException(what + " did not confirm a message to '" + exchange + "'/'"
                + routingKey + "' within " + timeout.toMillis() + " ms: " + e, e);
    }

    private Confirming channel() throws IOException {
        if (channel == null || !channel.channel.isOpen()) {
            if (!connection.isOpen()) {
                throw new IOException("not connected (the connection recovers in the background)");
            }
            Channel ch = connection.createChannel();
            ch.confirmSelect();
            Confirming c = new Confirming(ch);
            ch.addConfirmListener(c);
            ch.addShutdownListener(cause -> c.failAll(cause));
            channel = c;
        }
        return channel;
    }

    private static void closeQuietly(Confirming c) {
        if (c == null) {
            return;
        }
        try {
            if (c.channel.isOpen()) {
                c.channel.close();
            }
        } catch (IOException | TimeoutException | ShutdownSignalException e) {
            // closing anyway: the shutdown listener fails what was unconfirmed
        }
        c.failAll(new IOException("the channel was closed"));
    }

    @Override
    public synchronized void close() {
        closeQuietly(channel);
    }
}
