package dev.scoreflow.server;

import dev.scoreflow.api.ScoreflowException;
import dev.scoreflow.runtime.BatchObserver;
import dev.scoreflow.runtime.ModelRepository;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.GlobalEventExecutor;

import javax.net.ssl.SSLException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The HTTP scoring service: the seed binary protocol and the Open Inference Protocol over the models of a
 * {@link ModelRepository}, on Netty.
 *
 * <p>Back-pressure and limits: each model's queue is bounded (a full queue answers 503 with {@code Retry-After}
 * at once); a request body over {@link Builder#maxBodyBytes} answers 413; the bytes of all bodies held at once
 * stay under {@link Builder#bodyBudgetBytes} (503 beyond it), so memory is bounded whatever the number of
 * connections. {@link #shutdown} stops accepting, answers everything already accepted, then closes.
 *
 * <p>Create with {@link #builder()}, then {@link Builder#start()}. Thread-safe.
 */
public final class ScoringServer implements AutoCloseable {
    /** The version reported by {@code GET /v2}. */
    public static final String VERSION = "0.1.0";

    final ServerMetrics metrics;
    final SeedEndpoint seed;
    final V2Endpoint v2;
    final byte[] authToken;
    private final ModelRepository repository;
    private final EventLoopGroup group;
    private final Channel serverChannel;
    private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final AtomicLong inFlight = new AtomicLong();
    private final Object idle = new Object();
    private final Consumer<String> log;
    private final boolean tls;
    private volatile boolean draining;

    private ScoringServer(Builder b, ServerMetrics metrics) {
        this.repository = b.repository;
        this.metrics = metrics;
        this.log = b.log;
        this.authToken = b.authToken == null ? null : b.authToken.getBytes(StandardCharsets.UTF_8);
        this.seed = new SeedEndpoint(repository, b.defaultModel);
        this.v2 = new V2Endpoint(repository, VERSION, () -> !draining && !repository.readyNames().isEmpty());
        SslContext ssl = b.tlsCert == null ? null : sslContext(b.tlsCert, b.tlsKey);
        this.tls = ssl != null;
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class
                : NioServerSocketChannel.class;
        this.group = new MultiThreadIoEventLoopGroup(b.ioThreads, io);
        AtomicLong budget = new AtomicLong();
        int maxBody = b.maxBodyBytes;
        long bodyBudget = b.bodyBudgetBytes;
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(channelType)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        channels.add(ch);
                        ChannelPipeline p = ch.pipeline();
                        if (ssl != null) {
                            p.addLast(ssl.newHandler(ch.alloc()));
                        }
                        p.addLast(new HttpServerCodec(4096, 16384, 65536));
                        p.addLast(new RequestDecompressor(maxBody)); // before the limits: they count inflated bytes
                        p.addLast(new BodyLimits.Budget(budget, bodyBudget, metrics));
                        p.addLast(new BodyLimits.Aggregator(maxBody));
                        p.addLast(new HttpHandler(ScoringServer.this));
                    }
                });
        try {
            this.serverChannel = bootstrap.bind(new InetSocketAddress(b.host, b.port)).sync().channel();
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new ScoreflowException("cannot listen on " + b.host + ":" + b.port + ": " + e.getMessage(), e);
        }
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
    public String metricsText() {
        return metrics.render();
    }

    boolean draining() {
        return draining;
    }

    void requestStarted() {
        inFlight.incrementAndGet();
    }

    void requestFinished() {
        if (inFlight.decrementAndGet() == 0) {
            synchronized (idle) {
                idle.notifyAll();
            }
        }
    }

    /**
     * Graceful shutdown: becomes not ready, stops accepting connections, waits up to {@code grace} for every
     * accepted request to be answered, then closes connections, the event loops and the models.
     *
     * @return true if every accepted request was answered within {@code grace}
     */
    public boolean shutdown(Duration grace) {
        draining = true;
        long end = System.nanoTime() + grace.toNanos();
        serverChannel.close().awaitUninterruptibly();
        boolean clean = true;
        synchronized (idle) {
            while (inFlight.get() > 0) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    clean = false;
                    break;
                }
                try {
                    idle.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    clean = false;
                    break;
                }
            }
        }
        channels.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        repository.close();
        log.accept(clean ? "stopped" : "stopped with requests unanswered after " + grace.toSeconds() + " s");
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

        private final ModelRepository repository;
        private String host = "127.0.0.1";
        private int port = 8080;
        private int ioThreads = Runtime.getRuntime().availableProcessors();
        private int maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
        private long bodyBudgetBytes = DEFAULT_BODY_BUDGET_BYTES;
        private String authToken;
        private Path tlsCert;
        private Path tlsKey;
        private String defaultModel;
        private MetricsHook hook;
        private Consumer<String> log = s -> { };

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

        public Builder log(Consumer<String> log) {
            this.log = Objects.requireNonNull(log);
            return this;
        }

        /** Binds and starts serving. */
        public ScoringServer start() {
            ServerMetrics metrics = new ServerMetrics(repository);
            if (hook != null) {
                hook.metrics = metrics;
            }
            return new ScoringServer(this, metrics);
        }
    }
}
