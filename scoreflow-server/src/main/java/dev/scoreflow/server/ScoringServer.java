package dev.scoreflow.server;

import com.sun.management.UnixOperatingSystemMXBean;
import dev.scoreflow.api.ScoreflowException;
import dev.scoreflow.runtime.BatchObserver;
import dev.scoreflow.runtime.ModelRepository;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.GlobalEventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * The HTTP scoring service: the seed binary protocol and the Open Inference Protocol over the models of a
 * {@link ModelRepository}, on Netty.
 *
 * <p>Back-pressure and limits: each model's queue is bounded (a full queue answers 503 with {@code Retry-After}
 * at once); a request body over {@link Builder#maxBodyBytes} answers 413; the bytes of all bodies held at once
 * stay under {@link Builder#bodyBudgetBytes} (503 beyond it), counted as they arrive (a body of 64 KiB to 4 MiB,
 * read from the socket straight into one buffer, counts whole from its header while the budget is under half
 * used), so memory is bounded whatever the number of connections; connections beyond {@link Builder#maxConnections} are answered 503 and
 * closed. Slow or silent peers end with 408 or a close: header, body, idle and write timeouts (see the builder).
 * {@link #shutdown} turns readiness off, stops accepting, answers everything received or being uploaded, then
 * closes. The limits and what they defend against are described in SECURITY.md.
 *
 * <p>Create with {@link #builder}, then {@link Builder#start()}. Thread-safe.
 */
public final class ScoringServer implements AutoCloseable {
    /** The version reported by {@code GET /v2}. */
    public static final String VERSION = "0.1.0";

    private static final Logger LOG = LoggerFactory.getLogger(ScoringServer.class);

    final Service service;
    private final ModelRepository repository;
    private final EventLoopGroup group;
    private final Channel serverChannel;
    private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final boolean tls;

    private ScoringServer(Builder b, Service service) {
        this.repository = b.repository;
        this.service = service;
        this.tls = b.tlsCert != null;
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class
                : NioServerSocketChannel.class;
        this.group = new MultiThreadIoEventLoopGroup(b.ioThreads, io);
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(channelType)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        channels.add(ch);
                        service.init(ch);
                    }
                });
        try {
            this.serverChannel = bootstrap.bind(new InetSocketAddress(b.host, b.port)).sync().channel();
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            service.close();
            throw new ScoreflowException("cannot listen on " + b.host + ":" + b.port + ": " + e.getMessage(), e);
        }
        LOG.info("listening on {} (max {} connections, body limit {} bytes, body budget {} bytes)", uri(),
                b.maxConnections, b.maxBodyBytes, b.bodyBudgetBytes);
    }

    private static SslContext sslContext(Path cert, Path key) {
        try {
            return SslContextBuilder.forServer(cert.toFile(), key.toFile()).build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new ScoreflowException("cannot use TLS certificate " + cert + " and key " + key + ": "
                    + e.getMessage(), e);
        }
    }

    /** A builder for a server over {@code repository}. */
    public static Builder builder(ModelRepository repository) {
        return new Builder(repository);
    }

    /** The port the server listens on (useful after binding port 0). */
    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** {@code http://host:port} or {@code https://host:port}. */
    public URI uri() {
        InetSocketAddress a = (InetSocketAddress) serverChannel.localAddress();
        String host = a.getAddress().isAnyLocalAddress() ? "127.0.0.1" : a.getAddress().getHostAddress();
        return URI.create((tls ? "https" : "http") + "://" + host + ":" + a.getPort());
    }

    /** The Prometheus metrics text, as served at {@code /metrics}. */
    /** Requests waiting on jobs now (long polling). */
    long jobsWaiting() {
        return service.jobs == null ? 0 : service.jobs.waiting();
    }

    public String metricsText() {
        return service.metrics.render();
    }

    /**
     * Graceful shutdown: readiness answers 503 at once (so load balancers stop sending), the port closes, every
     * connection answers the requests it received or is receiving (uploads may finish) and closes, the last answer
     * saying {@code Connection: close}; an idle connection stays open a moment for a request already in transit.
     * After {@code grace}, whatever is left is closed; then the event loops and the models.
     *
     * @return true if every connection finished within {@code grace}
     */
    public boolean shutdown(Duration grace) {
        long end = System.nanoTime() + grace.toNanos();
        service.startDraining(); // readiness answers 503 from now on; new connections start draining
        for (Channel ch : channels) {
            ch.pipeline().fireUserEventTriggered(HttpConnection.DRAIN); // runs on the channel's event loop
        }
        // A client whose connection the kernel completed is still in the listen queue until we accept it: closing
        // the port at once would reset it. Accept for the linger, then close.
        long linger = Math.min(service.limits.drainLinger().toNanos(), grace.toNanos());
        try {
            TimeUnit.NANOSECONDS.sleep(linger);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        serverChannel.close().awaitUninterruptibly();
        ChannelGroupFuture allClosed = channels.newCloseFuture();
        LOG.info("draining {} connection(s) for up to {} s", channels.size(), grace.toSeconds());
        boolean clean = allClosed.awaitUninterruptibly(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (!clean) {
            LOG.warn("{} connection(s) still busy after {} s of draining; closing them", channels.size(),
                    grace.toSeconds());
            channels.close().awaitUninterruptibly();
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        service.close();
        repository.close();
        LOG.info(clean ? "stopped" : "stopped with requests unanswered after {} s", grace.toSeconds());
        return clean;
    }

    @Override
    public void close() {
        shutdown(Duration.ofSeconds(30));
    }

    /** Observers that feed the server's metrics; give to {@link ModelRepository.Builder#observers}. */
    public static final class MetricsHook {
        private ServerMetrics metrics;

        /** The per-model batch observer; forwards to the server's metrics once the server exists. */
        public BatchObserver observer(String model, String version) {
            return new BatchObserver() {
                @Override
                public void batch(int rows, int parts, long nanos) {
                    ServerMetrics m = metrics;
                    if (m != null) {
                        m.observer(model).batch(rows, parts, nanos);
                    }
                }

                @Override
                public void queued(long nanos) {
                    ServerMetrics m = metrics;
                    if (m != null) {
                        m.observer(model).queued(nanos);
                    }
                }
            };
        }
    }

    /** Server settings; every one has a default. */
    public static final class Builder {
        /** Default request body limit: 64 MiB, well above 1000 rows x 1000 features (4 MB). */
        public static final int DEFAULT_MAX_BODY_BYTES = 64 << 20;
        /** Default budget for all request bodies held at once. */
        public static final long DEFAULT_BODY_BUDGET_BYTES = 1L << 30;
        /** Default time from a request's first byte (or a new connection) to the end of its header, like nginx's
         * {@code client_header_timeout}. */
        public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(10);
        /** Default longest pause between two reads of a body ({@code client_body_timeout}). */
        public static final Duration DEFAULT_BODY_TIMEOUT = Duration.ofSeconds(30);
        /** Default bytes per second a body must average after the first body timeout: 64 KiB/s (512 kbit/s). */
        public static final long DEFAULT_BODY_MIN_RATE = 64 << 10;
        /** Default time a kept-alive connection may wait for its next request ({@code keepalive_timeout}). */
        public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
        /** Default time writing one answer may take before the client is deemed not to read ({@code send_timeout}). */
        public static final Duration DEFAULT_WRITE_TIMEOUT = Duration.ofSeconds(30);
        /** Default requests per connection ({@code keepalive_requests}). */
        public static final int DEFAULT_MAX_REQUESTS_PER_CONNECTION = 10_000;
        /** Default time an idle connection stays open while draining, for a request already in transit. */
        public static final Duration DEFAULT_DRAIN_LINGER = Duration.ofMillis(500);
        /** Default connections open at once: 10,000, or fewer if the process may open fewer files. */
        public static final int DEFAULT_MAX_CONNECTIONS = defaultMaxConnections();

        private final ModelRepository repository;
        private String host = "127.0.0.1";
        private int port = 8080;
        private int ioThreads = Runtime.getRuntime().availableProcessors();
        private int maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
        private long bodyBudgetBytes = DEFAULT_BODY_BUDGET_BYTES;
        private String authToken;
        private String adminToken;
        private boolean repositoryApi = true;
        private Duration headerTimeout = DEFAULT_HEADER_TIMEOUT;
        private Duration bodyTimeout = DEFAULT_BODY_TIMEOUT;
        private long bodyMinRate = DEFAULT_BODY_MIN_RATE;
        private Duration idleTimeout = DEFAULT_IDLE_TIMEOUT;
        private Duration writeTimeout = DEFAULT_WRITE_TIMEOUT;
        private int maxRequestsPerConnection = DEFAULT_MAX_REQUESTS_PER_CONNECTION;
        private Duration drainLinger = DEFAULT_DRAIN_LINGER;
        private int maxConnections = DEFAULT_MAX_CONNECTIONS;
        private Path tlsCert;
        private Path tlsKey;
        private String defaultModel;
        private MetricsHook hook;
        private Readiness readiness = Readiness.STRICT;
        private dev.scoreflow.jobs.JobQueue jobQueue;

        private Builder(ModelRepository repository) {
            this.repository = Objects.requireNonNull(repository);
        }

        /** Address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces). */
        public Builder host(String host) {
            this.host = Objects.requireNonNull(host);
            return this;
        }

        /** Port (default 8080; 0 picks a free one). */
        public Builder port(int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
            }
            this.port = port;
            return this;
        }

        /** Netty event-loop threads (default: available cores). */
        public Builder ioThreads(int n) {
            if (n < 1 || n > 256) {
                throw new IllegalArgumentException("ioThreads must be in [1, 256], got " + n);
            }
            this.ioThreads = n;
            return this;
        }

        /** Largest request body accepted (default 64 MiB); larger gets 413. */
        public Builder maxBodyBytes(int n) {
            if (n < 1024) {
                throw new IllegalArgumentException("maxBodyBytes must be >= 1024, got " + n);
            }
            this.maxBodyBytes = n;
            return this;
        }

        /** Bytes of request bodies held at once over all connections (default 1 GiB); beyond, 503. */
        public Builder bodyBudgetBytes(long n) {
            if (n < 1024) {
                throw new IllegalArgumentException("bodyBudgetBytes must be >= 1024, got " + n);
            }
            this.bodyBudgetBytes = n;
            return this;
        }

        /** Require {@code Authorization: Bearer <token>} on everything but the health endpoints (null: no auth). */
        public Builder authToken(String token) {
            if (token != null && token.isBlank()) {
                throw new IllegalArgumentException("auth token must not be blank");
            }
            this.authToken = token;
            return this;
        }

        /** Serve HTTPS with a PEM certificate chain and a PEM (PKCS#8) private key. */
        public Builder tls(Path certChain, Path privateKey) {
            this.tlsCert = Objects.requireNonNull(certChain);
            this.tlsKey = Objects.requireNonNull(privateKey);
            return this;
        }

        /** The model {@code PUT /score} uses (default: the only loaded model). */
        public Builder defaultModel(String name) {
            this.defaultModel = name;
            return this;
        }

        /** Connects batch metrics: pass the same hook's observers to the repository builder. */
        public Builder metricsHook(MetricsHook hook) {
            this.hook = hook;
            return this;
        }

        /**
         * Require {@code Authorization: Bearer <token>} with this token on the model repository API (load, unload,
         * index) instead of the scoring token (null: no admin token; then the repository API is open on a server
         * without auth, and refused with 403 on a server with a scoring token).
         */
        public Builder adminToken(String token) {
            if (token != null && token.isBlank()) {
                throw new IllegalArgumentException("admin token must not be blank");
            }
            this.adminToken = token;
            return this;
        }

        /**
         * When {@code /v2/health/ready} answers 200 (default {@link Readiness#STRICT}: every model version is
         * ready; {@link Readiness#LENIENT}: at least one model is).
         */
        /**
         * Serves the jobs API (request-acknowledge: {@code /models/{m}/jobs}, {@code /v2/models/{m}/jobs},
         * {@code /jobs/{id}}) on {@code queue}; the caller closes the queue after the server.
         */
        public Builder jobs(dev.scoreflow.jobs.JobQueue queue) {
            this.jobQueue = queue;
            return this;
        }

        public Builder readiness(Readiness readiness) {
            this.readiness = Objects.requireNonNull(readiness);
            return this;
        }

        /** Serve the model repository API (default true); false answers it 403. */
        public Builder repositoryApi(boolean enabled) {
            this.repositoryApi = enabled;
            return this;
        }

        /** From a request's first byte (or a new connection) to the end of its header; beyond, 408 and close. */
        public Builder headerTimeout(Duration d) {
            this.headerTimeout = positive("headerTimeout", d);
            return this;
        }

        /** Longest pause between two reads of a body, and the grace before {@link #bodyMinRate}; beyond, 408. */
        public Builder bodyTimeout(Duration d) {
            this.bodyTimeout = positive("bodyTimeout", d);
            return this;
        }

        /** Bytes per second a body must average once {@link #bodyTimeout} has passed (0: no minimum); else 408. */
        public Builder bodyMinRate(long bytesPerSecond) {
            if (bytesPerSecond < 0) {
                throw new IllegalArgumentException("bodyMinRate must be >= 0 bytes/s, got " + bytesPerSecond);
            }
            this.bodyMinRate = bytesPerSecond;
            return this;
        }

        /** How long a kept-alive connection may wait for its next request before it is closed. */
        public Builder idleTimeout(Duration d) {
            this.idleTimeout = positive("idleTimeout", d);
            return this;
        }

        /** How long writing one answer may take; a client that does not read is disconnected after it. */
        public Builder writeTimeout(Duration d) {
            this.writeTimeout = positive("writeTimeout", d);
            return this;
        }

        /** Requests served on one connection; the last answer says {@code Connection: close}. */
        public Builder maxRequestsPerConnection(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("maxRequestsPerConnection must be >= 1, got " + n);
            }
            this.maxRequestsPerConnection = n;
            return this;
        }

        /** Connections open at once; beyond, a new one is answered 503 and closed. */
        public Builder maxConnections(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("maxConnections must be >= 1, got " + n);
            }
            this.maxConnections = n;
            return this;
        }

        /** While draining, how long an idle connection stays open for a request already in transit. */
        public Builder drainLinger(Duration d) {
            if (d.isNegative()) {
                throw new IllegalArgumentException("drainLinger must be >= 0, got " + d);
            }
            this.drainLinger = d;
            return this;
        }

        private static Duration positive(String name, Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + " must be positive, got " + d);
            }
            return d;
        }

        private static int defaultMaxConnections() {
            long files = 0;
            if (ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean os) {
                files = os.getMaxFileDescriptorCount();
            }
            // leave room for model files, jars, sockets of our own; never fewer than 64
            return files <= 0 ? 10_000 : (int) Math.max(64, Math.min(10_000, files - 512));
        }

        /** Binds and starts serving. */
        public ScoringServer start() {
            return new ScoringServer(this, service());
        }

        /** The service a server with these settings runs; also what in-memory tests drive. */
        Service service() {
            return service(true);
        }

        /**
         * The service a {@link JobWorker} runs jobs through: these settings, without the jobs API and without taking
         * over the metrics hook (that stays with the server, if there is one).
         */
        Service workerService() {
            return service(false);
        }

        private Service service(boolean server) {
            ServerMetrics metrics = new ServerMetrics(repository);
            if (hook != null && server) {
                hook.metrics = metrics;
            }
            SslContext ssl = tlsCert == null ? null : sslContext(tlsCert, tlsKey);
            ConnectionLimits limits = new ConnectionLimits(maxBodyBytes, headerTimeout, bodyTimeout, bodyMinRate,
                    idleTimeout, writeTimeout, maxRequestsPerConnection, drainLinger);
            return new Service(repository, metrics, limits, bodyBudgetBytes,
                    new Auth(authToken, adminToken, repositoryApi), defaultModel, VERSION, maxConnections, ssl,
                    readiness, server ? jobQueue : null);
        }
    }
}
