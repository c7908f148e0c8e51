package dev.scoreflow.server;

import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.server.InMemoryServer.Response;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 7's items that need real sockets: a client that never reads, the connection limit, and graceful shutdown
 * with uploads in progress and requests in transit on kept-alive connections.
 */
class HostilePeersTest {
    private static final int ROW = 26 * 4;

    private static String put(int rows) {
        return "PUT /models/example/score HTTP/1.1\r\nHost: x\r\nContent-Length: " + rows * ROW + "\r\n\r\n";
    }

    private static String zeros(int n) {
        return new String(new byte[n], StandardCharsets.ISO_8859_1);
    }

    private static void await(String what, BooleanSupplier condition) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as(what).isLessThan(end);
            try {
                Thread.sleep(5); // polling a condition, with a deadline
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void item1_clientThatNeverReadsItsAnswersIsDisconnectedByTheWriteTimeout() {
        try (ServerFixture f = ServerFixture.exampleAndForest(s -> s.writeTimeout(Duration.ofSeconds(1)));
             RawClient greedy = new RawClient(f.server.port(), 4096)) {
            // big answers (the metrics page), asked for much faster than read: the socket buffers fill up
            String ask = "GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: greedy/1.0\r\nAccept: text/plain\r\n"
                    + "Accept-Encoding: identity\r\nX-Padding: an ordinary request is about this long\r\n\r\n";
            CompletableFuture<Void> sending = CompletableFuture.runAsync(() -> {
                try {
                    for (int i = 0; i < 5000; i++) {
                        greedy.send(ask);
                    }
                } catch (RuntimeException e) {
                    // the server closed it: expected
                }
            });
            await("the write timeout fired", () -> f.server.service.metrics.timeouts.value("write") == 1);
            await("the greedy connection was closed", () -> f.server.service.metrics.connections.get() == 0);
            sending.join();
            assertThat(f.get("/v2/health/live").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void item1_overTlsWithATokenUnauthenticatedUploadsHoldNothing() throws Exception {
        Path tls = ServerFixture.TLS;
        SSLContext ssl = ServerFixture.trustingTestCertificate();
        try (ServerFixture f = new ServerFixture(r -> r.model("example", TestModels.example()),
                s -> s.tls(tls.resolve("cert.pem"), tls.resolve("key.pem")).authToken("s3cret"))) {
            List<SSLSocket> holders = new ArrayList<>();
            for (int i = 0; i < 16; i++) { // each declares 64 MiB and sends one byte, without the token
                SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", f.server.port());
                s.setSoTimeout(30_000);
                s.getOutputStream().write(("PUT /score HTTP/1.1\r\nHost: x\r\nContent-Length: " + (64 << 20)
                        + "\r\n\r\nx").getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
                holders.add(s);
            }
            for (SSLSocket s : holders) {
                byte[] head = s.getInputStream().readNBytes(12);
                assertThat(new String(head, StandardCharsets.ISO_8859_1)).isEqualTo("HTTP/1.1 401");
                s.close();
            }
            assertThat(f.server.service.budget.inUse()).isZero();
            HttpResponse<byte[]> ready = HttpClient.newBuilder().sslContext(ssl).build().send(
                    java.net.http.HttpRequest.newBuilder(f.uri("/v2/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertThat(ready.statusCode()).isEqualTo(200);
        }
    }

    @Test
    void item2_connectionsBeyondTheLimitAreAnswered503AndClosed() throws IOException {
        try (ServerFixture f = ServerFixture.exampleAndForest(s -> s.maxConnections(3))) {
            List<RawClient> held = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                held.add(new RawClient(f.server.port()));
            }
            await("three connections open", () -> f.server.service.metrics.connections.get() == 3);
            try (RawClient extra = new RawClient(f.server.port())) {
                Response r = extra.read();
                assertThat(r.status()).isEqualTo(503);
                assertThat(r.header("retry-after")).isEqualTo("1");
                assertThat(r.body()).contains("too many connections");
                assertThat(extra.closedByServer()).isTrue();
            }
            assertThat(f.server.service.metrics.connectionsRefused.value()).isEqualTo(1);
            held.remove(0).close();
            await("a slot freed", () -> f.server.service.metrics.connections.get() == 2);
            try (RawClient next = new RawClient(f.server.port())) {
                assertThat(next.send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n").read().status())
                        .isEqualTo(200);
            }
            for (RawClient c : held) {
                c.close();
            }
        }
    }

    @Test
    void item14_shutdownAnswersUploadsInProgressAndRequestsInTransitOnKeptAliveConnections() throws Exception {
        ServerFixture f = new ServerFixture(r -> r.model("example", TestModels.example()),
                s -> s.drainLinger(Duration.ofSeconds(2)));
        List<RawClient> keptAlive = new ArrayList<>();
        List<RawClient> uploads = new ArrayList<>();
        RawClient probe = null;
        try {
            for (int i = 0; i < 32; i++) {
                RawClient c = new RawClient(f.server.port());
                assertThat(c.send(put(1) + zeros(ROW)).read().closes()).isFalse();
                keptAlive.add(c);
            }
            for (int i = 0; i < 8; i++) {
                uploads.add(new RawClient(f.server.port()).send(put(100) + zeros(50 * ROW)));
            }
            probe = new RawClient(f.server.port());
            assertThat(probe.send("GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n").read().status()).isEqualTo(200);
            for (RawClient c : keptAlive) { // fully sent before the shutdown begins
                c.send(put(10) + zeros(10 * ROW));
            }
            CompletableFuture<Boolean> stopped = CompletableFuture.supplyAsync(
                    () -> f.server.shutdown(Duration.ofSeconds(30)));
            await("draining", f.server.service::draining);
            Response ready = probe.send("GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n").read();
            assertThat(ready.status()).isEqualTo(503);
            assertThat(ready.closes()).isTrue();
            await("the port is closed, after the linger", () -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", f.server.port()), 1000);
                    return false;
                } catch (IOException e) {
                    return true;
                }
            });
            for (RawClient c : uploads) { // the rest of each upload arrives after the shutdown began
                c.send(zeros(50 * ROW));
            }
            for (RawClient c : keptAlive) {
                Response r = c.read();
                assertThat(r.status()).isEqualTo(200);
                assertThat(r.body()).hasSize(10 * 4);
            }
            for (RawClient c : uploads) {
                Response r = c.read();
                assertThat(r.status()).isEqualTo(200);
                assertThat(r.body()).hasSize(100 * 4);
                assertThat(c.closedByServer()).isTrue();
            }
            assertThat(stopped.get(60, TimeUnit.SECONDS)).isTrue();
        } finally {
            keptAlive.forEach(RawClient::close);
            uploads.forEach(RawClient::close);
            if (probe != null) {
                probe.close();
            }
        }
    }
}
