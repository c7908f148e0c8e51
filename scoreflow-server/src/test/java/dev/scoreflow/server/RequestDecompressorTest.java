package dev.scoreflow.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The request decompressor on in-memory channels, in front of Netty's aggregator (which, like the server's, holds
 * the same limit and answers 413 beyond it).
 */
class RequestDecompressorTest {
    private static final int LIMIT = 1 << 20;

    /** Counts the inflated bytes the decompressor passes on. */
    private static final class Probe extends ChannelInboundHandlerAdapter {
        long bytes;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpContent c) {
                bytes += c.content().readableBytes();
            }
            ctx.fireChannelRead(msg);
        }
    }

    private final Probe probe = new Probe();
    /** Netty's aggregator, answering 413 without closing, so the test sees what happens to the rest of the body. */
    private final EmbeddedChannel ch = new EmbeddedChannel(new RequestDecompressor(LIMIT), probe,
            new HttpObjectAggregator(LIMIT) {
                @Override
                protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
                    ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE));
                }
            });

    static byte[] gzip(byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream z = new GZIPOutputStream(out)) {
            z.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static byte[] zlib(byte[] data, boolean raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeflaterOutputStream z = new DeflaterOutputStream(out, new Deflater(Deflater.DEFAULT_COMPRESSION, raw))) {
            z.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** A gzip member whose header carries every optional field: extra, file name, comment, header CRC. */
    static byte[] gzipWithAllHeaderFields(byte[] data) {
        byte[] plain = gzip(data);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(plain, 0, 3);
        out.write(0x1e); // FHCRC | FEXTRA | FNAME | FCOMMENT
        out.write(plain, 4, 6);
        out.writeBytes(new byte[]{4, 0, 'a', 'b', 'c', 'd'});
        out.writeBytes("rows.json\0".getBytes(StandardCharsets.ISO_8859_1));
        out.writeBytes("a comment\0".getBytes(StandardCharsets.ISO_8859_1));
        out.writeBytes(new byte[]{0, 0});
        out.write(plain, 10, plain.length - 10);
        return out.toByteArray();
    }

    private static byte[] sample(long seed, int n) {
        Random r = new Random(seed);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ('a' + r.nextInt(6)); // compressible, not trivially
        }
        return b;
    }

    private static HttpRequest post(String encoding, int length) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v2/models/m/infer");
        if (encoding != null) {
            r.headers().set(HttpHeaderNames.CONTENT_ENCODING, encoding);
        }
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, length);
        return r;
    }

    /** Sends the body in chunks of random sizes (seeded), as the network would split it. */
    private FullHttpRequest send(String encoding, byte[] body, long seed) {
        ch.writeInbound(post(encoding, body.length));
        Random r = new Random(seed);
        int at = 0;
        while (at < body.length) {
            int n = Math.min(body.length - at, 1 + r.nextInt(r.nextBoolean() ? 16 : 20_000));
            ch.writeInbound(new DefaultHttpContent(Unpooled.copiedBuffer(body, at, n)));
            at += n;
        }
        ch.writeInbound(new DefaultLastHttpContent());
        return ch.readInbound();
    }

    private static byte[] bytes(FullHttpRequest r) {
        try {
            return ByteBufUtil.getBytes(r.content());
        } finally {
            r.release();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gzip", "x-gzip", "GZip", "deflate", "raw deflate", "x-deflate", "identity",
            "identity, gzip", "two gzip members", "gzip header fields"})
    void item23_gzipAndDeflateRequestBodiesAreInflated(String how) {
        byte[] data = sample(how.hashCode(), 200_000);
        byte[] body;
        String header = how;
        switch (how) {
            case "deflate", "x-deflate" -> body = zlib(data, false);
            case "raw deflate" -> {
                body = zlib(data, true);
                header = "deflate";
            }
            case "identity" -> body = data;
            case "two gzip members" -> {
                byte[] a = gzip(Arrays.copyOf(data, 1000));
                byte[] b = gzip(Arrays.copyOfRange(data, 1000, data.length));
                body = Arrays.copyOf(a, a.length + b.length);
                System.arraycopy(b, 0, body, a.length, b.length);
                header = "gzip";
            }
            case "gzip header fields" -> {
                body = gzipWithAllHeaderFields(data);
                header = "gzip";
            }
            default -> body = gzip(data);
        }
        for (long seed = 1; seed <= 5; seed++) {
            FullHttpRequest r = send(header, body, seed);
            assertThat(r.decoderResult().isSuccess()).as(how + ": " + r.decoderResult()).isTrue();
            assertThat(r.headers().contains(HttpHeaderNames.CONTENT_ENCODING)).isFalse();
            assertThat(r.headers().getInt(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(data.length);
            assertThat(bytes(r)).as(how + " seed " + seed).isEqualTo(data);
        }
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void item23_aRequestWithHeadersAndBodyInOneMessageIsInflatedToo() {
        byte[] data = sample(3, 5000);
        FullHttpRequest full = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.PUT, "/score",
                Unpooled.wrappedBuffer(gzip(data)));
        full.headers().set(HttpHeaderNames.CONTENT_ENCODING, "gzip");
        ch.writeInbound(full);
        assertThat(bytes(ch.readInbound())).isEqualTo(data);
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    /**
     * 10 MB of gzip that inflates to 10 GB of zeros, declaring nothing of it: refused with 413 after at most the
     * limit plus one byte was inflated, and the rest of the body is dropped without being inflated.
     */
    @Test
    void item23_zipBombIsRefusedWith413WithoutInflatingMoreThanTheLimit() {
        byte[] bomb = ZipBomb.gzipOfZeros(10 << 20);
        assertThat(bomb.length).isGreaterThanOrEqualTo(10 << 20);
        ch.writeInbound(post("gzip", bomb.length));
        for (int at = 0; at < bomb.length; at += 16384) { // the chunks HttpServerCodec makes
            ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(bomb, at,
                    Math.min(16384, bomb.length - at))));
        }
        ch.writeInbound(new DefaultLastHttpContent());
        FullHttpResponse refused = ch.readOutbound();
        assertThat(refused.status()).isEqualTo(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE);
        refused.release();
        assertThat(probe.bytes).isEqualTo(LIMIT + 1L); // after all 10 MB were read
        // the request is over: the next one on the connection is read normally
        byte[] data = sample(9, 1000);
        assertThat(bytes(send("gzip", gzip(data), 1))).isEqualTo(data);
        ch.finishAndReleaseAll();
    }

    @ParameterizedTest
    @ValueSource(strings = {"not gzip", "bad method", "corrupt data", "bad crc", "bad length", "truncated",
            "trailing bytes", "deflate truncated", "reserved flags"})
    void item23_malformedCompressedBodiesEndTheRequestWithAReason(String how) {
        byte[] data = sample(7, 10_000);
        byte[] body = gzip(data);
        String encoding = "gzip";
        String reason;
        switch (how) {
            case "not gzip" -> {
                body = data;
                reason = "does not start like gzip data";
            }
            case "bad method" -> {
                body[2] = 7;
                reason = "compression method is 7";
            }
            case "corrupt data" -> {
                body[10] = (byte) 0xff; // a reserved block type
                reason = "gzip data is corrupt";
            }
            case "bad crc" -> {
                body[body.length - 8] ^= 1;
                reason = "CRC-32";
            }
            case "bad length" -> {
                body[body.length - 4] ^= 1;
                reason = "trailer gives a length of";
            }
            case "truncated" -> {
                body = Arrays.copyOf(body, body.length - 3);
                reason = "truncated";
            }
            case "trailing bytes" -> {
                body = Arrays.copyOf(body, body.length + 5);
                body[body.length - 5] = 'x';
                reason = "bytes follow the end of its gzip data";
            }
            case "deflate truncated" -> {
                byte[] z = zlib(data, false);
                body = Arrays.copyOf(z, z.length / 2);
                encoding = "deflate";
                reason = "truncated";
            }
            default -> {
                body[3] = (byte) 0x80;
                reason = "reserved flags";
            }
        }
        FullHttpRequest r = send(encoding, body, 11);
        assertThat(r.decoderResult().isFailure()).as(how).isTrue();
        assertThat(r.decoderResult().cause().toString()).startsWith("the Content-Encoding says the body is compressed")
                .contains(reason);
        r.release();
        // the connection carries on: the next request is read normally
        FullHttpRequest next = send("gzip", gzip(data), 12);
        assertThat(bytes(next)).isEqualTo(data);
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void item23_unknownEncodingsPassThroughForTheEndpointsToRefuse() {
        byte[] data = sample(5, 100);
        for (String encoding : new String[]{"br", "gzip, gzip", "zstd"}) {
            FullHttpRequest r = send(encoding, data, 1);
            assertThat(r.headers().get(HttpHeaderNames.CONTENT_ENCODING)).isEqualTo(encoding);
            assertThat(RequestDecompressor.refusal(r.headers())).contains("'" + encoding + "'");
            assertThat(bytes(r)).isEqualTo(data);
        }
        FullHttpRequest identity = send("identity", data, 1);
        assertThat(RequestDecompressor.refusal(identity.headers())).isNull();
        identity.release();
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    /** Builds large gzip streams of zeros cheaply: one flushed deflate segment, repeated. */
    static final class ZipBomb {
        private ZipBomb() {
        }

        /**
         * A gzip stream of at least {@code compressedBytes} bytes of zeros' deflate data. Each segment is 1 MiB of
         * zeros deflated and fully flushed (so it does not depend on what came before and can be repeated); the
         * trailer's CRC is left zero: nothing that refuses the bomb in time ever reads it.
         */
        static byte[] gzipOfZeros(int compressedBytes) {
            Deflater d = new Deflater(Deflater.BEST_COMPRESSION, true);
            d.setInput(new byte[1 << 20]);
            byte[] buf = new byte[1 << 16];
            int n = d.deflate(buf, 0, buf.length, Deflater.FULL_FLUSH);
            d.end();
            byte[] segment = Arrays.copyOf(buf, n);
            int count = (compressedBytes + segment.length - 1) / segment.length;
            ByteArrayOutputStream out = new ByteArrayOutputStream(count * segment.length + 32);
            out.writeBytes(new byte[]{0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff});
            for (int i = 0; i < count; i++) {
                out.writeBytes(segment);
            }
            out.writeBytes(new byte[]{3, 0}); // a final, empty, fixed-Huffman block
            out.writeBytes(new byte[]{0, 0, 0, 0});
            long size = (long) count << 20;
            out.writeBytes(new byte[]{(byte) size, (byte) (size >> 8), (byte) (size >> 16), (byte) (size >> 24)});
            return out.toByteArray();
        }
    }
}
