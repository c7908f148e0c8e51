package dev.scoreflow.server;

import dev.scoreflow.runtime.ModelRepository;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.function.Function;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Everything the connections of one server share: limits, the body budget, auth, the router, metrics, the admin
 * thread, and the channel pipeline every connection gets. Built by {@link ScoringServer}; tests build one to drive
 * connections in memory. Thread-safe.
 */
final class Service {
    private static final Logger LOG = LoggerFactory.getLogger(Service.class);
    private static final RateLimitedLog CONNECTIONS_LOG = new RateLimitedLog(LOG);

    final ModelRepository repository;
    final ServerMetrics metrics;
    final ConnectionLimits limits;
    final BodyBudget budget;
    final Auth auth;
    final SeedEndpoint seed;
    final V2Endpoint v2;
    final HttpHandler router;
    /** The jobs API (request-acknowledge), or null when the server has no job queue. */
    final JobsEndpoint jobs;
    /** Loads and unloads models: slow and rare, so one thread, off the event loops, with a short queue. */
    final ExecutorService admin;
    /** Where a connection continues once an answer is ready: its event loop (tests drain their own queue). */
    Function<ChannelHandlerContext, Executor> eventLoop = ChannelHandlerContext::executor;
    private final int maxConnections;
    private final SslContext ssl;
    private volatile boolean draining;

    Service(ModelRepository repository, ServerMetrics metrics, ConnectionLimits limits, long bodyBudgetBytes,
            Auth auth, String defaultModel, String version, int maxConnections, SslContext ssl,
            Readiness readiness, dev.scoreflow.jobs.JobQueue jobQueue) {
        this.repository = repository;
        this.metrics = metrics;
        this.limits = limits;
        this.budget = new BodyBudget(bodyBudgetBytes, metrics);
        this.auth = auth;
        this.seed = new SeedEndpoint(repository, defaultModel);
        this.v2 = new V2Endpoint(repository, version, () -> draining, readiness);
        this.jobs = jobQueue == null ? null : new JobsEndpoint(jobQueue, repository, defaultModel);
        if (jobs != null) {
            metrics.jobsWaiting(jobs::waiting);
        }
        this.router = new HttpHandler(this);
        this.maxConnections = maxConnections;
        this.ssl = ssl;
        this.admin = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(16), r -> {
            Thread t = new Thread(r, "scoreflow-admin");
            t.setDaemon(true);
            return t;
        });
    }

    boolean draining() {
        return draining;
    }

    void startDraining() {
        draining = true;
        if (jobs != null) {
            jobs.release(); // long polls would hold the drain up: they are answered now, to ask again elsewhere
        }
    }

    /** Sets up a new connection's pipeline; beyond {@code maxConnections}, one that refuses and closes. */
    void init(Channel ch) {
        long open = metrics.connections.incrementAndGet();
        ch.closeFuture().addListener(f -> metrics.connections.decrementAndGet());
        ChannelPipeline p = ch.pipeline();
        if (open > maxConnections) {
            metrics.connectionsRefused.inc(1);
            CONNECTIONS_LOG.info("max-connections", "refused a connection from " + ch.remoteAddress() + ": "
                    + maxConnections + " connections are open (--max-connections)");
            p.addLast(new TooManyConnections(ssl != null));
            return;
        }
        if (ssl != null) {
            p.addLast(ssl.newHandler(ch.alloc()));
        }
        HttpConnection connection = new HttpConnection(this);
        if (ssl == null) {
            ch.config().setRecvByteBufAllocator(new BodyReads(ch.config().getRecvByteBufAllocator(),
                    connection::bodyView));
        }
        p.addLast(connection.rawReads());
        p.addLast(new HttpServerCodec(new HttpDecoderConfig().setMaxInitialLineLength(4096).setMaxHeaderSize(16384)
                .setMaxChunkSize(65536), ConnectionLimits.CODEC_PIPELINE_DEPTH));
        // before the connection's limits, so that they count and limit inflated bytes
        p.addLast(new RequestDecompressor(limits.maxBodyBytes()));
        p.addLast(connection);
    }

    void close() {
        admin.shutdownNow();
        if (jobs != null) {
            jobs.close();
        }
    }

    /**
     * Answers a connection over the limit with a plain 503 as soon as it opens, then closes it: the peer learns why
     * instead of timing out. Over TLS there is no cheap way to answer before a handshake, so it just closes.
     */
    private static final class TooManyConnections extends ChannelInboundHandlerAdapter {
        private static final byte[] BODY = "{\"error\":\"too many connections; try again later\"}"
                .getBytes(StandardCharsets.US_ASCII);
        private static final byte[] RESPONSE = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                + "Retry-After: 1\r\nConnection: close\r\nContent-Length: " + BODY.length + "\r\n\r\n"
                + new String(BODY, StandardCharsets.US_ASCII)).getBytes(StandardCharsets.US_ASCII);
        private final boolean tls;

        TooManyConnections(boolean tls) {
            this.tls = tls;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (tls) {
                ctx.close();
                return;
            }
            ByteBuf b = Unpooled.wrappedBuffer(RESPONSE);
            ctx.writeAndFlush(b).addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
