package dev.scoreflow.jobs;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * Publishes to RabbitMQ and returns only once the broker has confirmed the message (publisher confirms): for a
 * durable queue and a persistent message, the broker has then written it to disk (a quorum queue: to a majority).
 * One channel in confirm mode, used by one publisher at a time (callers queue on its lock: a confirm round trip
 * each); a channel the broker or a timeout closed is replaced by a new one on the next publish. Thread-safe.
 */
final class ConfirmedPublisher implements AutoCloseable {
    private final Connection connection;
    private final Duration timeout;
    private final String what;
    private Channel channel; // guarded by this

    /** @param what names the broker in errors ("RabbitMQ at host:port/vhost") */
    ConfirmedPublisher(Connection connection, Duration timeout, String what) {
        this.connection = connection;
        this.timeout = timeout;
        this.what = what;
    }

    /**
     * Publishes {@code body} to {@code exchange} with {@code routingKey} as mandatory-free, and waits for the
     * broker's confirm.
     *
     * @throws QueueUnavailableException if the broker is not connected, nacks the message or does not confirm it
     *                                   within the timeout: the message may or may not have been taken
     */
    synchronized void publish(String exchange, String routingKey, AMQP.BasicProperties props, byte[] body) {
        try {
            Channel c = channel();
            c.basicPublish(exchange, routingKey, props, body);
            c.waitForConfirmsOrDie(timeout.toMillis()); // closes the channel on a nack or a timeout
        } catch (IOException | TimeoutException | ShutdownSignalException e) {
            throw new QueueUnavailableException(what + " did not confirm a message to '" + exchange + "'/'"
                    + routingKey + "' within " + timeout.toMillis() + " ms: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QueueUnavailableException("interrupted while waiting for " + what + " to confirm", e);
        }
    }

    private Channel channel() throws IOException {
        if (channel == null || !channel.isOpen()) {
            if (!connection.isOpen()) {
                throw new IOException("not connected (the connection recovers in the background)");
            }
            Channel c = connection.createChannel();
            c.confirmSelect();
            channel = c;
        }
        return channel;
    }

    @Override
    public synchronized void close() {
        if (channel != null && channel.isOpen()) {
            try {
                channel.close();
            } catch (IOException | TimeoutException | ShutdownSignalException e) {
                // closing anyway: the connection's close ends it too
            }
        }
    }
}
