package dev.scoreflow.server;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;

/** The two limits on request bodies: one request's size (413) and all requests' bytes held at once (503). */
final class BodyLimits {
    private BodyLimits() {
    }

    /**
     * Aggregates a request's body up to {@code maxBytes}. A larger one gets a JSON 413; on a keep-alive connection
     * the rest of its body is read and dropped (nothing is held) so the client can read the answer and reuse the
     * connection, unless it declares more than {@value #DISCARD_LIMIT} bytes, which closes the connection.
     */
    static final class Aggregator extends HttpObjectAggregator {
        static final long DISCARD_LIMIT = 256L << 20;
        private final int maxBytes;

        Aggregator(int maxBytes) {
            super(maxBytes);
            this.maxBytes = maxBytes;
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            long declared = HttpUtil.getContentLength(oversized, -1L);
            FullHttpResponse r = Answer.error(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request body of "
                    + (declared >= 0 ? declared + " bytes" : "more than " + maxBytes + " bytes")
                    + " is over the limit of " + maxBytes + " bytes (--max-body-bytes); split it into smaller requests");
            boolean keep = HttpUtil.isKeepAlive(oversized) && declared >= 0 && declared <= DISCARD_LIMIT
                    && !(oversized instanceof io.netty.handler.codec.http.FullHttpMessage);
            r.headers().set(HttpHeaderNames.CONNECTION, keep ? HttpHeaderValues.KEEP_ALIVE : HttpHeaderValues.CLOSE);
            if (keep) {
                ctx.writeAndFlush(r);
            } else {
                ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
            }
        }
    }

    /**
     * Keeps the bytes of request bodies held in memory, over all connections, under a budget. A request that
     * would pass it is answered 503 with {@code Retry-After} at once, before its body is read, and its connection
     * closes (the unread body cannot be skipped cheaply). Bytes are given back when the answer is written.
     */
    static final class Budget extends ChannelDuplexHandler {
        private final AtomicLong inUse;
        private final long limit;
        private final ServerMetrics metrics;
        /** Bytes reserved by each request of this connection still unanswered, oldest first. */
        private final ArrayDeque<Reservation> reserved = new ArrayDeque<>();
        private boolean refusing;

        Budget(AtomicLong inUse, long limit, ServerMetrics metrics) {
            this.inUse = inUse;
            this.limit = limit;
            this.metrics = metrics;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (refusing) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof HttpRequest req) {
                boolean declared = HttpUtil.isContentLengthSet(req);
                Reservation r = new Reservation(!declared);
                reserved.add(r);
                if (declared && !take(r, Math.max(0, HttpUtil.getContentLength(req, 0L)))) {
                    refuse(ctx, msg);
                    return;
                }
            }
            if (msg instanceof HttpContent c) {
                // a chunked body declares no length: count its bytes as they come
                Reservation r = reserved.peekLast();
                int n = c.content().readableBytes();
                if (r != null && r.counting && n > 0 && !take(r, n)) {
                    refuse(ctx, msg);
                    return;
                }
            }
            ctx.fireChannelRead(msg);
        }

        private boolean take(Reservation r, long bytes) {
            long now = inUse.addAndGet(bytes);
            r.bytes += bytes;
            metrics.inflightBodyBytes.set(now);
            return now <= limit || now == bytes; // a lone request larger than the budget may still pass
        }

        private void refuse(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
            refusing = true;
            metrics.rejections.inc(1, "", "memory");
            FullHttpResponse r = Answer.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "the server holds too many"
                    + " request bodies in memory (limit " + limit + " bytes, --body-budget-bytes); try again later");
            r.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (msg instanceof HttpResponse && !reserved.isEmpty() && !refusing) {
                giveBack(reserved.poll());
            }
            ctx.write(msg, promise);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Reservation r;
            while ((r = reserved.poll()) != null) {
                giveBack(r);
            }
            ctx.fireChannelInactive();
        }

        private void giveBack(Reservation r) {
            metrics.inflightBodyBytes.set(inUse.addAndGet(-r.bytes));
            r.bytes = 0;
        }

        /** Bytes held for one request. */
        private static final class Reservation {
            final boolean counting;
            long bytes;

            Reservation(boolean counting) {
                this.counting = counting;
            }
        }
    }
}
