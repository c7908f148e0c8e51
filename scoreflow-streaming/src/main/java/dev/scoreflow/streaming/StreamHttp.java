package dev.scoreflow.streaming;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.scoreflow.api.internal.Json;
import dev.scoreflow.api.internal.Metrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The stream app's HTTP port: {@code GET /features/{entity}} (the entity's live features, from whichever instance
 * holds it: another instance's are fetched from it), {@code POST /score} (an event scored at request time with
 * the same live features the stream would use, without changing them), {@code GET /metrics} (Prometheus) and
 * {@code GET /health} (200 while the app is running).
 *
 * <p>Bounded: {@value #THREADS} handler threads, {@value #QUEUE} waiting requests (more: 503), bodies up to
 * {@value #MAX_BODY} bytes (more: 413), and the JDK server's own limits on how long a request may take to arrive
 * and an answer to leave (set below unless the operator set them).
 */
final class StreamHttp implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StreamHttp.class);
    static final int THREADS = 4;
    static final int QUEUE = 64;
    static final int MAX_BODY = 1 << 20;
    static final String SERVED_BY = "X-Scoreflow-Served-By";
    private static final Duration FORWARD_TIMEOUT = Duration.ofSeconds(5);

    static {
        // the JDK server reads a request for at most this many seconds, and writes an answer for at most that
        System.setProperty("sun.net.httpserver.maxReqTime", System.getProperty("sun.net.httpserver.maxReqTime", "30"));
        System.setProperty("sun.net.httpserver.maxRspTime", System.getProperty("sun.net.httpserver.maxRspTime", "30"));
    }

    private final StreamApp app;
    private final HttpServer server;
    private final ThreadPoolExecutor executor;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(FORWARD_TIMEOUT).build();

    StreamHttp(StreamApp app, String bindHost, int port) throws IOException {
        this.app = app;
        this.server = HttpServer.create(new InetSocketAddress(bindHost, port), 64);
        this.executor = new ThreadPoolExecutor(THREADS, THREADS, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(QUEUE), r -> {
                    Thread t = new Thread(r, "stream-http");
                    t.setDaemon(true);
                    return t;
                });
        // beyond the queue the executor refuses, and the JDK server closes that connection: a refusal, not a hang
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getRawPath();
            String method = ex.getRequestMethod();
            if (path.equals("/metrics") && method.equals("GET")) {
                send(ex, 200, Metrics.CONTENT_TYPE, app.renderMetrics());
            } else if (path.equals("/health") && method.equals("GET")) {
                boolean up = app.state() == org.apache.kafka.streams.KafkaStreams.State.RUNNING;
                json(ex, up ? 200 : 503, Map.of("state", app.state().toString()));
            } else if (path.startsWith("/features/") && method.equals("GET")) {
                features(ex, URLDecoder.decode(path.substring("/features/".length()), StandardCharsets.UTF_8));
            } else if (path.equals("/score") && method.equals("POST")) {
                score(ex);
            } else if (path.equals("/metrics") || path.equals("/health") || path.startsWith("/features/")
                    || path.equals("/score")) {
                json(ex, 405, Map.of("error", method + " is not allowed on " + path));
            } else {
                json(ex, 404, Map.of("error", "no such path " + path + " (try /features/{entity}, POST /score, "
                        + "/metrics, /health)"));
            }
        } catch (RuntimeException e) {
            LOG.warn("request {} {} failed", ex.getRequestMethod(), ex.getRequestURI(), e);
            try {
                json(ex, 500, Map.of("error", "internal error: " + e));
            } catch (IOException | RuntimeException ignored) {
                // the answer had begun: the connection closes
            }
        }
    }

    private void features(HttpExchange ex, String entity) throws IOException {
        if (entity.isEmpty()) {
            json(ex, 400, Map.of("error", "no entity: GET /features/{entity}"));
            return;
        }
        Long asOf = null;
        String q = ex.getRequestURI().getRawQuery();
        if (q != null && q.startsWith("as_of=")) {
            try {
                asOf = Long.parseLong(q.substring("as_of=".length()));
            } catch (NumberFormatException e) {
                json(ex, 400, Map.of("error", "as_of must be epoch milliseconds, was " + q.substring(6)));
                return;
            }
        }
        StreamApp.Owner owner = app.owner(entity);
        if (owner == null) {
            ex.getResponseHeaders().add("Retry-After", "1");
            json(ex, 503, Map.of("error", "the partitions are being reassigned; try again"));
        } else if (owner.local()) {
            Map<String, Object> f = app.features(entity, asOf);
            ex.getResponseHeaders().add(SERVED_BY, app.advertised());
            if (f == null) {
                json(ex, 404, Map.of("error", "no events of entity " + entity));
            } else {
                json(ex, 200, f);
            }
        } else {
            forward(ex, owner, "/features/" + URLEncoder.encode(entity, StandardCharsets.UTF_8).replace("+", "%20")
                    + (q == null ? "" : "?" + q), null);
        }
    }

    private void score(HttpExchange ex) throws IOException {
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readNBytes(MAX_BODY + 1);
        }
        if (body.length > MAX_BODY) {
            json(ex, 413, Map.of("error", "the event is over " + MAX_BODY + " bytes"));
            return;
        }
        Event e;
        try {
            e = EventParser.parse(body, new Event.Origin("http", -1, -1, null));
        } catch (Rejection r) {
            json(ex, 400, Map.of("error", r.getMessage(), "reason", r.reason()));
            return;
        }
        StreamApp.Owner owner = app.owner(e.entity());
        if (owner == null) {
            ex.getResponseHeaders().add("Retry-After", "1");
            json(ex, 503, Map.of("error", "the partitions are being reassigned; try again"));
        } else if (owner.local()) {
            try {
                String scored = app.scoreAtRequest(e);
                if (scored == null) {
                    ex.getResponseHeaders().add("Retry-After", "1");
                    json(ex, 503, Map.of("error", "the partitions are being reassigned; try again"));
                    return;
                }
                ex.getResponseHeaders().add(SERVED_BY, app.advertised());
                send(ex, 200, "application/json", scored);
            } catch (Rejection r) {
                json(ex, r.reason().equals(Rejection.SCORING_FAILED) ? 500 : 400,
                        Map.of("error", r.getMessage(), "reason", r.reason()));
            }
        } else {
            forward(ex, owner, "/score", body);
        }
    }

    /** Asks the instance that holds the entity and passes its answer on. */
    private void forward(HttpExchange ex, StreamApp.Owner owner, String pathAndQuery, byte[] body) throws IOException {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://" + owner.host() + ":" + owner.port()
                + pathAndQuery)).timeout(FORWARD_TIMEOUT);
        r = body == null ? r.GET() : r.POST(HttpRequest.BodyPublishers.ofByteArray(body));
        try {
            HttpResponse<byte[]> answer = client.send(r.build(), HttpResponse.BodyHandlers.ofByteArray());
            answer.headers().firstValue(SERVED_BY).ifPresent(v -> ex.getResponseHeaders().add(SERVED_BY, v));
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(answer.statusCode(), answer.body().length == 0 ? -1 : answer.body().length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(answer.body());
            }
        } catch (IOException e) {
            LOG.warn("the instance {}:{} that holds the entity did not answer: {}", owner.host(), owner.port(), e.toString());
            json(ex, 502, Map.of("error", "the instance " + owner.host() + ":" + owner.port()
                    + " that holds the entity did not answer: " + e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            json(ex, 503, Map.of("error", "interrupted"));
        }
    }

    private static void json(HttpExchange ex, int status, Map<String, ?> body) throws IOException {
        send(ex, status, "application/json", Json.write(body));
    }

    private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", type);
        ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
