package dev.scoreflow.server;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.InferInput;
import dev.scoreflow.api.InferenceResponse;
import dev.scoreflow.api.V2Codec;
import dev.scoreflow.api.V2Message;
import dev.scoreflow.api.internal.Json;
import dev.scoreflow.runtime.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static dev.scoreflow.server.RequestDecompressorTest.gzip;
import static dev.scoreflow.server.RequestDecompressorTest.zlib;
import static dev.scoreflow.server.ServerFixture.scores;
import static dev.scoreflow.server.ServerFixture.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Compressed request bodies over a real socket, on both protocols, as tritonclient sends them. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ContentEncodingTest {
    private static final int LIMIT = 1 << 20;
    private ServerFixture f;
    private float[] rows;
    private float[] expected;

    @BeforeAll
    void start() {
        f = ServerFixture.exampleAndForest(s -> s.maxBodyBytes(LIMIT).defaultModel("example"));
        rows = TestModels.noisyRows(TestModels.example(), 50, 26, 23);
        expected = TestModels.inProcessScores(TestModels.example(), rows, 26);
    }

    @AfterAll
    void stop() {
        f.close();
    }

    private static byte[] encode(String encoding, byte[] body) {
        return switch (encoding) {
            case "gzip" -> gzip(body);
            case "deflate" -> zlib(body, false);
            default -> body;
        };
    }

    private HttpResponse<byte[]> post(String path, byte[] body, Map<String, String> headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(f.uri(path)).POST(HttpRequest.BodyPublishers.ofByteArray(body));
        headers.forEach(b::header);
        return f.send(b);
    }

    private void assertScores(float[] got, int n) {
        assertThat(got).hasSize(n);
        for (int i = 0; i < n; i++) {
            assertThat(got[i]).as("row %d", i).isCloseTo(expected[i], within(1e-5f));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gzip", "deflate", "identity"})
    void item23_gzipRequestBodyIsScored(String encoding) {
        StringBuilder data = new StringBuilder();
        Json.write(data, rows);
        byte[] json = ("{\"inputs\":[{\"name\":\"float_input\",\"shape\":[50,26],\"datatype\":\"FP32\",\"data\":"
                + data + "}]}").getBytes(StandardCharsets.UTF_8);
        HttpResponse<byte[]> r = post("/v2/models/example/infer", encode(encoding, json),
                Map.of("Content-Type", "application/json", "Content-Encoding", encoding));
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
        assertScores((float[]) V2Codec.decodeResponse(ByteBuffer.wrap(r.body()), -1).outputs().get(0).data(), 50);
    }

    /** tritonclient computes Inference-Header-Content-Length before compressing: it counts inflated bytes. */
    @ParameterizedTest
    @ValueSource(strings = {"gzip", "deflate"})
    void item23_binaryTensorsCompressedAsTritonclientSendsThem(String encoding) {
        V2Message msg = V2Codec.encodeRequest(null, List.of(new InferInput("float_input", "FP32", List.of(50L, 26L),
                FloatMatrix.of(rows, 50, 26))), List.of("score"), true, true);
        HttpResponse<byte[]> r = post("/v2/models/example/infer", encode(encoding, msg.toByteBuffer().array()),
                Map.of("Content-Type", "application/octet-stream", "Content-Encoding", encoding,
                        V2Codec.HEADER_LENGTH, Integer.toString(msg.headerLength())));
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
        long header = Long.parseLong(r.headers().firstValue(V2Codec.HEADER_LENGTH).orElseThrow());
        InferenceResponse resp = V2Codec.decodeResponse(ByteBuffer.wrap(r.body()), header);
        assertScores((float[]) resp.outputs().get(0).data(), 50);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gzip", "deflate"})
    void item23_seedEndpointScoresCompressedRows(String encoding) {
        byte[] body = ServerFixture.body(Arrays.copyOf(rows, 20 * 26), 26);
        HttpResponse<byte[]> r = f.send(HttpRequest.newBuilder(f.uri("/score"))
                .header("Content-Type", "application/octet-stream").header("Content-Encoding", encoding)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(encode(encoding, body))));
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
        assertScores(scores(r), 20);
    }

    @Test
    void item23_unknownContentEncodingIs415NamingIt() {
        HttpResponse<byte[]> v2 = post("/v2/models/example/infer", new byte[]{1, 2, 3},
                Map.of("Content-Type", "application/json", "Content-Encoding", "br"));
        assertThat(v2.statusCode()).isEqualTo(415);
        assertThat(((Map<?, ?>) Json.parse(text(v2))).get("error").toString())
                .contains("unsupported Content-Encoding 'br'");
        HttpResponse<byte[]> seed = f.send(HttpRequest.newBuilder(f.uri("/score"))
                .header("Content-Encoding", "compress").PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[104])));
        assertThat(seed.statusCode()).isEqualTo(415);
        assertThat(((Map<?, ?>) Json.parse(text(seed))).get("error").toString())
                .contains("unsupported Content-Encoding 'compress'");
    }

    @Test
    void item23_corruptCompressedBodyIs400WithTheReason() {
        byte[] body = gzip(ServerFixture.body(Arrays.copyOf(rows, 26), 26));
        body[body.length - 6] ^= 0x55; // the CRC
        HttpResponse<byte[]> r = f.send(HttpRequest.newBuilder(f.uri("/score")).header("Content-Encoding", "gzip")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(body)));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(((Map<?, ?>) Json.parse(text(r))).get("error").toString()).contains("CRC-32");
    }

    /**
     * Gzip of zeros that inflates to a thousand times its size: half the limit compressed (so only the inflated size
     * can refuse it), and 10 MB; over a raw socket since the server answers before the body is all sent.
     */
    @ParameterizedTest
    @ValueSource(ints = {LIMIT / 2, 10 << 20})
    void item23_zipBombOverTheWireIs413AndTheServerCarriesOn(int compressedBytes) throws Exception {
        byte[] bomb = RequestDecompressorTest.ZipBomb.gzipOfZeros(compressedBytes);
        String head = "PUT /score HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
                + "Content-Encoding: gzip\r\nContent-Length: " + bomb.length + "\r\n\r\n";
        String answer = exchange(f.server.uri(), head.getBytes(StandardCharsets.US_ASCII), bomb);
        assertThat(answer).startsWith("HTTP/1.1 413").contains("over the limit of " + LIMIT + " bytes");
        assertThat(f.get("/v2/health/live").statusCode()).isEqualTo(200);
    }

    /** Writes the request on another thread while reading the answer: status line, headers and body. */
    private static String exchange(URI server, byte[] head, byte[] body) throws Exception {
        try (Socket s = new Socket(server.getHost(), server.getPort())) {
            s.setSoTimeout(30_000);
            Thread writer = new Thread(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    out.write(head);
                    out.write(body);
                    out.flush();
                } catch (IOException expected) {
                    // the server closes the connection once it has refused the body; the answer is what counts
                }
            });
            writer.start();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            int length = -1;
            int headerEnd = -1;
            byte[] buf = new byte[8192];
            while (headerEnd < 0 || got.size() < headerEnd + length) {
                int n = in.read(buf);
                if (n < 0) {
                    break;
                }
                got.write(buf, 0, n);
                String text = got.toString(StandardCharsets.ISO_8859_1);
                if (headerEnd < 0 && text.contains("\r\n\r\n")) {
                    headerEnd = text.indexOf("\r\n\r\n") + 4;
                    String lower = text.substring(0, headerEnd).toLowerCase();
                    int at = lower.indexOf("content-length:");
                    length = Integer.parseInt(lower.substring(at + 15, lower.indexOf('\r', at)).trim());
                }
            }
            s.close();
            writer.join(30_000);
            return got.toString(StandardCharsets.UTF_8);
        }
    }
}
