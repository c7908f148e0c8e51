package dev.scoreflow.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Inflates request bodies sent with {@code Content-Encoding: gzip} or {@code deflate} (and their {@code x-}
 * aliases; {@code identity} needs nothing), as tritonclient's {@code request_compression_algorithm} sends them, so
 * that the body limits and the endpoints see the bytes the client encoded. Goes right after the HTTP codec, before
 * the body budget and the aggregator, which therefore count and limit the <em>inflated</em> bytes;
 * {@code Inference-Header-Content-Length} refers to the inflated body too, as tritonclient computes it before
 * compressing.
 *
 * <p>No zip bombs: the body is inflated as it arrives, {@value #CHUNK} bytes at a time, and at most
 * {@code maxBodyBytes + 1} bytes of one request are ever inflated. That is one byte more than the aggregator after
 * this handler takes (it holds the same limit), so it answers 413; the rest of the body is dropped without being
 * inflated. A body that is not valid gzip or deflate (bad header, corrupt data, wrong checksum, truncated, bytes
 * after the end) ends the request with a failed decoder result, which is answered 400 with the reason. A
 * {@code Content-Encoding} this handler does not know passes through untouched, header included, and the scoring
 * endpoints answer it 415 naming it ({@link #refusal}).
 *
 * <p>One instance per connection, used on its event loop only. Whatever it holds (the inflater, a partial gzip
 * header) is released when the request ends, when the next one starts and when the connection closes.
 */
final class RequestDecompressor extends ChannelInboundHandlerAdapter {
    /** Bytes inflated into one buffer before it is passed on. */
    static final int CHUNK = 64 << 10;
    /** Longest gzip header accepted (file name and comment included). */
    static final int MAX_GZIP_HEADER = 64 << 10;

    private static final List<String> GZIP = List.of("gzip", "x-gzip");
    private static final List<String> DEFLATE = List.of("deflate", "x-deflate");
    private static final int FHCRC = 0x02;
    private static final int FEXTRA = 0x04;
    private static final int FNAME = 0x08;
    private static final int FCOMMENT = 0x10;

    private enum Stage {
        /** Not decoding this request: everything passes through. */
        PASS,
        /** Waiting for the first two bytes of a deflate body, which tell zlib from raw deflate. */
        DEFLATE_START,
        GZIP_HEADER,
        INFLATE,
        GZIP_TRAILER,
        /** The compressed stream ended; only another gzip member may follow. */
        END,
        /** Over the limit: dropping the rest of the body. */
        SKIP,
        /** Refused as malformed: dropping the rest of the body. */
        FAILED
    }

    private final int maxBodyBytes;
    private Stage stage = Stage.PASS;
    private String coding;
    private Inflater inflater;
    private final CRC32 crc = new CRC32();
    /** Input not consumed yet: a partial gzip header or trailer; allocated only when a chunk splits one. */
    private ByteBuf pending;
    private long inputBytes;
    private long inflated;
    private long memberBytes;

    RequestDecompressor(int maxBodyBytes) {
        this.maxBodyBytes = maxBodyBytes;
    }

    /**
     * The 415 message for a request whose {@code Content-Encoding} is still set once this handler has seen it (an
     * encoding it does not decode), or null if there is none or only {@code identity}.
     */
    static String refusal(HttpHeaders headers) {
        List<String> values = headers.getAll(HttpHeaderNames.CONTENT_ENCODING);
        for (String value : values) {
            for (String token : value.split(",")) {
                String t = token.trim();
                if (!t.isEmpty() && !t.equalsIgnoreCase("identity")) {
                    return "unsupported Content-Encoding '" + String.join(", ", values).trim() + "'; send the body"
                            + " uncompressed, or compressed once with gzip or deflate";
                }
            }
        }
        return null;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest request) {
            reset();
            start(request.headers());
            if (stage != Stage.PASS && msg instanceof FullHttpRequest full) {
                // headers and body in one message (never from the codec, but handlers before may aggregate):
                // pass the headers on alone, then decode the body as its last chunk
                HttpRequest head = new DefaultHttpRequest(full.protocolVersion(), full.method(), full.uri(),
                        full.headers());
                head.setDecoderResult(full.decoderResult());
                ctx.fireChannelRead(head);
                content(ctx, full);
                return;
            }
            ctx.fireChannelRead(msg);
            return;
        }
        if (msg instanceof HttpContent c && stage != Stage.PASS) {
            content(ctx, c);
            return;
        }
        ctx.fireChannelRead(msg);
    }

    /** Decides from the headers whether to decode this request's body, and makes them describe the result. */
    private void start(HttpHeaders headers) {
        List<String> values = headers.getAll(HttpHeaderNames.CONTENT_ENCODING);
        if (values.isEmpty()) {
            return;
        }
        String only = null;
        int codings = 0;
        for (String value : values) {
            for (String token : value.split(",")) {
                String t = token.trim().toLowerCase(Locale.ROOT);
                if (!t.isEmpty() && !t.equals("identity")) {
                    only = t;
                    codings++;
                }
            }
        }
        if (codings == 0) {
            headers.remove(HttpHeaderNames.CONTENT_ENCODING);
            return;
        }
        if (codings > 1 || !(GZIP.contains(only) || DEFLATE.contains(only))) {
            return; // left for the endpoints to refuse with 415, header and all
        }
        coding = GZIP.contains(only) ? "gzip" : "deflate";
        stage = coding.equals("gzip") ? Stage.GZIP_HEADER : Stage.DEFLATE_START;
        headers.remove(HttpHeaderNames.CONTENT_ENCODING);
        // the inflated length is known only at the end: the aggregator counts the chunks and sets it then
        headers.remove(HttpHeaderNames.CONTENT_LENGTH);
    }

    private void content(ChannelHandlerContext ctx, HttpContent c) {
        boolean last = c instanceof LastHttpContent;
        try {
            if (stage != Stage.SKIP && stage != Stage.FAILED) {
                inputBytes += c.content().readableBytes();
                feed(ctx, c.content());
                if (last) {
                    checkComplete();
                }
            }
        } catch (MalformedBody e) {
            fail(ctx, e);
        } finally {
            ReferenceCountUtil.release(c);
        }
        if (last) {
            if (stage != Stage.FAILED) {
                ctx.fireChannelRead(LastHttpContent.EMPTY_LAST_CONTENT);
            }
            reset();
        }
    }

    private void feed(ChannelHandlerContext ctx, ByteBuf in) throws MalformedBody {
        if (!in.isReadable()) {
            return;
        }
        ByteBuf buf = in;
        if (pending != null && pending.isReadable()) {
            pending.writeBytes(in);
            buf = pending;
        }
        run(ctx, buf);
        if (buf == in && in.isReadable() && stage != Stage.SKIP) {
            if (pending == null) {
                pending = ctx.alloc().heapBuffer(in.readableBytes());
            }
            pending.writeBytes(in);
        } else if (buf == pending && pending != null) {
            pending.discardReadBytes();
        }
    }

    /** Runs the stages over {@code buf} as far as its bytes go; leaves unread what a later chunk must complete. */
    private void run(ChannelHandlerContext ctx, ByteBuf buf) throws MalformedBody {
        while (true) {
            switch (stage) {
                case DEFLATE_START -> {
                    if (buf.readableBytes() < 2) {
                        return;
                    }
                    int cmf = buf.getUnsignedByte(buf.readerIndex());
                    int flg = buf.getUnsignedByte(buf.readerIndex() + 1);
                    // RFC 1950 header (what HTTP's deflate means, and what zlib.compress writes), else raw deflate
                    boolean zlib = (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
                    inflater = new Inflater(!zlib);
                    stage = Stage.INFLATE;
                }
                case GZIP_HEADER -> {
                    int n = gzipHeaderLength(buf);
                    if (n < 0) {
                        if (buf.readableBytes() > MAX_GZIP_HEADER) {
                            throw new MalformedBody("its gzip header is longer than " + MAX_GZIP_HEADER + " bytes");
                        }
                        return;
                    }
                    buf.skipBytes(n);
                    if (inflater == null) {
                        inflater = new Inflater(true);
                    } else {
                        inflater.reset();
                    }
                    crc.reset();
                    memberBytes = 0;
                    stage = Stage.INFLATE;
                }
                case INFLATE -> {
                    if (!inflate(ctx, buf)) {
                        return;
                    }
                    stage = coding.equals("gzip") ? Stage.GZIP_TRAILER : Stage.END;
                }
                case GZIP_TRAILER -> {
                    if (buf.readableBytes() < 8) {
                        return;
                    }
                    long crc32 = buf.readUnsignedIntLE();
                    long size = buf.readUnsignedIntLE();
                    if (crc32 != crc.getValue()) {
                        throw new MalformedBody("its gzip CRC-32 is " + Long.toHexString(crc32)
                                + " but the inflated data's is " + Long.toHexString(crc.getValue()));
                    }
                    if (size != (memberBytes & 0xffffffffL)) {
                        throw new MalformedBody("its gzip trailer gives a length of " + size + " but "
                                + memberBytes + " bytes were inflated");
                    }
                    stage = Stage.END;
                }
                case END -> {
                    if (!buf.isReadable()) {
                        return;
                    }
                    if (coding.equals("gzip") && buf.getUnsignedByte(buf.readerIndex()) == 0x1f) {
                        stage = Stage.GZIP_HEADER; // another gzip member (concatenated gzip files)
                    } else {
                        throw new MalformedBody(buf.readableBytes() + "+ bytes follow the end of its " + coding
                                + " data");
                    }
                }
                default -> {
                    buf.skipBytes(buf.readableBytes());
                    return;
                }
            }
        }
    }

    /**
     * Inflates what {@code buf} holds, passing the output on chunk by chunk.
     *
     * @return true when the compressed stream ended (its unread bytes are what follows it)
     */
    private boolean inflate(ChannelHandlerContext ctx, ByteBuf buf) throws MalformedBody {
        ByteBuffer in = buf.nioBuffer();
        int start = in.position();
        inflater.setInput(in);
        try {
            while (!inflater.finished() && !inflater.needsInput()) {
                if (inflater.needsDictionary()) {
                    throw new MalformedBody("its deflate data needs a preset dictionary");
                }
                int room = (int) Math.min(CHUNK, maxBodyBytes + 1L - inflated);
                ByteBuf out = ctx.alloc().buffer(room);
                int before = in.position();
                int n;
                try {
                    n = inflater.inflate(out.nioBuffer(0, room));
                } catch (DataFormatException e) {
                    out.release();
                    throw new MalformedBody("its " + coding + " data is corrupt (" + (e.getMessage() == null
                            ? "invalid data" : e.getMessage()) + ")");
                }
                if (n == 0) {
                    out.release();
                    if (in.position() == before && !inflater.finished() && !inflater.needsInput()) {
                        throw new MalformedBody("its " + coding + " data does not inflate");
                    }
                    continue;
                }
                out.writerIndex(n);
                if (coding.equals("gzip")) {
                    crc.update(out.nioBuffer());
                }
                memberBytes += n;
                inflated += n;
                ctx.fireChannelRead(new DefaultHttpContent(out));
                if (inflated > maxBodyBytes) {
                    // the aggregator has been given one byte too many and answers 413; inflate nothing more
                    stage = Stage.SKIP;
                    return false;
                }
            }
            return inflater.finished();
        } finally {
            buf.skipBytes(in.position() - start);
        }
    }

    /**
     * The length of the gzip member header (RFC 1952) at the start of {@code buf}, or -1 if more bytes are needed.
     */
    private static int gzipHeaderLength(ByteBuf buf) throws MalformedBody {
        int r = buf.readerIndex();
        int avail = buf.readableBytes();
        if (avail >= 1 && buf.getUnsignedByte(r) != 0x1f || avail >= 2 && buf.getUnsignedByte(r + 1) != 0x8b) {
            throw new MalformedBody("it does not start like gzip data (1f 8b)");
        }
        if (avail < 10) {
            return -1;
        }
        if (buf.getUnsignedByte(r + 2) != 8) {
            throw new MalformedBody("its gzip compression method is " + buf.getUnsignedByte(r + 2)
                    + ", not 8 (deflate)");
        }
        int flags = buf.getUnsignedByte(r + 3);
        if ((flags & 0xe0) != 0) {
            throw new MalformedBody("its gzip header sets reserved flags (" + Integer.toHexString(flags) + ")");
        }
        int at = 10;
        if ((flags & FEXTRA) != 0) {
            if (avail < at + 2) {
                return -1;
            }
            at += 2 + buf.getUnsignedShortLE(r + at);
        }
        for (int flag : new int[]{FNAME, FCOMMENT}) {
            if ((flags & flag) != 0) {
                if (avail <= at) {
                    return -1;
                }
                int zero = buf.indexOf(r + at, r + avail, (byte) 0);
                if (zero < 0) {
                    return -1;
                }
                at = zero - r + 1;
            }
        }
        if ((flags & FHCRC) != 0) {
            at += 2;
        }
        return avail < at ? -1 : at;
    }

    /** At the end of the body: the compressed stream must have ended cleanly (an empty body is an empty body). */
    private void checkComplete() throws MalformedBody {
        if (stage == Stage.SKIP) {
            return;
        }
        boolean clean = stage == Stage.END || inputBytes == 0;
        if (!clean || pending != null && pending.isReadable()) {
            throw new MalformedBody("it ends before its " + coding + " data does (truncated?)");
        }
    }

    /** Ends the request now with a failed decoder result (answered 400); the rest of its body is dropped. */
    private void fail(ChannelHandlerContext ctx, MalformedBody e) {
        stage = Stage.FAILED;
        releaseState();
        LastHttpContent end = new DefaultLastHttpContent();
        end.setDecoderResult(DecoderResult.failure(e));
        ctx.fireChannelRead(end);
    }

    private void reset() {
        releaseState();
        stage = Stage.PASS;
        coding = null;
        inputBytes = 0;
        inflated = 0;
    }

    private void releaseState() {
        if (inflater != null) {
            inflater.end();
            inflater = null;
        }
        if (pending != null) {
            pending.release();
            pending = null;
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        reset();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        reset();
    }

    /** Why a compressed body cannot be read; its message reads after "malformed HTTP request: ". */
    static final class MalformedBody extends Exception {
        private static final long serialVersionUID = 1L;

        MalformedBody(String why) {
            super("the Content-Encoding says the body is compressed, but " + why, null, false, false);
        }

        @Override
        public String toString() {
            return getMessage();
        }
    }
}
