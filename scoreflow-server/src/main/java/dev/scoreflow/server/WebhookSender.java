package dev.scoreflow.server;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;

/**
 * One attempt at a webhook callback: POSTs the finished job's JSON document, signed, and succeeds on a 2xx answer
 * within the timeout; anything else (another status, a refused connection, no answer in time) throws, saying which.
 * Thread-safe: one HTTP client for every callback of a worker.
 */
final class WebhookSender {
    /** The job's id, on every delivery of its callback: a receiver drops a repeat it has already seen. */
    static final String JOB_ID = "Scoreflow-Job-Id";
    static final String IDEMPOTENCY_KEY = "Idempotency-Key";
    static final String ATTEMPT = "Scoreflow-Callback-Attempt";

    private final CallbackSettings settings;
    private final HttpClient client;

    WebhookSender(CallbackSettings settings) {
        this.settings = settings;
        this.client = HttpClient.newBuilder().connectTimeout(settings.timeout)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    void send(String url, String jobId, byte[] document, int attempt) throws CallbackException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(settings.timeout)
                .header("Content-Type", "application/json").header("User-Agent", "scoreflow-callback")
                .header(JOB_ID, jobId).header(IDEMPOTENCY_KEY, jobId).header(ATTEMPT, Integer.toString(attempt))
                .POST(HttpRequest.BodyPublishers.ofByteArray(document));
        if (settings.secret != null) {
            b.header(CallbackSignature.HEADER, CallbackSignature.sign(settings.secret,
                    settings.clock.instant().getEpochSecond(), document));
        }
        HttpResponse<String> r;
        try {
            r = client.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (HttpTimeoutException e) {
            throw new CallbackException("no answer within " + settings.timeout.toMillis() + " ms");
        } catch (IOException e) {
            throw new CallbackException(e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CallbackException("interrupted (the worker is stopping)");
        }
        if (r.statusCode() / 100 != 2) {
            String body = r.body() == null ? "" : r.body().strip();
            throw new CallbackException("HTTP " + r.statusCode() + (body.isEmpty() ? ""
                    : ": " + body.substring(0, Math.min(200, body.length()))));
        }
    }
}
