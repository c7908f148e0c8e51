package dev.scoreflow.server;

import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.TestModels;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** The memory budget over all connections, on in-memory channels. */
class BodyBudgetTest {
    private final ModelRepository repo = ModelRepository.builder().model("m", TestModels.example()).build();
    private final ServerMetrics metrics = new ServerMetrics(repo);
    private final AtomicLong shared = new AtomicLong();

    @AfterEach
    void close() {
        repo.close();
    }

    private EmbeddedChannel channel() {
        return new EmbeddedChannel(new BodyLimits.Budget(shared, 1000, metrics));
    }

    private static HttpRequest put(long length) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.PUT, "/score");
        if (length >= 0) {
            r.headers().set(HttpHeaderNames.CONTENT_LENGTH, length);
        } else {
            r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        }
        return r;
    }

    @Test
    void refusesARequestThatWouldPassTheBudgetBeforeReadingItsBody() {
        EmbeddedChannel a = channel();
        EmbeddedChannel b = channel();
        assertThat(a.writeInbound(put(600))).isTrue();
        assertThat(shared.get()).isEqualTo(600);
        assertThat(b.writeInbound(put(600))).isFalse(); // not passed on
        FullHttpResponse refused = b.readOutbound();
        assertThat(refused.status()).isEqualTo(HttpResponseStatus.SERVICE_UNAVAILABLE);
        assertThat(refused.headers().get(HttpHeaderNames.RETRY_AFTER)).isEqualTo("1");
        assertThat(refused.content().toString(java.nio.charset.StandardCharsets.UTF_8)).contains("limit 1000 bytes");
        refused.release();
        assertThat(b.isOpen()).isFalse();
        assertThat(metrics.rejections.value("", "memory")).isEqualTo(1);
        // answering a's request gives its bytes back
        a.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER));
        assertThat(shared.get()).isZero();
        EmbeddedChannel c = channel();
        assertThat(c.writeInbound(put(600))).isTrue();
        c.finishAndReleaseAll();
        a.finishAndReleaseAll();
        assertThat(shared.get()).isZero(); // closing gives back whatever was held
    }

    @Test
    void countsChunkedBodiesAsTheyArrive() {
        EmbeddedChannel a = channel();
        a.writeInbound(put(-1));
        a.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[400])));
        a.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[400])));
        assertThat(shared.get()).isEqualTo(800);
        a.writeInbound(new DefaultLastHttpContent(Unpooled.wrappedBuffer(new byte[400])));
        assertThat(a.inboundMessages()).hasSize(3); // the request and two chunks passed; the third was refused
        FullHttpResponse refused = a.readOutbound();
        assertThat(refused.status()).isEqualTo(HttpResponseStatus.SERVICE_UNAVAILABLE);
        refused.release();
        a.finishAndReleaseAll();
        assertThat(shared.get()).isZero();
    }

    @Test
    void letsALoneRequestLargerThanTheWholeBudgetThrough() {
        EmbeddedChannel a = channel();
        assertThat(a.writeInbound(put(5000))).isTrue();
        a.finishAndReleaseAll();
    }
}
