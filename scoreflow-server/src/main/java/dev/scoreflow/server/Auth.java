package dev.scoreflow.server;

import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;

/**
 * Who may call what, decided from the request header alone, before any body byte is kept.
 *
 * <p>Health endpoints are open (load balancers and kubelets call them). The model repository API (load, unload,
 * index) is administration: it takes the admin token when one is set; on a server with a scoring token but no
 * admin token it is refused, so a scoring token can never unload every model; it can also be switched off. Every
 * other endpoint takes the scoring token when one is set. Tokens are compared in constant time. Immutable.
 */
final class Auth {
    private final byte[] token;
    private final byte[] adminToken;
    private final boolean repositoryApi;

    Auth(String token, String adminToken, boolean repositoryApi) {
        this.token = token == null ? null : token.getBytes(StandardCharsets.UTF_8);
        this.adminToken = adminToken == null ? null : adminToken.getBytes(StandardCharsets.UTF_8);
        this.repositoryApi = repositoryApi;
    }

    /** The refusal for this request, or null if it may go on. */
    FullHttpResponse refusal(HttpRequest request, List<String> path) {
        if (isHealth(path)) {
            return null;
        }
        if (isRepository(path)) {
            if (!repositoryApi) {
                return Answer.error(HttpResponseStatus.FORBIDDEN, "the model repository API is switched off on this"
                        + " server (--no-repository-api)");
            }
            if (adminToken != null) {
                return matches(request, adminToken) ? null : unauthorized("missing or wrong admin token: the model"
                        + " repository API needs 'Authorization: Bearer <admin token>'");
            }
            if (token != null) {
                return Answer.error(HttpResponseStatus.FORBIDDEN, "the model repository API needs an admin token on"
                        + " a server with authentication: start it with --admin-token-file");
            }
            return null;
        }
        if (token == null || matches(request, token)) {
            return null;
        }
        return unauthorized("missing or wrong bearer token: send 'Authorization: Bearer <token>'");
    }

    static boolean isHealth(List<String> p) {
        return p.size() == 3 && p.get(0).equals("v2") && p.get(1).equals("health");
    }

    static boolean isRepository(List<String> p) {
        return p.size() >= 2 && p.get(0).equals("v2") && p.get(1).equals("repository");
    }

    private static boolean matches(HttpRequest request, byte[] expected) {
        String h = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        return MessageDigest.isEqual(expected, h.substring(7).trim().getBytes(StandardCharsets.UTF_8));
    }

    private static FullHttpResponse unauthorized(String message) {
        FullHttpResponse r = Answer.error(HttpResponseStatus.UNAUTHORIZED, message);
        r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"scoreflow\"");
        return r;
    }
}
