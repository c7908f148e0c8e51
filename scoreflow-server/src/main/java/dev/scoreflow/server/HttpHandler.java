package dev.scoreflow.server;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Routes each request of one connection to its endpoint and writes the answer.
 *
 * <p>One instance per connection. Scoring completes on an inference thread; the answer is written from there
 * (Netty hands the write to the connection's event loop). Requests of one connection are answered one at a time
 * and in order: a pipelined request waits until the one before it is answered, and reading stops meanwhile, so
 * a client that sends faster than it reads is throttled by TCP instead of filling memory.
 */
final class HttpHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final List<String> ENDPOINTS = List.of("PUT /score", "PUT /models/{name}[/versions/{v}]/score",
            "GET /v2", "GET /v2/health/live", "GET /v2/health/ready", "GET /v2/models/{name}[/versions/{v}]",
            "GET /v2/models/{name}[/versions/{v}]/ready", "POST /v2/models/{name}[/versions/{v}]/infer",
            "POST /v2/repository/index", "POST /v2/repository/models/{name}/load|unload", "GET /metrics");

    private final ScoringServer server;
    private final ArrayDeque<FullHttpRequest> waiting = new ArrayDeque<>();
    private boolean busy;

    HttpHandler(ScoringServer server) {
        super(false); // the exchange releases the request once the answer is written
        this.server = server;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        server.metrics.connections.incrementAndGet();
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        server.metrics.connections.decrementAndGet();
        FullHttpRequest r;
        while ((r = waiting.poll()) != null) {
            r.release();
        }
        super.channelInactive(ctx);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (busy) {
            waiting.add(request);
            ctx.channel().config().setAutoRead(false);
            return;
        }
        busy = true;
        handle(ctx, request);
    }

    private void handle(ChannelHandlerContext ctx, FullHttpRequest request) {
        Exchange ex = new Exchange(request, ctx.alloc(), System.nanoTime());
        server.requestStarted();
        CompletableFuture<Answer> answer;
        try {
            if (request.decoderResult().isFailure()) {
                answer = done(Answer.of(Answer.error(HttpResponseStatus.BAD_REQUEST, "malformed HTTP request: "
                        + request.decoderResult().cause())));
            } else {
                answer = route(ex);
            }
        } catch (RuntimeException e) {
            answer = done(Answer.of(Answer.error(e)));
        }
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        answer.whenComplete((a, err) -> write(ctx, ex, keepAlive, a != null ? a : Answer.of(Answer.error(err))));
    }

    private void write(ChannelHandlerContext ctx, Exchange ex, boolean keepAlive, Answer a) {
        ex.release();
        FullHttpResponse r = a.response();
        boolean close = !keepAlive || server.draining();
        r.headers().set(HttpHeaderNames.CONNECTION, close ? HttpHeaderValues.CLOSE : HttpHeaderValues.KEEP_ALIVE);
        server.metrics.answered(a.model(), a.protocol(), a.code(), a.rows(), ex.startNanos);
        ctx.writeAndFlush(r).addListener((ChannelFutureListener) f -> {
            server.requestFinished();
            if (close || !f.isSuccess()) {
                ctx.close();
                return;
            }
            next(ctx);
        });
    }

    /** Runs on the event loop once an answer is written: starts the next pipelined request, or reads on. */
    private void next(ChannelHandlerContext ctx) {
        FullHttpRequest r = waiting.poll();
        if (r != null) {
            handle(ctx, r);
            return;
        }
        busy = false;
        if (!ctx.channel().config().isAutoRead()) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    private CompletableFuture<Answer> route(Exchange ex) {
        List<String> p = ex.path;
        HttpMethod method = ex.request.method();
        boolean health = p.size() == 3 && p.get(0).equals("v2") && p.get(1).equals("health");
        if (!health && !authorized(ex)) {
            FullHttpResponse r = Answer.error(HttpResponseStatus.UNAUTHORIZED,
                    "missing or wrong bearer token: send 'Authorization: Bearer <token>'");
            r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"scoreflow\"");
            return done(Answer.of(r));
        }
        int n = p.size();
        // seed protocol
        if (n == 1 && p.get(0).equals("score")) {
            return scoring(method) ? server.seed.score(ex, null, null) : notAllowed("PUT, POST");
        }
        if (n == 3 && p.get(0).equals("models") && p.get(2).equals("score")) {
            return scoring(method) ? server.seed.score(ex, p.get(1), null) : notAllowed("PUT, POST");
        }
        if (n == 5 && p.get(0).equals("models") && p.get(2).equals("versions") && p.get(4).equals("score")) {
            return scoring(method) ? server.seed.score(ex, p.get(1), p.get(3)) : notAllowed("PUT, POST");
        }
        if (n == 1 && p.get(0).equals("metrics")) {
            return get(method, () -> Answer.bytes(HttpResponseStatus.OK,
                    server.metrics.render().getBytes(StandardCharsets.UTF_8), "text/plain; version=0.0.4"));
        }
        if (n == 0) {
            return get(method, () -> Answer.json(HttpResponseStatus.OK, Map.of("name", "scoreflow",
                    "endpoints", ENDPOINTS)));
        }
        if (p.get(0).equals("v2")) {
            return v2(ex, method, p.subList(1, n));
        }
        return notFound(ex);
    }

    private CompletableFuture<Answer> v2(Exchange ex, HttpMethod method, List<String> p) {
        V2Endpoint v2 = server.v2;
        int n = p.size();
        if (n == 0) {
            return get(method, v2::serverMetadata);
        }
        if (n == 2 && p.get(0).equals("health") && p.get(1).equals("live")) {
            return get(method, v2::live);
        }
        if (n == 2 && p.get(0).equals("health") && p.get(1).equals("ready")) {
            return get(method, v2::ready);
        }
        if (p.get(0).equals("repository")) {
            if (n == 2 && p.get(1).equals("index")) {
                return post(method, v2::index);
            }
            if (n == 4 && p.get(1).equals("models") && p.get(3).equals("load")) {
                return post(method, () -> v2.load(p.get(2), ex.body()));
            }
            if (n == 4 && p.get(1).equals("models") && p.get(3).equals("unload")) {
                return post(method, () -> v2.unload(p.get(2)));
            }
            return notFound(ex);
        }
        if (!p.get(0).equals("models") || n < 2) {
            return notFound(ex);
        }
        String name = p.get(1);
        String version = null;
        List<String> rest = p.subList(2, n);
        if (rest.size() >= 2 && rest.get(0).equals("versions")) {
            version = rest.get(1);
            rest = rest.subList(2, rest.size());
        }
        String v = version;
        if (rest.isEmpty()) {
            return get(method, () -> v2.modelMetadata(name, v));
        }
        if (rest.size() == 1 && rest.get(0).equals("ready")) {
            return get(method, () -> v2.modelReady(name, v));
        }
        if (rest.size() == 1 && rest.get(0).equals("infer")) {
            return method.equals(HttpMethod.POST) ? v2.infer(ex, name, v) : notAllowed("POST");
        }
        return notFound(ex);
    }

    private static boolean scoring(HttpMethod m) {
        return m.equals(HttpMethod.PUT) || m.equals(HttpMethod.POST);
    }

    private static CompletableFuture<Answer> get(HttpMethod m, Supplier<FullHttpResponse> r) {
        if (!m.equals(HttpMethod.GET) && !m.equals(HttpMethod.HEAD)) {
            return notAllowed("GET");
        }
        return done(Answer.of(r.get()));
    }

    private static CompletableFuture<Answer> post(HttpMethod m, Supplier<FullHttpResponse> r) {
        if (!m.equals(HttpMethod.POST)) {
            return notAllowed("POST");
        }
        return done(Answer.of(r.get()));
    }

    private static CompletableFuture<Answer> notAllowed(String allow) {
        FullHttpResponse r = Answer.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "method not allowed; use " + allow);
        r.headers().set(HttpHeaderNames.ALLOW, allow);
        return done(Answer.of(r));
    }

    private static CompletableFuture<Answer> notFound(Exchange ex) {
        return done(Answer.of(Answer.error(HttpResponseStatus.NOT_FOUND, "no endpoint at "
                + ex.request.method() + " /" + String.join("/", ex.path) + "; endpoints: " + ENDPOINTS)));
    }

    private boolean authorized(Exchange ex) {
        byte[] token = server.authToken;
        if (token == null) {
            return true;
        }
        String h = ex.request.headers().get(HttpHeaderNames.AUTHORIZATION);
        if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        return MessageDigest.isEqual(token, h.substring(7).trim().getBytes(StandardCharsets.UTF_8));
    }

    private static CompletableFuture<Answer> done(Answer a) {
        return CompletableFuture.completedFuture(a);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // a reset connection or a TLS failure concerns this connection only; the server keeps serving
        ctx.close();
    }
}
