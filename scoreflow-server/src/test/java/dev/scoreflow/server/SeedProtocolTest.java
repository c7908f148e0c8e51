package dev.scoreflow.server;

import dev.scoreflow.runtime.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static dev.scoreflow.server.ServerFixture.body;
import static dev.scoreflow.server.ServerFixture.scores;
import static dev.scoreflow.server.ServerFixture.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The seed binary protocol over a real socket: parity with in-process scoring, and every kind of bad input. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SeedProtocolTest {
    private ServerFixture f;

    @BeforeAll
    void start() {
        f = ServerFixture.exampleAndForest(s -> s.maxBodyBytes(1 << 20).defaultModel("example"));
    }

    @AfterAll
    void stop() {
        f.close();
    }

    private void assertParity(String name, Path model, int features, int rows, int[] requestRows) throws Exception {
        float[] data = TestModels.noisyRows(model, rows, features, 11);
        float[] expected = TestModels.inProcessScores(model, data, features);
        float[] got = new float[rows];
        List<CompletableFuture<Void>> calls = new ArrayList<>();
        int at = 0;
        for (int i = 0; at < rows; i++) {
            int n = Math.min(requestRows[i % requestRows.length], rows - at);
            int from = at;
            byte[] b = body(java.util.Arrays.copyOfRange(data, from * features, (from + n) * features), features);
            calls.add(CompletableFuture.runAsync(() -> {
                HttpResponse<byte[]> r = f.put("/models/" + name + "/score", b, "application/octet-stream");
                assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
                System.arraycopy(scores(r), 0, got, from, n);
            }));
            at += n;
        }
        CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).get();
        for (int i = 0; i < rows; i++) {
            assertThat(got[i]).as("row %d", i).isCloseTo(expected[i], within(TestModels.tolerance(expected[i])));
        }
    }

    @Test
    void exampleScoresEqualInProcessScoresForTwelveThousandRows() throws Exception {
        assertParity("example", TestModels.example(), 26, 12_000, new int[]{1, 1000, 100, 3000, 7, 2500});
    }

    @Test
    void treeEnsembleScoresEqualInProcessScoresForTwelveThousandRows() throws Exception {
        assertParity("forest", TestModels.forest(), 20, 12_000, new int[]{1000, 1, 2048, 333, 5000});
    }

    @Test
    void defaultModelAnswersPutScore() {
        float[] rows = TestModels.sampleInput(TestModels.example());
        HttpResponse<byte[]> r = f.put("/score", body(java.util.Arrays.copyOf(rows, 26 * 10), 26), null);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).contains("application/octet-stream");
        float[] expected = TestModels.sampleScores(TestModels.example());
        float[] got = scores(r);
        for (int i = 0; i < 10; i++) {
            assertThat(got[i]).isCloseTo(expected[i], within(1e-5f));
        }
    }

    @Test
    void acceptsAChunkedBody() {
        float[] rows = TestModels.noisyRows(TestModels.example(), 500, 26, 3);
        HttpResponse<byte[]> r = f.send(HttpRequest.newBuilder(f.uri("/models/example/score"))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body(rows, 26)))));
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
        assertThat(scores(r)).hasSize(500);
    }

    private void assertError(HttpResponse<byte[]> r, int status, String message) {
        assertThat(r.statusCode()).as(text(r)).isEqualTo(status);
        assertThat(r.headers().firstValue("Content-Type")).contains("application/json");
        assertThat(text(r)).startsWith("{\"error\":").contains(message);
        // and the server keeps serving
        HttpResponse<byte[]> ok = f.put("/score", new byte[26 * 4], "application/octet-stream");
        assertThat(ok.statusCode()).isEqualTo(200);
    }

    @Test
    void answers400ForALengthThatIsNotWholeRows() {
        assertError(f.put("/score", new byte[401], "application/octet-stream"), 400,
                "401 bytes, which is not a multiple of 4 x 26 features = 104 bytes per row");
    }

    @Test
    void answers400ForAnEmptyBody() {
        assertError(f.put("/score", new byte[0], "application/octet-stream"), 400, "empty body");
    }

    @Test
    void answers400ForADeclaredFeatureCountThatIsWrong() {
        assertError(f.send(HttpRequest.newBuilder(f.uri("/score")).header("Scoreflow-Features", "20")
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[20 * 4 * 26]))), 400,
                "declares Scoreflow-Features: 20, but model 'example' takes 26");
    }

    @Test
    void answers400ForNaNOrInfinity() {
        float[] rows = new float[52];
        rows[30] = Float.NaN;
        assertError(f.put("/score", body(rows, 26), null), 400, "row 1, feature 4 is NaN");
        rows[30] = Float.POSITIVE_INFINITY;
        assertError(f.put("/score", body(rows, 26), null), 400, "is Infinity");
    }

    @Test
    void answers404ForUnknownModelOrVersion() {
        assertError(f.put("/models/nope/score", new byte[104], null), 404, "no model named 'nope'");
        assertError(f.put("/models/example/versions/7/score", new byte[104], null), 404, "has no version '7'");
        assertError(f.put("/nothing/here", new byte[104], null), 404, "no endpoint at PUT /nothing/here");
    }

    @Test
    void answers405ForTheWrongMethod() {
        HttpResponse<byte[]> r = f.get("/score");
        assertThat(r.headers().firstValue("Allow")).contains("PUT, POST");
        assertError(r, 405, "method not allowed");
    }

    @Test
    void answers415ForAFormContentType() {
        assertError(f.put("/score", new byte[104], "application/x-www-form-urlencoded"), 415,
                "unsupported content type 'application/x-www-form-urlencoded'");
    }

    @Test
    void answers413ForABodyOverTheLimit() {
        // 1 MiB limit in this fixture; 1,000 rows x 26 features x 4 bytes x 11 = 1.1 MB
        HttpResponse<byte[]> r = f.put("/score", new byte[104 * 11_000], "application/octet-stream");
        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(text(r)).contains("over the limit of 1048576 bytes");
        assertThat(f.put("/score", new byte[104], null).statusCode()).isEqualTo(200);
    }

    @Test
    void answers400ForABadTimeoutHeader() {
        assertError(f.send(HttpRequest.newBuilder(f.uri("/score")).header("Scoreflow-Timeout-Ms", "soon")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[104]))), 400, "Scoreflow-Timeout-Ms must be");
    }

    @Test
    void defaultBodyLimitIsWellAboveAThousandRowsOfAThousandFeatures() {
        assertThat(ScoringServer.Builder.DEFAULT_MAX_BODY_BYTES).isGreaterThan(1000 * 1000 * 4 * 10);
    }
}
