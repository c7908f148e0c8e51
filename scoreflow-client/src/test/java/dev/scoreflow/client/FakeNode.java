package dev.scoreflow.client;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A scoring node for client tests, on a real socket: answers the seed protocol with each row's first feature as its
 * score, after an injected random latency; can answer 503 (with Retry-After), drop connections without answering,
 * refuse rows whose first feature is negative with 400, answer bytes that are no scores, and die.
 */
final class FakeNode implements AutoCloseable {
    private static final io.netty.util.AttributeKey<Boolean> SERVED = io.netty.util.AttributeKey.valueOf("served");
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final Random random;
    private Channel server;
    final int port;

    volatile int maxLatencyMicros;
    volatile double refuseShare;      // answered 503
    volatile String retryAfter = "0";
    volatile double dropShare;        // connection closed, no answer
    volatile int refuseNext;          // the next n requests get 503
    volatile java.util.concurrent.CompletableFuture<Void> gate; // if set, scores are answered once it completes
    volatile int garbleNext;          // the next n requests get 200 with a body that is no list of scores
    volatile boolean healthy = true;
    volatile boolean closeKeptAliveConnections; // the second request on a connection finds it closed

    final AtomicInteger requests = new AtomicInteger();
    final AtomicLong rowsAnswered = new AtomicLong();
    final AtomicInteger outstanding = new AtomicInteger();
    final AtomicInteger maxOutstanding = new AtomicInteger();
    final ConcurrentLinkedQueue<Long> requestTimes = new ConcurrentLinkedQueue<>();

    FakeNode(long seed) {
        this(seed, 0);
    }

    FakeNode(long seed, int port) {
        random = new Random(seed);
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.add(ch);
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 << 20),
                                new Handler());
                    }
                }).bind(new InetSocketAddress("127.0.0.1", port)).syncUninterruptibly().channel();
        this.port = ((InetSocketAddress) server.localAddress()).getPort();
    }

    String url() {
        return "http://127.0.0.1:" + port;
    }

    private synchronized double roll() {
        return random.nextDouble();
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (req.uri().startsWith("/v2/health")) {
                answer(ctx, healthy ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
                        Unpooled.EMPTY_BUFFER);
                return;
            }
            if (closeKeptAliveConnections && ctx.channel().hasAttr(SERVED)) {
                ctx.close(); // as a server whose idle timeout fired just as the client reused the connection
                return;
            }
            ctx.channel().attr(SERVED).set(Boolean.TRUE);
            requests.incrementAndGet();
            requestTimes.add(System.nanoTime());
            if (roll() < dropShare) {
                ctx.close();
                return;
            }
            if (refuseNext > 0 || roll() < refuseShare) {
                if (refuseNext > 0) {
                    refuseNext--;
                }
                FullHttpResponse r = response(HttpResponseStatus.SERVICE_UNAVAILABLE,
                        text("{\"error\":\"queue full\"}"));
                r.headers().set(HttpHeaderNames.RETRY_AFTER, retryAfter);
                ctx.writeAndFlush(r);
                return;
            }
            if (garbleNext > 0) {
                garbleNext--;
                answer(ctx, HttpResponseStatus.OK, Unpooled.wrappedBuffer(new byte[]{1, 2, 3}));
                return;
            }
            int features = Integer.parseInt(req.headers().get("Scoreflow-Features"));
            ByteBuf body = req.content().order(ByteOrder.LITTLE_ENDIAN);
            int rows = body.readableBytes() / 4 / features;
            ByteBuf out = Unpooled.buffer(rows * 4);
            for (int r = 0; r < rows; r++) {
                float first = body.getFloatLE(r * features * 4);
                if (first < 0) {
                    answer(ctx, HttpResponseStatus.BAD_REQUEST, text("{\"error\":\"row " + r
                            + " is negative\"}"));
                    out.release();
                    return;
                }
                out.writeFloatLE(first);
            }
            int delay;
            synchronized (random) {
                delay = maxLatencyMicros == 0 ? 0 : random.nextInt(maxLatencyMicros);
            }
            maxOutstanding.accumulateAndGet(outstanding.incrementAndGet(), Math::max);
            Runnable reply = () -> {
                outstanding.decrementAndGet();
                if (ctx.channel().isActive()) { // a killed node answers nothing more
                    rowsAnswered.addAndGet(rows);
                }
                answer(ctx, HttpResponseStatus.OK, out);
            };
            java.util.concurrent.CompletableFuture<Void> g = gate;
            if (g != null) {
                g.thenRun(() -> ctx.executor().execute(reply));
            } else {
                ctx.executor().schedule(reply, delay, TimeUnit.MICROSECONDS);
            }
        }
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    private static FullHttpResponse response(HttpResponseStatus status, ByteBuf body) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        return r;
    }

    private static void answer(ChannelHandlerContext ctx, HttpResponseStatus status, ByteBuf body) {
        if (ctx.channel().isActive()) {
            ctx.writeAndFlush(response(status, body));
        } else {
            body.release();
        }
    }

    /** Dies: stops listening and cuts every connection, in-flight requests unanswered. */
    void kill() {
        server.close().syncUninterruptibly();
        connections.close().syncUninterruptibly();
    }

    @Override
    public void close() {
        kill();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
