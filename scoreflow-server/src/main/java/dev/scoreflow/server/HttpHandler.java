package dev.scoreflow.server;

import dev.scoreflow.api.internal.Metrics;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;

/**
 * Routes a received request to its endpoint: the seed protocol, the Open Inference Protocol, metrics.
 *
 * <p>Runs on the connection's event loop and never blocks it: scoring completes on an inference thread, and the
 * model repository's administration (load, unload) runs on the service's admin thread. Who may call what was
 * decided before the body was read ({@link Auth}). Stateless apart from the service; thread-safe.
 */
final class HttpHandler {
    private static final List<String> ENDPOINTS = List.of("PUT /score", "PUT /models/{name}[/versions/{v}]/score",
            "GET /v2", "GET /v2/health/live", "GET /v2/health/ready", "GET /v2/models/{name}[/versions/{v}]",
            "GET /v2/models/{name}[/versions/{v}]/ready", "POST /v2/models/{name}[/versions/{v}]/infer",
            "POST /v2/repository/index", "POST /v2/repository/models/{name}/load|unload", "GET /metrics",
            "PUT /models/{name}[/versions/{v}]/jobs", "POST /v2/models/{name}[/versions/{v}]/jobs",
            "GET|DELETE /jobs/{id}", "GET /jobs/{id}/result");

    private final Service service;

    HttpHandler(Service service) {
        this.service = service;
    }

    /** The answer to {@code ex}; may complete on another thread. */
    CompletableFuture<Answer> route(Exchange ex) {
        List<String> p = ex.path;
        HttpMethod method = ex.request.method();
        int n = p.size();
        // seed protocol
        if (n == 1 && p.get(0).equals("score")) {
            return scoring(method) ? service.seed.score(ex, null, null) : notAllowed("PUT, POST");
        }
        if (n == 3 && p.get(0).equals("models") && p.get(2).equals("score")) {
            return scoring(method) ? service.seed.score(ex, p.get(1), null) : notAllowed("PUT, POST");
        }
        if (n == 5 && p.get(0).equals("models") && p.get(2).equals("versions") && p.get(4).equals("score")) {
            return scoring(method) ? service.seed.score(ex, p.get(1), p.get(3)) : notAllowed("PUT, POST");
        }
        if (n == 3 && p.get(0).equals("models") && p.get(2).equals("jobs")) {
            return jobs(ex, method, p.get(1), null, dev.scoreflow.jobs.JobRequest.SEED);
        }
        if (n == 5 && p.get(0).equals("models") && p.get(2).equals("versions") && p.get(4).equals("jobs")) {
            return jobs(ex, method, p.get(1), p.get(3), dev.scoreflow.jobs.JobRequest.SEED);
        }
        if (p.get(0).equals("jobs") && (n == 2 || n == 3 && p.get(2).equals("result"))) {
            JobsEndpoint jobs = service.jobs;
            if (jobs == null) {
                return jobsOff();
            }
            if (n == 3) {
                return method.equals(HttpMethod.GET) ? jobs.result(p.get(1)) : notAllowed("GET");
            }
            if (method.equals(HttpMethod.DELETE)) {
                return jobs.cancel(p.get(1));
            }
            return method.equals(HttpMethod.GET) ? jobs.status(p.get(1), ex.request.uri())
                    : notAllowed("GET, DELETE");
        }
        if (n == 1 && p.get(0).equals("metrics")) {
            return get(method, () -> Answer.bytes(HttpResponseStatus.OK,
                    service.metrics.render().getBytes(StandardCharsets.UTF_8), Metrics.CONTENT_TYPE));
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
        V2Endpoint v2 = service.v2;
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
                ByteBuffer body = ex.body(); // read here; the exchange outlives the admin call
                return admin(method, () -> v2.load(p.get(2), body));
            }
            if (n == 4 && p.get(1).equals("models") && p.get(3).equals("unload")) {
                return admin(method, () -> v2.unload(p.get(2)));
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
        if (rest.size() == 1 && rest.get(0).equals("jobs")) {
            return method.equals(HttpMethod.POST) ? jobs(ex, method, name, v, dev.scoreflow.jobs.JobRequest.V2)
                    : notAllowed("POST");
        }
        if (rest.size() == 1 && rest.get(0).equals("infer")) {
            return method.equals(HttpMethod.POST) ? v2.infer(ex, name, v) : notAllowed("POST");
        }
        return notFound(ex);
    }

    private CompletableFuture<Answer> jobs(Exchange ex, HttpMethod method, String name, String version,
                                          String protocol) {
        if (service.jobs == null) {
            return jobsOff();
        }
        return scoring(method) ? service.jobs.submit(ex, name, version, protocol) : notAllowed("PUT, POST");
    }

    private static CompletableFuture<Answer> jobsOff() {
        return done(Answer.of(Answer.error(HttpResponseStatus.NOT_FOUND, "jobs are not enabled on this server "
                + "(start it with a job queue: serve --jobs URL)")));
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

    /** Load and unload read files and build sessions for seconds: on the admin thread, never an event loop. */
    private CompletableFuture<Answer> admin(HttpMethod m, Supplier<FullHttpResponse> action) {
        if (!m.equals(HttpMethod.POST)) {
            return notAllowed("POST");
        }
        try {
            return CompletableFuture.supplyAsync(() -> Answer.of(action.get()), service.admin);
        } catch (RejectedExecutionException e) {
            FullHttpResponse r = Answer.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "too many model loads and"
                    + " unloads are waiting; try again later");
            r.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
            return done(Answer.of(r));
        }
    }

    private static CompletableFuture<Answer> done(Answer a) {
        return CompletableFuture.completedFuture(a);
    }
}
