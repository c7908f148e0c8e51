package dev.scoreflow.streaming;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * One thing done for an alert: a webhook POST or a command. {@link #run} makes one attempt; {@link AlertActions}
 * retries. Implementations are used by one thread at a time.
 */
interface AlertAction {
    /** {@code webhook} or {@code command}: the metrics' {@code kind} label. */
    String kind();

    /** Names the action in the log without its secrets (a webhook's path and query, a command's text). */
    String describe();

    /**
     * One attempt for {@code alert}: null if it succeeded, else why not (one line, for the log).
     *
     * @throws InterruptedException if the thread is interrupted (the app is closing); nothing is left running
     */
    String run(AlertActions.Alert alert) throws InterruptedException;

    /**
     * POSTs the alert's JSON to a URL with {@code Idempotency-Key: <alert_id>}, so the receiver can drop a repeat
     * (actions are at least once). A 2xx answer is success; any other answer, a refused connection or no answer
     * within the timeout is a failure. The response body is not read. Redirects are not followed.
     */
    final class Webhook implements AlertAction {
        private final URI url;
        private final Duration timeout;
        private final HttpClient http;

        /** Posts to {@code url} (http or https), connecting within {@code timeout} and answered within it. */
        Webhook(URI url, Duration timeout) {
            this.url = checkUrl(url);
            this.timeout = Objects.requireNonNull(timeout, "timeout");
            this.http = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1)
                    .followRedirects(HttpClient.Redirect.NEVER).build();
        }

        /** @throws IllegalArgumentException unless {@code url} is an absolute http or https URL with a host */
        static URI checkUrl(URI url) {
            Objects.requireNonNull(url, "url");
            String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(java.util.Locale.ROOT);
            if (!scheme.equals("http") && !scheme.equals("https") || url.getHost() == null) {
                throw new IllegalArgumentException("an alert webhook must be an http:// or https:// URL with a "
                        + "host, was '" + url + "'");
            }
            return url;
        }

        @Override
        public String kind() {
            return "webhook";
        }

        @Override
        public String describe() {
            // the path and query of a chat webhook are its secret: log only where it goes
            boolean more = url.getRawPath() != null && !url.getRawPath().isEmpty() && !url.getRawPath().equals("/")
                    || url.getRawQuery() != null;
            return "webhook " + url.getScheme() + "://" + url.getHost() + (url.getPort() == -1 ? "" : ":"
                    + url.getPort()) + (more ? "/..." : "/");
        }

        @Override
        public String run(AlertActions.Alert alert) throws InterruptedException {
            HttpRequest request = HttpRequest.newBuilder(url).timeout(timeout)
                    .header("Content-Type", "application/json")
                    .header("Idempotency-Key", alert.id())
                    .header("User-Agent", "scoreflow-stream")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(alert.json())).build();
            try {
                // the body stream is closed unread: send returns with the headers, a slow body cannot hold us
                HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
                response.body().close();
                int status = response.statusCode();
                return status >= 200 && status < 300 ? null : "answered " + status;
            } catch (IOException e) {
                return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
            }
        }
    }

    /**
     * Runs {@code /bin/sh -c COMMAND} with the alert's JSON on its standard input and {@code SCOREFLOW_ALERT_ID},
     * {@code SCOREFLOW_ALERT_RULE}, {@code SCOREFLOW_ALERT_STATE} and {@code SCOREFLOW_ALERT_VALUE} (empty when
     * the alert has no value) in its environment. Exit code 0 is success. A command still running at the timeout is
     * destroyed with the processes it started, and fails. Its output (standard output and error together) is
     * logged line by line up to {@value #MAX_LOGGED_BYTES} bytes; the rest is read and dropped, so a chatty
     * command never blocks on a full pipe.
     */
    final class Command implements AlertAction {
        private static final Logger LOG = LoggerFactory.getLogger(Command.class);
        static final int MAX_LOGGED_BYTES = 8192;
        /** How long the output is still read after the command ended (a background child may hold the pipe). */
        private static final long DRAIN_MS = 1_000;

        private final String command;
        private final Duration timeout;

        Command(String command, Duration timeout) {
            this.command = checkCommand(command);
            this.timeout = Objects.requireNonNull(timeout, "timeout");
        }

        /** @throws IllegalArgumentException if {@code command} is null or blank */
        static String checkCommand(String command) {
            if (command == null || command.isBlank()) {
                throw new IllegalArgumentException("an alert command must not be empty, was '" + command + "'");
            }
            return command;
        }

        @Override
        public String kind() {
            return "command";
        }

        @Override
        public String describe() {
            return "command"; // its text may hold a token
        }

        @Override
        public String run(AlertActions.Alert alert) throws InterruptedException {
            ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", command).redirectErrorStream(true);
            Map<String, String> env = pb.environment();
            env.put("SCOREFLOW_ALERT_ID", alert.id());
            env.put("SCOREFLOW_ALERT_RULE", alert.rule());
            env.put("SCOREFLOW_ALERT_STATE", alert.state());
            env.put("SCOREFLOW_ALERT_VALUE", alert.value());
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                return "cannot start /bin/sh: " + e.getMessage();
            }
            // stdin and the output on their own threads: a command that reads neither nor exits still times out
            Thread in = daemon("alert-command-stdin", () -> {
                try (OutputStream o = p.getOutputStream()) {
                    o.write(alert.json());
                } catch (IOException e) {
                    LOG.debug("alert command {} did not take its input: {}", alert.id(), e.toString());
                }
            });
            Thread out = daemon("alert-command-output", () -> drain(p.getInputStream(), alert.id()));
            try {
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    destroy(p);
                    return "still running after " + timeout.toMillis() + " ms: destroyed";
                }
                int exit = p.exitValue();
                return exit == 0 ? null : "exit code " + exit;
            } catch (InterruptedException e) {
                destroy(p);
                throw e;
            } finally {
                // a child left running in the background keeps the output open: its reader (a daemon) stays with it
                out.join(DRAIN_MS);
                in.join(DRAIN_MS);
            }
        }

        private static void destroy(Process p) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            try {
                p.waitFor(DRAIN_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private static void drain(InputStream stream, String alertId) {
            long logged = 0;
            long dropped = 0;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                char[] buf = new char[4096];
                StringBuilder line = new StringBuilder();
                int n;
                while ((n = r.read(buf)) != -1) {
                    for (int i = 0; i < n; i++) {
                        char c = buf[i];
                        if (logged >= MAX_LOGGED_BYTES) {
                            dropped++;
                        } else if (c == '\n') {
                            LOG.info("alert command {}: {}", alertId, line);
                            logged += line.length() + 1;
                            line.setLength(0);
                        } else {
                            line.append(c);
                            if (logged + line.length() >= MAX_LOGGED_BYTES) {
                                LOG.info("alert command {}: {}", alertId, line);
                                logged += line.length();
                                line.setLength(0);
                            }
                        }
                    }
                }
                if (line.length() > 0) {
                    LOG.info("alert command {}: {}", alertId, line);
                }
            } catch (IOException e) {
                LOG.debug("alert command {}: output closed: {}", alertId, e.toString());
            }
            if (dropped > 0) {
                LOG.info("alert command {}: {} more characters of output not logged", alertId, dropped);
            }
        }

        private static Thread daemon(String name, Runnable r) {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            t.start();
            return t;
        }
    }
}
