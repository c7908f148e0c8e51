package dev.scoreflow.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP proxy on the loopback that adds a fixed delay to every byte, each way: what a network between a client and a
 * server adds that localhost does not (this kernel has no {@code netem}). Each byte read at time t is written to the
 * other side at t + delay, in order; a connection's half-close travels with the same delay. Bandwidth is not limited,
 * only latency. Each direction of a connection has a reader and a writer thread and at most {@link #CHUNKS} chunks in
 * between (the reader blocks beyond: back-pressure to the sender), so a connection holds at most 2 × 64 × 64 KiB.
 *
 * <pre>java -cp scoreflow-testkit.jar dev.scoreflow.testkit.LatencyProxy LISTEN_PORT TARGET_HOST:PORT DELAY_MS</pre>
 */
public final class LatencyProxy implements AutoCloseable {
    static final int CHUNK = 64 * 1024;
    static final int CHUNKS = 64;
    /** A connection silent this long, both ways, is closed: no peer holds the proxy's threads forever. */
    static final Duration IDLE = Duration.ofMinutes(5);

    /** Bytes due at the other side at {@code at} (System.nanoTime); empty data is the end of the stream. */
    private record Chunk(long at, byte[] data) {
    }

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final long delayNanos;
    private final Thread acceptor;
    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private volatile boolean closed;

    private LatencyProxy(int port, InetSocketAddress target, Duration delay) throws IOException {
        if (delay.isNegative()) {
            throw new IllegalArgumentException("the delay must not be negative, was " + delay);
        }
        this.server = new ServerSocket(port, 128, InetAddress.getLoopbackAddress());
        this.target = target;
        this.delayNanos = delay.toNanos();
        this.acceptor = new Thread(this::accept, "latency-proxy-accept-" + server.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Listens on the loopback at {@code port} (0: a free one) and forwards to {@code target} with {@code delay}. */
    public static LatencyProxy start(int port, InetSocketAddress target, Duration delay) throws IOException {
        return new LatencyProxy(port, target, delay);
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Connections accepted so far. */
    public long connections() {
        return connections.get();
    }

    /** Bytes forwarded so far, both ways. */
    public long bytes() {
        return bytes.get();
    }

    private void accept() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("latency proxy: accept failed: " + e);
                }
                return;
            }
            Socket upstream = new Socket();
            try {
                upstream.connect(target, (int) Duration.ofSeconds(10).toMillis());
                for (Socket s : new Socket[]{client, upstream}) {
                    s.setTcpNoDelay(true);
                    s.setSoTimeout((int) IDLE.toMillis());
                }
            } catch (IOException e) {
                System.err.println("latency proxy: cannot reach " + target + ": " + e);
                closeQuietly(client);
                closeQuietly(upstream);
                continue;
            }
            connections.incrementAndGet();
            String name = "latency-proxy-" + connections.get();
            AtomicInteger ended = new AtomicInteger();
            new Direction(client, upstream, ended, name + "-up").start();
            new Direction(upstream, client, ended, name + "-down").start();
        }
    }

    /** One direction of one connection: bytes read from {@code from}, written to {@code to} after the delay. */
    private final class Direction {
        private final Socket from;
        private final Socket to;
        /** Directions of this connection that have passed their end on: at two, the sockets are closed. */
        private final AtomicInteger ended;
        private final String name;
        private final BlockingQueue<Chunk> chunks = new ArrayBlockingQueue<>(CHUNKS);

        Direction(Socket from, Socket to, AtomicInteger ended, String name) {
            this.from = from;
            this.to = to;
            this.ended = ended;
            this.name = name;
        }

        void start() {
            Thread reader = new Thread(this::read, name + "-read");
            Thread writer = new Thread(this::write, name + "-write");
            reader.setDaemon(true);
            writer.setDaemon(true);
            reader.start();
            writer.start();
        }

        private void read() {
            byte[] buffer = new byte[CHUNK];
            try {
                InputStream in = from.getInputStream(); // not closed here: closing it would close the socket
                while (true) {
                    int n;
                    try {
                        n = in.read(buffer);
                    } catch (SocketTimeoutException e) {
                        System.err.println("latency proxy: " + name + " idle for " + IDLE + ", closing");
                        break;
                    }
                    if (n < 0) {
                        break;
                    }
                    chunks.put(new Chunk(System.nanoTime() + delayNanos, Arrays.copyOf(buffer, n)));
                }
            } catch (IOException e) {
                // the other direction or close() closed the socket, or the peer reset it: pass the end on
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            try {
                chunks.put(new Chunk(System.nanoTime() + delayNanos, new byte[0]));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private void write() {
            try {
                OutputStream out = to.getOutputStream();
                while (true) {
                    Chunk chunk = chunks.take();
                    for (long wait = chunk.at() - System.nanoTime(); wait > 0; wait = chunk.at() - System.nanoTime()) {
                        LockSupport.parkNanos(wait); // the delay is the point: each chunk leaves when it is due
                    }
                    if (chunk.data().length == 0) {
                        to.shutdownOutput();
                        break;
                    }
                    out.write(chunk.data());
                    out.flush();
                    bytes.addAndGet(chunk.data().length);
                }
                if (ended.incrementAndGet() < 2) {
                    return; // the other direction may still be talking
                }
            } catch (IOException e) {
                // the peer went away or reset: end the whole connection, so both directions' threads finish
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            closeQuietly(from);
            closeQuietly(to);
            chunks.clear(); // a reader blocked on a full queue gets room, then finds its socket closed
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing: nothing to do about it
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3 || args[0].startsWith("-")) {
            System.err.println("usage: LatencyProxy LISTEN_PORT TARGET_HOST:PORT DELAY_MS   (delay added each way, "
                    + "e.g. 0.5)");
            System.exit(2);
        }
        String[] hostPort = args[1].split(":");
        Duration delay = Duration.ofNanos((long) (Double.parseDouble(args[2]) * 1e6));
        LatencyProxy proxy = start(Integer.parseInt(args[0]), new InetSocketAddress(hostPort[0],
                Integer.parseInt(hostPort[1])), delay);
        System.err.printf("latency proxy: 127.0.0.1:%d -> %s, +%s each way%n", proxy.port(), args[1], delay);
        Thread.currentThread().join();
    }
}
