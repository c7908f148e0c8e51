package dev.scoreflow.server;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.runtime.ThreadBudget;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Consumer;

/** A real server on a free port over real models, and a JDK HTTP client to talk to it. */
final class ServerFixture implements AutoCloseable {
    final ModelRepository repository;
    final ScoringServer server;
    final HttpClient client;

    ServerFixture(Consumer<ModelRepository.Builder> models, Consumer<ScoringServer.Builder> settings) {
        this(models, settings, HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build());
    }

    ServerFixture(Consumer<ModelRepository.Builder> models, Consumer<ScoringServer.Builder> settings,
                  HttpClient client) {
        ScoringServer.MetricsHook hook = new ScoringServer.MetricsHook();
        ModelRepository.Builder rb = ModelRepository.builder().threads(new ThreadBudget(2, 1))
                .observers(hook::observer);
        models.accept(rb);
        this.repository = rb.build();
        ScoringServer.Builder sb = ScoringServer.builder(repository).port(0).metricsHook(hook);
        settings.accept(sb);
        this.server = sb.start();
        this.client = client;
    }

    /** The test certificate and key (cert.pem, key.pem), for servers that speak TLS. */
    static final Path TLS = TestModels.root().resolve("scoreflow-server/src/test/resources/tls");

    /** A client TLS context that trusts the test certificate. */
    static SSLContext trustingTestCertificate() {
        try {
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            try (InputStream in = Files.newInputStream(TLS.resolve("cert.pem"))) {
                trust.setCertificateEntry("test", CertificateFactory.getInstance("X.509").generateCertificate(in));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            return ssl;
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new IllegalStateException("cannot trust the test certificate", e);
        }
    }

    /** The example model (26 features, threshold 0.5) and the forest (20 features). */
    static ServerFixture exampleAndForest(Consumer<ScoringServer.Builder> settings) {
        return new ServerFixture(r -> r.model("example", TestModels.example()).model("forest", TestModels.forest()),
                settings);
    }

    URI uri(String path) {
        return server.uri().resolve(path);
    }

    HttpResponse<byte[]> send(HttpRequest.Builder request) {
        try {
            return client.send(request.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    HttpResponse<byte[]> put(String path, byte[] body, String contentType) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).PUT(HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        return send(b);
    }

    HttpResponse<byte[]> get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).GET());
    }

    HttpResponse<byte[]> post(String path, String json) {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    static String text(HttpResponse<byte[]> r) {
        return new String(r.body(), StandardCharsets.UTF_8);
    }

    static float[] scores(HttpResponse<byte[]> r) {
        return SeedBinaryCodec.decodeScores(ByteBuffer.wrap(r.body()));
    }

    static byte[] body(float[] rows, int features) {
        return SeedBinaryCodec.encode(FloatMatrix.of(rows, rows.length / features, features)).array();
    }

    @Override
    public void close() {
        server.shutdown(Duration.ofSeconds(10));
    }
}
