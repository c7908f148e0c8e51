package dev.scoreflow.client;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * HTTP/1.1 (or HTTPS) exchanges with scoring nodes over Netty: one request at a time per connection, kept-alive
 * connections reused per node (a connection is opened when none is idle, so a node has as many as it has requests in flight).
 * Answers are copied out of Netty's buffers before the future completes, so nothing reference-counted leaks to
 * callers. Thread-safe; futures complete on the event loop.
 */
final class HttpTransport implements AutoCloseable {
    /** An answer: status, the headers the client uses, and the body. */
    record Reply(int status, String retryAfter, String contentType, long inferenceHeaderLength, ByteBuffer body) {
        String bodyText() {
            return new String(body.array(), body.arrayOffset() + body.position(), body.remaining(),
                    java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** The connection closed or failed before its answer arrived. */
    static final class ConnectionLostException extends IOException {
        ConnectionLostException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static final AttributeKey<Exchange> EXCHANGE = AttributeKey.valueOf("scoreflow.exchange");
    private static final int MAX_ANSWER_BYTES = 256 << 20;

    private final EventLoopGroup group;
    private final Bootstrap bootstrap;
    private final SslContext ssl; // null: no https endpoints
    private final Map<Node, ConcurrentLinkedDeque<Channel>> idle = new ConcurrentHashMap<>();
    private final LongAdder staleRetries = new LongAdder();
    private volatile boolean closed;

    HttpTransport(int ioThreads, long connectTimeoutMillis, SslContext ssl) {
        this.ssl = ssl;
        group = new MultiThreadIoEventLoopGroup(ioThreads, new DefaultThreadFactory("scoreflow-client", true),
                NioIoHandler.newFactory());
        bootstrap = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, connectTimeoutMillis));
    }

    /** A client TLS context that trusts {@code pemFile} (or the JVM's trust store) and verifies host names. */
    static SslContext tls(String pemFile) {
        try {
            SslContextBuilder b = SslContextBuilder.forClient().endpointIdentificationAlgorithm("HTTPS");
            if (pemFile != null) {
                b.trustManager(new java.io.File(pemFile));
            }
            return b.build();
        } catch (javax.net.ssl.SSLException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot use the trusted certificates " + pemFile + ": "
                    + e.getMessage(), e);
        }
    }

    /** Runs {@code task} after {@code delayNanos} on the client's event loop. */
    void schedule(Runnable task, long delayNanos) {
        group.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
    }

    /** Schedules {@code task} every {@code periodNanos}. */
    void every(Runnable task, long periodNanos) {
        group.scheduleWithFixedDelay(task, periodNanos, periodNanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Sends one request to {@code node}; the future completes with the answer, or exceptionally with an
     * {@link IOException} (connect failure, connection lost) or {@link TimeoutException} after {@code timeoutNanos}.
     * A request that finds its kept-alive connection closed by the server (an idle timeout racing the request) is
     * sent once more on a new connection: scoring is idempotent, and the node is not at fault.
     *
     * @param body    makes the request body (called once per send); its readable bytes are sent and it is released
     * @param headers extra headers, name to value
     */
    CompletableFuture<Reply> send(Node node, HttpMethod method, String path, Supplier<ByteBuf> body,
                                  String contentType, Map<String, String> headers, long timeoutNanos) {
        CompletableFuture<Reply> reply = new CompletableFuture<>();
        if (closed) {
            reply.completeExceptionally(new IOException("the client is closed"));
            return reply;
        }
        Supplier<FullHttpRequest> request = () -> {
            ByteBuf content = body.get();
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, path, content);
            req.headers().set(HttpHeaderNames.HOST, node.host + ":" + node.port);
            req.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
            req.headers().set(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
            if (contentType != null) {
                req.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
            }
            headers.forEach((k, v) -> req.headers().set(k, v));
            return req;
        };
        Channel ch = pollIdle(node);
        if (ch == null) {
            connectAndExchange(node, request.get(), reply, timeoutNanos);
            return reply;
        }
        CompletableFuture<Reply> reused = new CompletableFuture<>();
        exchange(node, ch, request.get(), reused, timeoutNanos);
        reused.whenComplete((r, e) -> {
            if (e instanceof ConnectionLostException && !closed) {
                staleRetries.increment();
                connectAndExchange(node, request.get(), reply, timeoutNanos);
            } else if (e != null) {
                reply.completeExceptionally(e);
            } else {
                reply.complete(r);
            }
        });
        return reply;
    }

    /** Requests sent again because their kept-alive connection turned out closed. */
    long staleRetries() {
        return staleRetries.sum();
    }

    private void connectAndExchange(Node node, FullHttpRequest req, CompletableFuture<Reply> reply,
                                    long timeoutNanos) {
        ChannelFuture connect = bootstrap.clone().handler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel c) {
                if (node.https) { // the TLS handler knows the host: for SNI and host name verification
                    c.pipeline().addLast(ssl.newHandler(c.alloc(), node.host, node.port));
                }
                c.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(MAX_ANSWER_BYTES),
                        new ReplyHandler());
            }
        }).connect(node.host, node.port);
        connect.addListener(f -> {
            if (f.isSuccess()) {
                exchange(node, connect.channel(), req, reply, timeoutNanos);
            } else {
                req.release();
                reply.completeExceptionally(new ConnectionLostException("cannot connect to " + node + ": "
                        + f.cause().getMessage(), f.cause()));
            }
        });
    }

    private Channel pollIdle(Node node) {
        ConcurrentLinkedDeque<Channel> q = idle.get(node);
        if (q == null) {
            return null;
        }
        Channel ch;
        while ((ch = q.pollLast()) != null) {
            if (ch.isActive()) {
                return ch;
            }
        }
        return null;
    }

    private void exchange(Node node, Channel ch, FullHttpRequest req, CompletableFuture<Reply> reply,
                          long timeoutNanos) {
        Exchange ex = new Exchange(node, reply);
        ch.attr(EXCHANGE).set(ex);
        ex.timeout = ch.eventLoop().schedule(() -> {
            if (ex.fail(new TimeoutException("no answer from " + node + " within "
                    + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms"))) {
                ch.close();
            }
        }, timeoutNanos, TimeUnit.NANOSECONDS);
        ch.writeAndFlush(req).addListener(f -> {
            if (!f.isSuccess() && ex.fail(new ConnectionLostException("sending to " + node + " failed: "
                    + f.cause().getMessage(), f.cause()))) {
                ch.close();
            }
        });
    }

    /** One request's wait for its answer on a connection. */
    private static final class Exchange {
        final Node node;
        final CompletableFuture<Reply> reply;
        ScheduledFuture<?> timeout;

        Exchange(Node node, CompletableFuture<Reply> reply) {
            this.node = node;
            this.reply = reply;
        }

        boolean fail(Throwable t) {
            if (timeout != null) {
                timeout.cancel(false);
            }
            return reply.completeExceptionally(t);
        }
    }

    private final class ReplyHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Exchange ex = ctx.channel().attr(EXCHANGE).getAndSet(null);
            try {
                if (!(msg instanceof FullHttpResponse r) || ex == null) {
                    ctx.close(); // an answer nobody asked for: the connection is out of step
                    return;
                }
                ByteBuf content = r.content();
                ByteBuffer body = ByteBuffer.wrap(ByteBufUtil.getBytes(content));
                String hl = r.headers().get("Inference-Header-Content-Length");
                Reply reply = new Reply(r.status().code(), r.headers().get(HttpHeaderNames.RETRY_AFTER),
                        r.headers().get(HttpHeaderNames.CONTENT_TYPE), hl == null ? -1 : Long.parseLong(hl.strip()),
                        body);
                if (ex.timeout != null) {
                    ex.timeout.cancel(false);
                }
                if (HttpUtil.isKeepAlive(r) && !closed && ctx.channel().isActive()) {
                    idle.computeIfAbsent(ex.node, n -> new ConcurrentLinkedDeque<>()).addLast(ctx.channel());
                } else {
                    ctx.close();
                }
                ex.reply.complete(reply);
            } catch (NumberFormatException e) {
                ex.fail(new ConnectionLostException("bad Inference-Header-Content-Length from " + ex.node, e));
                ctx.close();
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Exchange ex = ctx.channel().attr(EXCHANGE).getAndSet(null);
            if (ex != null) {
                ex.fail(new ConnectionLostException("connection to " + ex.node + " closed before the answer", null));
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Exchange ex = ctx.channel().attr(EXCHANGE).getAndSet(null);
            if (ex != null) {
                ex.fail(new ConnectionLostException("connection to " + ex.node + " failed: " + cause.getMessage(),
                        cause));
            }
            ctx.close();
        }
    }

    @Override
    public void close() {
        closed = true;
        for (ConcurrentLinkedDeque<Channel> q : idle.values()) {
            for (Channel ch : q) {
                ch.close();
            }
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
