package dev.scoreflow.server;

import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.server.InMemoryServer.Response;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Large bodies of a declared length read from a real socket straight into their one buffer ({@link BodyReads}):
 * scores equal in-process scoring however the bytes are split, the next pipelined request is never read into a
 * body, and the body bytes are counted by how they were received.
 */
class BodyReadsTest {
    private static final int FEATURES = 26;

    private static long bodyBytes(ServerFixture f, String read) {
        Matcher m = Pattern.compile("scoreflow_request_body_bytes_total\\{read=\"" + read + "\"} (\\S+)\n")
                .matcher(ServerFixture.text(f.get("/metrics")));
        return m.find() ? (long) Double.parseDouble(m.group(1)) : 0; // the client writes 1.2345678E7
    }

    private static byte[] request(byte[] body) {
        byte[] head = ("PUT /models/example/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] all = Arrays.copyOf(head, head.length + body.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return all;
    }

    private static void assertScores(Response r, float[] expected) {
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        float[] got = dev.scoreflow.api.SeedBinaryCodec.decodeScores(ByteBuffer.wrap(r.body().getBytes(StandardCharsets.ISO_8859_1)));
        assertThat(got).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat(got[i]).as("row %d", i).isCloseTo(expected[i], within(TestModels.tolerance(expected[i])));
        }
    }

    @Test
    void bodiesSplitAnywhereAndPipelinedRequestsScoreAsInProcessAndMostBytesArriveInPlace() throws Exception {
        float[] a = TestModels.noisyRows(TestModels.example(), 3000, FEATURES, 21);
        float[] b = TestModels.noisyRows(TestModels.example(), 1000, FEATURES, 22);
        byte[] first = request(ServerFixture.body(a, FEATURES));
        byte[] second = request(ServerFixture.body(b, FEATURES));
        long bodies = 4L * FEATURES * (a.length / FEATURES + b.length / FEATURES);
        try (ServerFixture f = ServerFixture.exampleAndForest(s -> s.maxBodyBytes(1 << 20));
             RawClient c = new RawClient(f.server.uri().getPort())) {
            long inPlace0 = bodyBytes(f, "in_place");
            long copied0 = bodyBytes(f, "copied");
            // the first request in random pieces, its last piece together with the whole second request
            ByteArrayOutputStream tail = new ByteArrayOutputStream();
            Random random = new Random(7);
            int at = 0;
            while (at < first.length) {
                int n = Math.min(first.length - at, 1 + random.nextInt(90_000));
                if (at + n == first.length) {
                    tail.write(first, at, n);
                    tail.write(second);
                    c.send(tail.toByteArray());
                } else {
                    c.send(Arrays.copyOfRange(first, at, at + n));
                }
                at += n;
            }
            assertScores(c.read(), TestModels.inProcessScores(TestModels.example(), a, FEATURES));
            assertScores(c.read(), TestModels.inProcessScores(TestModels.example(), b, FEATURES));
            long inPlace = bodyBytes(f, "in_place") - inPlace0;
            long copied = bodyBytes(f, "copied") - copied0;
            assertThat(inPlace + copied).as("every body byte counted once").isEqualTo(bodies);
            assertThat(inPlace).as("bytes read straight into a body").isGreaterThan(0);
        }
    }

    @Test
    void overTlsTheBodyIsCopiedOnceAndScoresTheSame() throws Exception {
        float[] a = TestModels.noisyRows(TestModels.example(), 2000, FEATURES, 23);
        try (ServerFixture f = new ServerFixture(r -> r.model("example", TestModels.example()),
                s -> s.tls(ServerFixture.TLS.resolve("cert.pem"), ServerFixture.TLS.resolve("key.pem")),
                java.net.http.HttpClient.newBuilder().sslContext(ServerFixture.trustingTestCertificate())
                        .version(java.net.http.HttpClient.Version.HTTP_1_1).build())) {
            long inPlace0 = bodyBytes(f, "in_place");
            var r = f.put("/models/example/score", ServerFixture.body(a, FEATURES), "application/octet-stream");
            assertThat(r.statusCode()).as(ServerFixture.text(r)).isEqualTo(200);
            float[] expected = TestModels.inProcessScores(TestModels.example(), a, FEATURES);
            float[] got = ServerFixture.scores(r);
            for (int i = 0; i < expected.length; i++) {
                assertThat(got[i]).as("row %d", i).isCloseTo(expected[i], within(TestModels.tolerance(expected[i])));
            }
            assertThat(bodyBytes(f, "in_place")).isEqualTo(inPlace0);
        }
    }
}
