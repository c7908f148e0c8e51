package dev.scoreflow.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One HTTP/1.1 connection, from its first byte to its close: reads requests, holds them to their limits, hands
 * them to the router one at a time and writes the answers in order.
 *
 * <p>What it guarantees, whatever the peer does:
 * <ul>
 *   <li><b>Every request gets exactly one answer or a logged close</b>: refusals (malformed, unauthorized, too
 *   large, out of memory, too slow) are queued behind the requests before them, like any answer, so answers never
 *   overtake each other; a refusal whose body was not read closes the connection (or, for a 413 of a declared
 *   length, reads and drops exactly that body), so unread bytes are never parsed as a request.</li>
 *   <li><b>Nothing is reserved before it is allowed</b>: the bearer token and the declared length are checked when
 *   the header arrives, before any body byte is kept; body bytes count against the {@link BodyBudget} as they
 *   arrive, except that a body of a declared length in [{@value #WHOLE_MIN}, {@value #WHOLE_MAX}] bytes is reserved
 *   whole (its one buffer is allocated then) while declared bodies hold at most half the budget, so declaring
 *   alone never starves the rest. Interim answers ({@code 100 Continue}) release nothing.</li>
 *   <li><b>Every wait ends</b>: a header must arrive within {@code headerTimeout}, a body must not pause longer
 *   than {@code bodyTimeout} nor average less than {@code bodyMinRate}, a kept-alive connection may idle for
 *   {@code idleTimeout}; each ends with 408 (or a quiet close when idle). Reading pauses while
 *   {@value ConnectionLimits#MAX_PIPELINED} requests wait, so a client that sends without reading is throttled by
 *   TCP, and the write timeout closes it if it never reads.</li>
 *   <li><b>Every buffer has one owner</b>: the body being read is this handler's until it becomes an
 *   {@link Exchange}; a waiting exchange is this handler's until it is started; a started one is released once
 *   its answer is ready. Whatever throws, the request is answered and released.</li>
 *   <li><b>Draining</b> (on {@link #DRAIN}): requests already received or being uploaded are answered, the last
 *   answer says {@code Connection: close}; an idle connection stays open for {@code drainLinger} to catch a
 *   request already in transit, then closes.</li>
 * </ul>
 *
 * <p>One instance per connection; every method runs on the connection's event loop (answers computed elsewhere
 * are handed back to it).
 */
final class HttpConnection extends ChannelDuplexHandler {
    /** User event: the server is shutting down; finish what was received, then close. */
    static final Object DRAIN = new Object() {
        @Override
        public String toString() {
            return "DRAIN";
        }
    };

    private static final Logger LOG = LoggerFactory.getLogger(HttpConnection.class);
    private static final RateLimitedLog PEERS = new RateLimitedLog(LOG);
    private static final long NONE = Long.MAX_VALUE;
    private static final int MAX_COMPONENTS = 1024;
    /**
     * Declared body lengths received into one buffer of that length (and, on plaintext connections, read from the
     * socket straight into it, see {@link BodyReads}): from where a body no longer fits one socket read, so that
     * it would arrive in pieces and need a copy to become the contiguous input the model takes.
     */
    static final int WHOLE_MIN = 64 << 10;
    static final int WHOLE_MAX = 4 << 20;

    /** What waits in line for its turn to be answered. */
    sealed interface Item permits Exchange, Refusal, Interim {
    }

    /** An answer decided by the connection itself; {@code close}: the body was not read, so the connection ends. */
    record Refusal(FullHttpResponse response, boolean close) implements Item {
    }

    /** {@code 100 Continue}: written in turn, and not an answer (nothing is released, the request stays open). */
    enum Interim implements Item { CONTINUE }

    private enum Reading { IDLE, HEADER, BODY, DISCARD_BODY, DISCARD_ALL }

    private final Service service;
    private final ConnectionLimits limits;
    private final ArrayDeque<Item> waiting = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private Reading reading = Reading.IDLE;
    /** A request has been started and its answer is not written yet. */
    private boolean busy;
    /** The last answer said {@code Connection: close}; nothing more is read or answered. */
    private boolean closing;
    private boolean draining;
    private boolean readPaused;
    /** Requests of the current read are still being decoded: they start when it is done. */
    private boolean inRead;
    private int received;
    private int answered;

    // the request being read
    private HttpRequest head;
    private List<String> path;
    private boolean keepAlive;
    /** A composite of the received pieces, or one buffer of the declared length ({@code whole}). */
    private ByteBuf body;
    private boolean whole;
    private int declared;
    /** The buffer handed out for the current socket read into {@code body}, until that read arrives. */
    private ByteBuf view;
    /** Bytes of the current read that the socket already put in place in {@code body}. */
    private int inPlace;
    private BodyBudget.Reservation reservation;
    private long arrivedNanos;

    // timers, in the event loop's ticker time
    private long phaseStart;
    private long lastRead;
    private long phaseBytes;
    private long idleSince;
    private ScheduledFuture<?> timer;
    private long timerAt;

    HttpConnection(Service service) {
        this.service = service;
        this.limits = service.limits;
    }

    /** The handler to place before the HTTP codec: it tells this one when the bytes of a new request start. */
    ChannelInboundHandlerAdapter rawReads() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext c, Object msg) {
                if (reading == Reading.IDLE) {
                    reading = Reading.HEADER;
                    phaseStart = now();
                    ensureTimer();
                }
                // the codec decodes every request of this read before it returns; starting them only then lets
                // an answer know whether another request follows it (Connection: close while draining)
                inRead = true;
                if (msg == view) { // read into the body: its bytes come back as content and are only counted
                    inPlace = view.readableBytes();
                    view = null;
                }
                try {
                    c.fireChannelRead(msg);
                } finally {
                    inRead = false;
                }
                if (inPlace > 0 && reading == Reading.BODY) {
                    // the decoder holds back no content bytes; if it ever did, the body would be out of order
                    internalError("the HTTP decoder kept " + inPlace + " body bytes read in place");
                }
                inPlace = 0;
                next();
            }
        };
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        idleSince = now();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        idleSince = now();
        draining = service.draining(); // accepted while the server drains: serve what comes, then close
        ensureTimer();
        ctx.fireChannelActive();
    }

    // ---------------------------------------------------------------- reading

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (!(msg instanceof HttpObject o) || reading == Reading.DISCARD_ALL) {
                return;
            }
            if (o.decoderResult().isFailure()) {
                malformed(o.decoderResult().cause());
                return;
            }
            if (o instanceof HttpRequest r) {
                head(r);
            }
            if (o instanceof HttpContent c) {
                content(c);
            }
        } finally {
            ReferenceCountUtil.release(msg); // what is kept was retained
        }
    }

    private void head(HttpRequest r) {
        received++;
        arrivedNanos = System.nanoTime();
        phaseStart = now();
        lastRead = phaseStart;
        phaseBytes = 0;
        keepAlive = HttpUtil.isKeepAlive(r);
        long length = HttpUtil.getContentLength(r, -1L); // the decoder refused a malformed one
        boolean chunked = HttpUtil.isTransferEncodingChunked(r);
        boolean hasBody = chunked || length > 0;
        String expect = r.headers().get(HttpHeaderNames.EXPECT);
        List<String> p = null;
        FullHttpResponse refusal = null;
        try {
            p = segments(r.uri());
        } catch (IllegalArgumentException e) {
            refusal = Answer.error(HttpResponseStatus.BAD_REQUEST, "malformed URL '" + printable(r.uri()) + "': "
                    + e.getMessage());
        }
        if (refusal == null) {
            refusal = service.auth.refusal(r, p);
        }
        if (refusal == null && expect != null && !(r.protocolVersion().equals(HttpVersion.HTTP_1_1)
                && HttpHeaderValues.CONTINUE.contentEqualsIgnoreCase(expect.trim()))) {
            refusal = Answer.error(HttpResponseStatus.EXPECTATION_FAILED, "unsupported expectation 'Expect: "
                    + printable(expect) + "'; only '100-continue' is supported");
        }
        if (refusal == null && length > limits.maxBodyBytes()) {
            refusal = Answer.error(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request body of " + length
                    + " bytes is over the limit of " + limits.maxBodyBytes() + " bytes (--max-body-bytes); split it"
                    + " into smaller requests");
        }
        if (refusal != null) {
            // keep the connection only where the unread body can be skipped exactly and cheaply
            boolean skip = refusal.status().code() == 413 && !chunked && expect == null
                    && length <= ConnectionLimits.DISCARD_LIMIT;
            boolean close = !keepAlive || hasBody && !skip;
            refuse(refusal, close, null);
            if (!close) {
                reading = Reading.DISCARD_BODY;
            }
            return;
        }
        if (expect != null) {
            enqueue(Interim.CONTINUE);
        }
        head = r;
        path = p;
        reservation = service.budget.open();
        BodyBudget budget = service.budget;
        whole = !chunked && length >= WHOLE_MIN && length <= WHOLE_MAX
                && budget.inUse() + length <= budget.limit() / 2 && reservation.take(length);
        if (whole) {
            declared = (int) length;
            body = ctx.alloc().directBuffer(declared, declared);
        } else {
            body = ctx.alloc().compositeBuffer(MAX_COMPONENTS);
        }
        reading = Reading.BODY;
    }

    /**
     * For {@link BodyReads}, on the event loop before a socket read: where the read may go, a view of the rest of
     * the body being received whole (capped at the bytes it lacks), or null for the channel's usual buffers.
     */
    ByteBuf bodyView() {
        view = null;
        if (reading != Reading.BODY || !whole || body == null || inPlace != 0) {
            return null;
        }
        int lacking = declared - body.writerIndex();
        if (lacking <= 0) {
            return null;
        }
        view = body.retainedSlice(body.writerIndex(), lacking).clear(); // the read releases it
        return view;
    }

    private void content(HttpContent c) {
        int n = c.content().readableBytes();
        lastRead = now();
        phaseBytes += n;
        if (reading == Reading.DISCARD_BODY) {
            if (c instanceof LastHttpContent) {
                becomeIdle();
            }
            return;
        }
        if (reading != Reading.BODY) {
            return;
        }
        if (n > 0 && whole) {
            if (n > declared - body.writerIndex()) { // the decoder enforces the length; a guard, not a limit
                internalError("the body passed its declared length of " + declared + " bytes");
                return;
            }
            if (inPlace > 0) {
                if (n > inPlace) {
                    internalError("a body chunk of " + n + " bytes spans a read in place of " + inPlace);
                    return;
                }
                body.writerIndex(body.writerIndex() + n); // already there: the socket read went into the body
                inPlace -= n;
                service.metrics.bodyBytesInPlace.inc(n);
            } else {
                body.writeBytes(c.content()); // read before the body started (with the header) or over TLS
                service.metrics.bodyBytesCopied.inc(n);
            }
        } else if (n > 0) {
            service.metrics.bodyBytesCopied.inc(n);
            if (body.readableBytes() + (long) n > limits.maxBodyBytes()) {
                refuse(Answer.error(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request body (inflated, if"
                        + " compressed) is over the limit of " + limits.maxBodyBytes() + " bytes (--max-body-bytes);"
                        + " split it into smaller requests"), true, null);
                return;
            }
            if (!reservation.take(n)) {
                service.metrics.memoryRejections.inc();
                FullHttpResponse r = Answer.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "the server holds too"
                        + " many request bodies in memory (limit " + service.budget.limit() + " bytes,"
                        + " --body-budget-bytes); try again later");
                r.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
                refuse(r, true, "memory");
                return;
            }
            ((CompositeByteBuf) body).addComponent(true, c.content().retain());
        }
        if (c instanceof LastHttpContent) {
            DefaultFullHttpRequest full = new DefaultFullHttpRequest(head.protocolVersion(), head.method(),
                    head.uri(), body, head.headers(), EmptyHttpHeaders.INSTANCE);
            Exchange ex = new Exchange(full, path, keepAlive, reservation, ctx.alloc(), arrivedNanos);
            body = null;
            reservation = null;
            head = null;
            becomeIdle();
            enqueue(ex);
        } else {
            ensureTimer();
        }
    }

    private void malformed(Throwable cause) {
        HttpResponseStatus status = cause instanceof TooLongHttpLineException ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                : cause instanceof TooLongHttpHeaderException ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                : cause instanceof TooLongFrameException ? HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE
                : HttpResponseStatus.BAD_REQUEST;
        String why = "malformed HTTP request: " + printable(String.valueOf(cause.getMessage()));
        PEERS.info("malformed", "refused a malformed request from " + ctx.channel().remoteAddress() + ": " + why);
        refuse(Answer.error(status, why), true, null);
    }

    /** A broken invariant of this class: answered 500 and closed, not silently scored out of order. */
    private void internalError(String what) {
        LOG.error("refusing a request from {}: {}", ctx.channel().remoteAddress(), what);
        refuse(Answer.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + what), true, null);
    }

    /** Queues a refusal in turn; if it closes, stops reading and drops the body being read. */
    private void refuse(FullHttpResponse response, boolean close, String reason) {
        if (close) {
            reading = Reading.DISCARD_ALL;
            dropBody();
        }
        if (reason != null) {
            PEERS.info(reason, "refused a request from " + ctx.channel().remoteAddress() + ": "
                    + response.status());
        }
        enqueue(new Refusal(response, close));
    }

    private void becomeIdle() {
        reading = Reading.IDLE;
        idleSince = now();
        ensureTimer();
    }

    // ---------------------------------------------------------------- answering, in order

    private void enqueue(Item item) {
        if (item instanceof Exchange ex && waiting.size() >= ConnectionLimits.MAX_WAITING) {
            // reading paused long ago, yet one read carried this many requests: a client we will not keep up with
            ex.release();
            refuse(Answer.error(HttpResponseStatus.TOO_MANY_REQUESTS, "more than " + ConnectionLimits.MAX_WAITING
                    + " requests pipelined on one connection without reading the answers"), true, "pipelining");
            return;
        }
        waiting.add(item);
        if (waiting.size() >= ConnectionLimits.MAX_PIPELINED && !readPaused) {
            readPaused = true;
            ctx.channel().config().setAutoRead(false);
        }
        if (!inRead) {
            next();
        }
    }

    /** Starts the next waiting item unless one is being answered. */
    private void next() {
        while (!busy && !closing) {
            Item item = waiting.poll();
            if (item == null) {
                break;
            }
            if (readPaused && waiting.size() < ConnectionLimits.MAX_PIPELINED / 2) {
                readPaused = false;
                ctx.channel().config().setAutoRead(true);
            }
            if (item == Interim.CONTINUE) {
                ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                        Unpooled.EMPTY_BUFFER));
                continue;
            }
            busy = true;
            if (item instanceof Refusal r) {
                service.metrics.answered("", "other", r.response().status().code(), 0, System.nanoTime());
                write(r.response(), r.close());
            } else {
                start((Exchange) item);
            }
        }
        ensureTimer();
    }

    private void start(Exchange ex) {
        CompletableFuture<Answer> answer;
        try {
            answer = service.router.route(ex);
        } catch (RuntimeException | Error e) {
            if (!(e instanceof dev.scoreflow.api.ScoreflowException)) { // ours carry their answer; others are bugs
                LOG.warn("routing {} {} failed", ex.request.method(), printable(ex.request.uri()), e);
            }
            answer = CompletableFuture.completedFuture(Answer.of(Answer.error(e)));
        }
        if (answer.isDone()) { // answered on the spot (metadata, refusals): no hand-off
            finish(ex, answer.handle((a, err) -> a != null ? a : Answer.of(Answer.error(err))).join());
            return;
        }
        answer.whenComplete((a, err) -> answered(ex, a != null ? a : Answer.of(Answer.error(err))));
    }

    /**
     * Called wherever the answer was computed (an inference thread): gives the exchange back and counts it there,
     * since the event loops are what limits large requests, and continues on the event loop only to write.
     */
    private void answered(Exchange ex, Answer a) {
        try {
            release(ex, a);
        } finally {
            try {
                service.eventLoop.apply(ctx).execute(() -> write(a.response(), !ex.keepAlive));
            } catch (RejectedExecutionException e) { // the server was stopped: nobody will read this answer
                a.response().release();
            }
        }
    }

    private void finish(Exchange ex, Answer a) {
        try {
            release(ex, a);
        } finally {
            write(a.response(), !ex.keepAlive);
        }
    }

    /** The exchange is done with once its answer exists (the runtime reads no row after that); thread-safe. */
    private void release(Exchange ex, Answer a) {
        ex.release();
        service.metrics.answered(a.model(), a.protocol(), a.code(), a.rows(), ex.startNanos);
    }

    private void write(FullHttpResponse response, boolean mustClose) {
        answered++;
        boolean close = mustClose || answered >= limits.maxRequests()
                || (draining || service.draining()) && waiting.isEmpty() && reading == Reading.IDLE;
        response.headers().set(HttpHeaderNames.CONNECTION, close ? HttpHeaderValues.CLOSE
                : HttpHeaderValues.KEEP_ALIVE);
        if (close) {
            closing = true;
            reading = Reading.DISCARD_ALL;
            dropBody();
            releaseWaiting();
        }
        ChannelFuture written = ctx.writeAndFlush(response);
        if (!written.isDone()) { // the socket did not take it at once: the client must read within the write timeout
            ScheduledFuture<?> late = ctx.executor().schedule(() -> writeTimedOut(written),
                    limits.writeTimeout().toNanos(), TimeUnit.NANOSECONDS);
            written.addListener(f -> late.cancel(false));
        }
        written.addListener((ChannelFutureListener) f -> {
            busy = false;
            if (closing || !f.isSuccess()) {
                ctx.close();
                return;
            }
            idleSince = now();
            next();
        });
    }

    private void writeTimedOut(ChannelFuture written) {
        if (written.isDone() || !ctx.channel().isActive()) {
            return;
        }
        service.metrics.writeTimeouts.inc();
        PEERS.info("write-timeout", "closed a connection from " + ctx.channel().remoteAddress() + ": it did not"
                + " read its answer within " + limits.writeTimeout().toMillis() + " ms (--write-timeout-ms)");
        closing = true;
        ctx.close();
    }

    // ---------------------------------------------------------------- timers

    private long now() {
        return ctx.executor().ticker().nanoTime();
    }

    /** When the current phase times out, in ticker nanos, or {@link #NONE}. */
    private long deadline() {
        switch (reading) {
            case HEADER:
                return phaseStart + limits.headerTimeout().toNanos();
            case BODY:
            case DISCARD_BODY: {
                long grace = limits.bodyTimeout().toNanos();
                long pause = lastRead + grace;
                if (limits.bodyMinRate() <= 0) {
                    return pause;
                }
                long rate = phaseStart + grace + (long) (phaseBytes * 1e9 / limits.bodyMinRate());
                return Math.min(pause, rate);
            }
            case IDLE:
                if (busy || !waiting.isEmpty()) {
                    return NONE;
                }
                long wait = draining ? limits.drainLinger().toNanos()
                        : received == 0 ? limits.headerTimeout().toNanos() : limits.idleTimeout().toNanos();
                return idleSince + wait;
            default:
                return NONE;
        }
    }

    /** Makes sure a timer fires no later than the current deadline; one timer per connection, re-armed on fire. */
    private void ensureTimer() {
        if (closing || ctx == null || !ctx.channel().isActive()) {
            return;
        }
        long d = deadline();
        if (d == NONE || timer != null && timerAt - d <= 0) {
            return;
        }
        if (timer != null) {
            timer.cancel(false);
        }
        timerAt = d;
        timer = ctx.executor().schedule(this::onTimer, Math.max(0, d - now()), TimeUnit.NANOSECONDS);
    }

    private void onTimer() {
        timer = null;
        if (closing || !ctx.channel().isActive()) {
            return;
        }
        long d = deadline();
        if (d == NONE) {
            return;
        }
        if (now() - d < 0) {
            ensureTimer();
            return;
        }
        switch (reading) {
            case HEADER:
                service.metrics.headerTimeouts.inc();
                PEERS.info("header-timeout", "closed a connection from " + ctx.channel().remoteAddress()
                        + ": no complete request header within " + limits.headerTimeout().toMillis() + " ms");
                refuse(Answer.error(HttpResponseStatus.REQUEST_TIMEOUT, "the request header did not arrive within "
                        + limits.headerTimeout().toMillis() + " ms (--header-timeout-ms)"), true, null);
                break;
            case BODY:
            case DISCARD_BODY:
                service.metrics.bodyTimeouts.inc();
                PEERS.info("body-timeout", "closed a connection from " + ctx.channel().remoteAddress()
                        + ": request body stalled after " + phaseBytes + " bytes");
                refuse(Answer.error(HttpResponseStatus.REQUEST_TIMEOUT, "the request body stalled: " + phaseBytes
                        + " bytes in " + TimeUnit.NANOSECONDS.toMillis(now() - phaseStart) + " ms; a body may pause"
                        + " at most " + limits.bodyTimeout().toMillis() + " ms (--body-timeout-ms) and must then"
                        + " average " + limits.bodyMinRate() + " bytes/s (--body-min-rate)"), true, null);
                break;
            default: // idle: a kept-alive connection nobody uses, or the end of the drain linger
                (draining ? service.metrics.drainTimeouts : service.metrics.idleTimeouts).inc();
                LOG.debug("closing idle connection from {}", ctx.channel().remoteAddress());
                closing = true;
                ctx.close();
        }
    }

    // ---------------------------------------------------------------- the end

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == DRAIN) {
            draining = true;
            ensureTimer();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException || cause.getCause() instanceof IOException) {
            LOG.debug("connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        } else if (cause.getCause() instanceof javax.net.ssl.SSLException) {
            PEERS.info("tls", "TLS failed on a connection from " + ctx.channel().remoteAddress() + ": "
                    + cause.getCause().getMessage());
        } else {
            PEERS.warn("unexpected", "closing a connection from " + ctx.channel().remoteAddress()
                    + " after an unexpected error", cause);
        }
        closing = true;
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        dropBody();
        releaseWaiting();
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        dropBody();
        releaseWaiting();
    }

    private void dropBody() {
        view = null; // owned by the read it was handed to
        inPlace = 0;
        if (body != null) {
            body.release();
            body = null;
        }
        if (reservation != null) {
            reservation.close();
            reservation = null;
        }
        head = null;
    }

    private void releaseWaiting() {
        Item item;
        while ((item = waiting.poll()) != null) {
            if (item instanceof Exchange ex) {
                ex.release();
            } else if (item instanceof Refusal r) {
                r.response().release();
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /** The decoded path's non-empty segments; throws IllegalArgumentException for a malformed escape. */
    static List<String> segments(String uri) {
        List<String> out = new ArrayList<>();
        for (String s : new QueryStringDecoder(uri).path().split("/")) {
            if (!s.isEmpty()) {
                out.add(s);
            }
        }
        return out;
    }

    /** Peer-supplied text for a message: at most 200 characters, control characters escaped. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), 200) + 8);
        for (int i = 0; i < s.length() && i < 200; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\x%02x", (int) c));
            } else {
                b.append(c);
            }
        }
        return s.length() > 200 ? b.append("...").toString() : b.toString();
    }
}
