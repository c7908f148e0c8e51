package dev.scoreflow.server;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.CapacityExceededException;
import dev.scoreflow.api.DeadlineExceededException;
import dev.scoreflow.api.ModelLoadException;
import dev.scoreflow.api.ModelNotFoundException;
import dev.scoreflow.api.internal.Json;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletionException;

/**
 * A response about to be written, with what the metrics need to know about the request.
 *
 * @param model    the model the request was for ("" if none)
 * @param protocol seed, v2 or other
 * @param rows     rows the request carried (0 if not a scoring request)
 */
record Answer(FullHttpResponse response, String model, String protocol, long rows) {

    static Answer of(FullHttpResponse response) {
        return new Answer(response, "", "other", 0);
    }

    Answer about(String model, String protocol, long rows) {
        return new Answer(response, model, protocol, rows);
    }

    int code() {
        return response.status().code();
    }

    static FullHttpResponse json(HttpResponseStatus status, Object body) {
        return bytes(status, Json.write(body).getBytes(StandardCharsets.UTF_8), "application/json");
    }

    static FullHttpResponse bytes(HttpResponseStatus status, byte[] body, String contentType) {
        return body(status, Unpooled.wrappedBuffer(body), contentType);
    }

    static FullHttpResponse body(HttpResponseStatus status, ByteBuf body, String contentType) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        return r;
    }

    /** The JSON error body every failure gets: {@code {"error": "..."}}. */
    static FullHttpResponse error(HttpResponseStatus status, String message) {
        return json(status, Map.of("error", message));
    }

    /** Maps an exception to its status: bad input 400, unknown model 404, full 503, deadline 504, else 500. */
    static FullHttpResponse error(Throwable t) {
        if (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof BadInputException) {
            return error(HttpResponseStatus.BAD_REQUEST, t.getMessage());
        }
        if (t instanceof ModelLoadException) {
            return error(HttpResponseStatus.BAD_REQUEST, t.getMessage());
        }
        if (t instanceof ModelNotFoundException) {
            return error(HttpResponseStatus.NOT_FOUND, t.getMessage());
        }
        if (t instanceof CapacityExceededException c) {
            FullHttpResponse r = error(HttpResponseStatus.SERVICE_UNAVAILABLE, t.getMessage());
            long seconds = Math.max(1, (c.retryAfter().toMillis() + 999) / 1000);
            r.headers().set(HttpHeaderNames.RETRY_AFTER, seconds);
            return r;
        }
        if (t instanceof DeadlineExceededException) {
            return error(HttpResponseStatus.GATEWAY_TIMEOUT, t.getMessage());
        }
        return error(HttpResponseStatus.INTERNAL_SERVER_ERROR, String.valueOf(t.getMessage() != null
                ? t.getMessage() : t.toString()));
    }
}
