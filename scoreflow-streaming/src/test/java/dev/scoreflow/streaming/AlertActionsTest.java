package dev.scoreflow.streaming;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The alert actions one record at a time, without Kafka: webhooks on a real JDK HTTP server, commands through a
 * real /bin/sh, and a fake sleeper that records the backoff instead of waiting it.
 */
class AlertActionsTest {
    static final String ALERT = "{\"alert_id\":\"high_scores@1700000000000:firing\",\"rule\":\"high_scores\","
            + "\"condition\":\"mean_score > 0.3 for 2 windows\",\"state\":\"firing\",\"window_start\":1700000000000,"
            + "\"window_end\":1700000010000,\"value\":0.41,\"threshold\":0.3,\"windows\":2}";
    static final String RESOLVED = ALERT.replace(":firing", ":resolved").replace("\"firing\"", "\"resolved\"");

    @TempDir
    Path dir;
    final StreamMetrics metrics = new StreamMetrics();
    final List<Duration> waits = Collections.synchronizedList(new ArrayList<>());
    final AlertActions.Sleeper sleeper = waits::add;
    Hook hook;

    /** A webhook receiver that answers the scripted statuses in turn (then the last one) and keeps what it got. */
    static final class Hook implements AutoCloseable {
        record Post(String method, String key, String contentType, String body) {
        }

        final HttpServer server;
        final Queue<Post> posts = new ConcurrentLinkedQueue<>();
        final Queue<Integer> statuses;
        volatile int last = 200;
        final CountDownLatch release = new CountDownLatch(1);
        volatile boolean hang;

        Hook(Integer... statuses) throws IOException {
            this.statuses = new ConcurrentLinkedQueue<>(List.of(statuses));
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            server.createContext("/", ex -> {
                byte[] body;
                try (InputStream in = ex.getRequestBody()) {
                    body = in.readAllBytes();
                }
                posts.add(new Post(ex.getRequestMethod(), ex.getRequestHeaders().getFirst("Idempotency-Key"),
                        ex.getRequestHeaders().getFirst("Content-Type"), new String(body, StandardCharsets.UTF_8)));
                if (hang) {
                    try {
                        release.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                Integer s = this.statuses.poll();
                if (s != null) {
                    last = s;
                }
                ex.sendResponseHeaders(s != null ? s : last, -1);
                ex.close();
            });
            server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
            server.start();
        }

        URI url() {
            return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/hooks/retrain?token=secret");
        }

        @Override
        public void close() {
            release.countDown();
            server.stop(0);
        }
    }

    @AfterEach
    void stopHook() {
        if (hook != null) {
            hook.close();
        }
    }

    AlertActions actions(List<URI> webhooks, String command, int attempts, Duration timeout, boolean firingOnly) {
        return new AlertActions(new AlertActions.Settings(webhooks, command, attempts, timeout, firingOnly), metrics,
                sleeper);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static List<Duration> seconds(double... s) {
        List<Duration> out = new ArrayList<>();
        for (double v : s) {
            out.add(Duration.ofMillis(Math.round(v * 1000)));
        }
        return out;
    }

    @Test
    void retriesAWebhookThatAnswers503TwiceAndPostsTheAlertWithTheSameIdempotencyKeyEachTime() throws Exception {
        hook = new Hook(503, 503, 200);
        actions(List.of(hook.url()), null, 6, Duration.ofSeconds(5), false).handle(bytes(ALERT));

        assertThat(hook.posts).hasSize(3).allSatisfy(p -> {
            assertThat(p.method()).isEqualTo("POST");
            assertThat(p.key()).isEqualTo("high_scores@1700000000000:firing");
            assertThat(p.contentType()).isEqualTo("application/json");
            assertThat(p.body()).isEqualTo(ALERT);
        });
        assertThat(waits).isEqualTo(seconds(0.5, 1));
        assertThat(metrics.alertActionsDone.value("webhook")).isEqualTo(1);
        assertThat(metrics.alertActionRetries.value("webhook")).isEqualTo(2);
        assertThat(metrics.alertActionsFailed.value("webhook")).isZero();
    }

    @Test
    void givesUpOnAWebhookAfterTheLastAttemptCountsTheFailureAndGoesOnWithTheNextAlert() throws Exception {
        hook = new Hook(500, 500, 500, 500, 500, 500, 200);
        AlertActions a = actions(List.of(hook.url()), null, 6, Duration.ofSeconds(5), false);
        a.handle(bytes(ALERT));

        assertThat(hook.posts).hasSize(6);
        assertThat(waits).isEqualTo(seconds(0.5, 1, 2, 4, 8));
        assertThat(metrics.alertActionsFailed.value("webhook")).isEqualTo(1);
        assertThat(metrics.alertActionRetries.value("webhook")).isEqualTo(5);
        assertThat(metrics.alertActionsDone.value("webhook")).isZero();

        a.handle(bytes(RESOLVED));
        assertThat(hook.posts).hasSize(7);
        assertThat(new ArrayList<>(hook.posts).get(6).key()).isEqualTo("high_scores@1700000000000:resolved");
        assertThat(metrics.alertActionsDone.value("webhook")).isEqualTo(1);
    }

    @Test
    void backsOffFromHalfASecondDoublingUpTo30SecondsAndCountsARefusedConnectionAsAFailure() throws Exception {
        assertThat(List.of(AlertActions.backoff(1), AlertActions.backoff(2), AlertActions.backoff(6),
                AlertActions.backoff(7), AlertActions.backoff(8), AlertActions.backoff(100)))
                .isEqualTo(seconds(0.5, 1, 16, 30, 30, 30));
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        actions(List.of(URI.create("http://127.0.0.1:" + closed + "/")), null, 10, Duration.ofSeconds(5), false)
                .handle(bytes(ALERT));

        assertThat(waits).isEqualTo(seconds(0.5, 1, 2, 4, 8, 16, 30, 30, 30));
        assertThat(metrics.alertActionsFailed.value("webhook")).isEqualTo(1);
        assertThat(metrics.alertActionRetries.value("webhook")).isEqualTo(9);
    }

    @Test
    void aWebhookThatDoesNotAnswerWithinTheTimeoutFails() throws Exception {
        hook = new Hook(200);
        hook.hang = true;
        long t0 = System.nanoTime();
        actions(List.of(hook.url()), null, 2, Duration.ofMillis(300), false).handle(bytes(ALERT));
        long tookMs = (System.nanoTime() - t0) / 1_000_000;

        assertThat(hook.posts).hasSize(2);
        assertThat(metrics.alertActionsFailed.value("webhook")).isEqualTo(1);
        assertThat(tookMs).isBetween(600L, 5_000L);
    }

    @Test
    void skipsAndCountsRecordsThatAreNotAlertsWithoutActing() throws Exception {
        hook = new Hook(200);
        AlertActions a = actions(List.of(hook.url()), null, 3, Duration.ofSeconds(5), false);
        List<byte[]> bad = List.of(bytes("not json"), bytes("[1,2]"), bytes("{\"rule\":\"r\",\"state\":\"firing\"}"),
                bytes(ALERT.replace("high_scores@", "high scores@")),
                bytes(ALERT.replace("high_scores@", "high_scores\\n@")),
                bytes(ALERT.replace("0.41", "\"0.41\"")), new byte[0], new byte[AlertActions.MAX_RECORD_BYTES + 1]);
        for (byte[] b : bad) {
            a.handle(b);
        }
        a.handle(null);

        assertThat(metrics.alertRecordsMalformed.value()).isEqualTo(bad.size() + 1);
        assertThat(hook.posts).isEmpty();
        a.handle(bytes(ALERT));
        assertThat(hook.posts).hasSize(1);
    }

    @Test
    void actsOnFiringAlertsOnlyWhenAskedTo() throws Exception {
        hook = new Hook(200);
        AlertActions a = actions(List.of(hook.url()), null, 3, Duration.ofSeconds(5), true);
        a.handle(bytes(RESOLVED));
        a.handle(bytes(ALERT));

        assertThat(hook.posts).singleElement().satisfies(p -> assertThat(p.body()).isEqualTo(ALERT));
    }

    @Test
    void runsTheCommandWithTheAlertInItsEnvironmentAndOnItsInput() throws Exception {
        Path out = dir.resolve("out.txt");
        String cmd = "printf '%s %s %s %s\\n' \"$SCOREFLOW_ALERT_ID\" \"$SCOREFLOW_ALERT_STATE\" "
                + "\"$SCOREFLOW_ALERT_RULE\" \"$SCOREFLOW_ALERT_VALUE\" > '" + out + "'; cat >> '" + out + "'";
        actions(List.of(), cmd, 3, Duration.ofSeconds(10), false).handle(bytes(ALERT));

        assertThat(Files.readString(out)).isEqualTo("high_scores@1700000000000:firing firing high_scores 0.41\n"
                + ALERT);
        assertThat(metrics.alertActionsDone.value("command")).isEqualTo(1);
        assertThat(waits).isEmpty();
    }

    @Test
    void retriesACommandThatExitsNonZero() throws Exception {
        Path runs = dir.resolve("runs");
        // fails on its first two runs, succeeds on the third
        String cmd = "echo run >> '" + runs + "'; [ $(wc -l < '" + runs + "') -ge 3 ]";
        actions(List.of(), cmd, 6, Duration.ofSeconds(10), false).handle(bytes(ALERT));

        assertThat(Files.readAllLines(runs)).hasSize(3);
        assertThat(waits).isEqualTo(seconds(0.5, 1));
        assertThat(metrics.alertActionRetries.value("command")).isEqualTo(2);
        assertThat(metrics.alertActionsDone.value("command")).isEqualTo(1);
        assertThat(metrics.alertActionsFailed.value("command")).isZero();
    }

    @Test
    void killsACommandThatHangsAtTheTimeoutWithTheProcessesItStarted() throws Exception {
        Path pids = dir.resolve("pids");
        String cmd = "sleep 30 & echo $! >> '" + pids + "'; wait";
        long t0 = System.nanoTime();
        actions(List.of(), cmd, 2, Duration.ofMillis(500), false).handle(bytes(ALERT));
        long tookMs = (System.nanoTime() - t0) / 1_000_000;

        assertThat(tookMs).isBetween(1_000L, 8_000L); // two attempts of 0.5 s, not 30 s
        assertThat(metrics.alertActionsFailed.value("command")).isEqualTo(1);
        assertThat(metrics.alertActionRetries.value("command")).isEqualTo(1);
        List<String> started = Files.readAllLines(pids);
        assertThat(started).hasSize(2);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        for (String pid : started) {
            while (ProcessHandle.of(Long.parseLong(pid.strip())).map(ProcessHandle::isAlive).orElse(false)) {
                if (System.nanoTime() > deadline) {
                    fail("the command's sleep " + pid + " is still running 10 s after the timeout");
                }
                Thread.sleep(50);
            }
        }
    }

    @Test
    void drainsTheOutputOfAChattyCommandSoItNeverBlocks() throws Exception {
        // 2 MB, far more than a pipe holds and than is logged
        String cmd = "head -c 2000000 /dev/zero | tr '\\0' 'x'";
        actions(List.of(), cmd, 1, Duration.ofSeconds(20), false).handle(bytes(ALERT));

        assertThat(metrics.alertActionsDone.value("command")).isEqualTo(1);
    }

    @Test
    void runsTheWebhooksThenTheCommandForEachAlert() throws Exception {
        hook = new Hook(200);
        Path out = dir.resolve("seen");
        AlertActions a = actions(List.of(hook.url(), hook.url()), "echo \"$SCOREFLOW_ALERT_STATE\" >> '" + out + "'",
                1, Duration.ofSeconds(5), false);
        a.handle(bytes(ALERT));
        a.handle(bytes(RESOLVED));

        assertThat(hook.posts).extracting(Hook.Post::key).containsExactly("high_scores@1700000000000:firing",
                "high_scores@1700000000000:firing", "high_scores@1700000000000:resolved",
                "high_scores@1700000000000:resolved");
        assertThat(Files.readAllLines(out)).containsExactly("firing", "resolved");
        assertThat(metrics.alertActionsDone.value("webhook")).isEqualTo(4);
        assertThat(metrics.alertActionsDone.value("command")).isEqualTo(2);
        assertThat(metrics.registry.render()).contains("scoreflow_stream_alert_actions_total{kind=\"webhook\"} 4");
    }

    @Test
    void logsAWebhookWithoutItsPathOrQuery() {
        assertThat(new AlertAction.Webhook(URI.create("https://hooks.example.com/services/T0/B0/XyZ?t=1"),
                Duration.ofSeconds(1)).describe()).isEqualTo("webhook https://hooks.example.com/...");
        assertThat(new AlertAction.Webhook(URI.create("http://127.0.0.1:8080"), Duration.ofSeconds(1)).describe())
                .isEqualTo("webhook http://127.0.0.1:8080/");
    }

    @Test
    void refusesABadWebhookCommandOrAttemptsAndActionsWithoutRules() throws Exception {
        assertThatThrownBy(() -> StreamApp.builder().alertWebhook(URI.create("ftp://example.com/x")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("an alert webhook must be an http:// or https:// URL with a host, was 'ftp://example.com/x'");
        assertThatThrownBy(() -> StreamApp.builder().alertWebhook(URI.create("/relative")))
                .hasMessageContaining("was '/relative'");
        assertThatThrownBy(() -> StreamApp.builder().alertCommand("  "))
                .hasMessage("an alert command must not be empty, was '  '");
        assertThatThrownBy(() -> StreamApp.builder().alertActionAttempts(0))
                .hasMessage("alert action attempts must be in [1, 100], was 0");
        assertThatThrownBy(() -> StreamApp.builder().alertOn("resolved"))
                .hasMessage("alert actions run on 'firing' or 'all' alerts, was 'resolved'");

        FeatureSpec fs = FeatureSpec.parse("amount = amount", "test");
        java.util.Properties client = new java.util.Properties();
        client.put("bootstrap.servers", "127.0.0.1:9");
        StreamApp.Builder b = StreamApp.builder().client(client).topics("in", "out", "dlq", null).features(fs)
                .scorer(new ScoringTopologyTest.SquashScorer(1)).alertWebhook(URI.create("http://127.0.0.1:1/"));
        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("alert actions (a webhook or a command) need statistics: alerts come from rules over "
                        + "windowed statistics (--stats-window > 0 and --rules)");
        b.statistics(10_000, 0, null, 3, "stats", "alerts");
        assertThatThrownBy(b::build).hasMessageStartingWith("alert actions (a webhook or a command) need rules");
        Path rules = Files.writeString(dir.resolve("rules.txt"), "big: mean(amount) > 300\n");
        b.statistics(10_000, 0, rules, 3, "stats", "alerts");
        assertThat(b.build()).isNotNull();
    }
}
