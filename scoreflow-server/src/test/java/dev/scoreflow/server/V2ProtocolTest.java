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
import org.junit.jupiter.params.provider.CsvSource;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

import static dev.scoreflow.server.ServerFixture.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The Open Inference Protocol over a real socket, JSON and binary. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class V2ProtocolTest {
    private ServerFixture f;
    private float[] rows;
    private float[] expected;

    @BeforeAll
    void start() {
        f = ServerFixture.exampleAndForest(s -> { });
        rows = TestModels.noisyRows(TestModels.example(), 300, 26, 5);
        expected = TestModels.inProcessScores(TestModels.example(), rows, 26);
    }

    @AfterAll
    void stop() {
        f.close();
    }

    private static Map<?, ?> json(HttpResponse<byte[]> r) {
        return (Map<?, ?>) Json.parse(text(r));
    }

    @Test
    void answersHealthAndMetadata() {
        assertThat(f.get("/v2/health/live").statusCode()).isEqualTo(200);
        HttpResponse<byte[]> ready = f.get("/v2/health/ready");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(json(ready).get("ready")).isEqualTo(true);
        Map<?, ?> server = json(f.get("/v2"));
        assertThat(server.get("name")).isEqualTo("scoreflow");
        assertThat(server.get("extensions").toString()).contains("binary_tensor_data");
        Map<?, ?> model = json(f.get("/v2/models/example"));
        assertThat(model.get("name")).isEqualTo("example");
        assertThat(model.get("platform")).isEqualTo("onnxruntime_onnx");
        assertThat(model.get("versions")).isEqualTo(List.of("1"));
        assertThat(model.get("inputs")).isEqualTo(List.of(Map.of("name", "float_input", "datatype", "FP32",
                "shape", List.of(-1.0, 26.0))));
        // score, prediction since it has a threshold, then the model's own outputs (V2OutputsTest)
        assertThat((List<?>) model.get("outputs")).hasSize(4);
        assertThat(((List<?>) json(f.get("/v2/models/forest/versions/1")).get("outputs")).get(0))
                .isEqualTo(Map.of("name", "score", "datatype", "FP32", "shape", List.of(-1.0, 1.0)));
        assertThat(f.get("/v2/models/example/ready").statusCode()).isEqualTo(200);
        assertThat(f.get("/v2/models/example/versions/1/ready").statusCode()).isEqualTo(200);
        assertThat(f.get("/v2/models/nope/ready").statusCode()).isEqualTo(404);
    }

    @Test
    void aModelOfAnotherEngineIsServedAndNamedThroughTheLoaderSpi(@org.junit.jupiter.api.io.TempDir
                                                                          java.nio.file.Path dir) throws Exception {
        // the runtime's tests register a second engine (RowSumLoader, META-INF/services): a row's score is its sum
        java.nio.file.Path file = dir.resolve("model.rowsum");
        java.nio.file.Files.writeString(file, "2");
        try (ServerFixture sum = new ServerFixture(r -> r.model("sum", file), s -> { })) {
            assertThat(json(sum.get("/v2/models/sum")).get("platform")).isEqualTo("scoreflow_rowsum");
            HttpResponse<byte[]> r = sum.post("/v2/models/sum/infer", "{\"inputs\": [{\"name\": \"x\", "
                    + "\"datatype\": \"FP32\", \"shape\": [2, 2], \"data\": [1, 2, 3, 4]}]}");
            assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
            assertThat(text(r)).contains("[3.0,7.0]");
        }
    }

    @Test
    void infersWithJsonDataAndEchoesTheId() {
        StringBuilder data = new StringBuilder();
        Json.write(data, java.util.Arrays.copyOf(rows, 3 * 26));
        HttpResponse<byte[]> r = f.post("/v2/models/example/infer", "{\"id\":\"abc\",\"inputs\":[{\"name\":"
                + "\"float_input\",\"shape\":[3,26],\"datatype\":\"FP32\",\"data\":" + data + "}]}");
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
        InferenceResponse resp = V2Codec.decodeResponse(ByteBuffer.wrap(r.body()), -1);
        assertThat(resp.id()).isEqualTo("abc");
        assertThat(resp.modelName()).isEqualTo("example");
        assertThat(resp.modelVersion()).isEqualTo("1");
        float[] score = (float[]) resp.outputs().get(0).data();
        int[] prediction = (int[]) resp.outputs().get(1).data();
        for (int i = 0; i < 3; i++) {
            assertThat(score[i]).isCloseTo(expected[i], within(1e-5f));
            assertThat(prediction[i]).isEqualTo(score[i] >= 0.5f ? 1 : 0);
        }
        assertThat(resp.outputs().get(0).shape()).containsExactly(3L, 1L);
    }

    @Test
    void infersWithBinaryTensorsBothWays() {
        V2Message msg = V2Codec.encodeRequest(null, List.of(new InferInput("float_input", "FP32",
                List.of(300L, 26L), FloatMatrix.of(rows, 300, 26))), List.of("score"), true, true);
        HttpResponse<byte[]> r = f.send(HttpRequest.newBuilder(f.uri("/v2/models/example/infer"))
                .header("Content-Type", "application/octet-stream")
                .header(V2Codec.HEADER_LENGTH, Integer.toString(msg.headerLength()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(msg.toByteBuffer().array())));
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
        long header = Long.parseLong(r.headers().firstValue(V2Codec.HEADER_LENGTH).orElseThrow());
        InferenceResponse resp = V2Codec.decodeResponse(ByteBuffer.wrap(r.body()), header);
        assertThat(resp.outputs()).hasSize(1); // only what was asked for
        assertThat(resp.outputs().get(0).binary()).isTrue();
        float[] score = (float[]) resp.outputs().get(0).data();
        for (int i = 0; i < 300; i++) {
            assertThat(score[i]).isCloseTo(expected[i], within(1e-5f));
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "malformed JSON|{\"inputs\": [|400|malformed JSON",
            "shape and data disagree|{\"inputs\":[{\"name\":\"float_input\",\"shape\":[2,26],\"datatype\":\"FP32\",\"data\":[1,2]}]}|400|needs 52 values, data has 2",
            "wrong feature count|{\"inputs\":[{\"name\":\"float_input\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}|400|takes [rows, 26]",
            "wrong input name|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}|400|has input 'float_input', the request sent 'x'",
            "unknown output|{\"inputs\":[{\"name\":\"float_input\",\"shape\":[1,26],\"datatype\":\"FP32\",\"data\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}],\"outputs\":[{\"name\":\"nope\"}]}|400|no output 'nope'",
            "non-numeric datatype|{\"inputs\":[{\"name\":\"float_input\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"a\"]}]}|400|not numeric",
            "bad timeout|{\"parameters\":{\"timeout\":-5},\"inputs\":[{\"name\":\"float_input\",\"shape\":[1,26],\"datatype\":\"FP32\",\"data\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}|400|'timeout' must be",
    })
    void answersBadRequestsWithAJsonErrorNamingTheProblem(String what, String body, int status, String message) {
        HttpResponse<byte[]> r = f.post("/v2/models/example/infer", body);
        assertThat(r.statusCode()).as(what + ": " + text(r)).isEqualTo(status);
        assertThat(json(r).get("error").toString()).contains(message);
        assertThat(f.get("/v2/health/live").statusCode()).isEqualTo(200);
    }

    @Test
    void answersBinarySizeMismatchAndMissingHeaderWith400() {
        String head = "{\"inputs\":[{\"name\":\"float_input\",\"shape\":[1,26],\"datatype\":\"FP32\","
                + "\"parameters\":{\"binary_data_size\":104}}]}";
        byte[] h = head.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] body = new byte[h.length + 100]; // 4 bytes short
        System.arraycopy(h, 0, body, 0, h.length);
        HttpResponse<byte[]> r = f.send(HttpRequest.newBuilder(f.uri("/v2/models/example/infer"))
                .header(V2Codec.HEADER_LENGTH, Integer.toString(h.length))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(text(r)).contains("only 100 bytes follow");
        HttpResponse<byte[]> noHeader = f.send(HttpRequest.newBuilder(f.uri("/v2/models/example/infer"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
        assertThat(noHeader.statusCode()).isEqualTo(400);
    }

    @Test
    void answersWrongMethodUnknownModelAndContentType() {
        HttpResponse<byte[]> get = f.get("/v2/models/example/infer");
        assertThat(get.statusCode()).isEqualTo(405);
        assertThat(get.headers().firstValue("Allow")).contains("POST");
        assertThat(f.post("/v2/models/nope/infer", "{}").statusCode()).isEqualTo(404);
        HttpResponse<byte[]> xml = f.send(HttpRequest.newBuilder(f.uri("/v2/models/example/infer"))
                .header("Content-Type", "application/xml")
                .POST(HttpRequest.BodyPublishers.ofString("<a/>")));
        assertThat(xml.statusCode()).isEqualTo(415);
        assertThat(json(xml).get("error").toString()).contains("'application/xml'");
    }

    private String oneRow() {
        StringBuilder data = new StringBuilder();
        Json.write(data, java.util.Arrays.copyOf(rows, 26));
        return "{\"inputs\":[{\"name\":\"float_input\",\"shape\":[1,26],\"datatype\":\"FP32\",\"data\":" + data
                + "}]}";
    }

    @Test
    void item24_readsCurlsFormTypeAndAMissingContentTypeAsJson() {
        for (String type : new String[]{"application/x-www-form-urlencoded", null}) {
            HttpRequest.Builder b = HttpRequest.newBuilder(f.uri("/v2/models/example/infer"))
                    .POST(HttpRequest.BodyPublishers.ofString(oneRow()));
            if (type != null) {
                b.header("Content-Type", type);
            }
            HttpResponse<byte[]> r = f.send(b);
            assertThat(r.statusCode()).as(type + ": " + text(r)).isEqualTo(200);
            float score = ((float[]) V2Codec.decodeResponse(ByteBuffer.wrap(r.body()), -1).outputs().get(0).data())[0];
            assertThat(score).isCloseTo(expected[0], within(1e-5f));
        }
        // the seed endpoint's binary body would be mangled by curl -d, so it keeps refusing the form type
        HttpResponse<byte[]> seed = f.put("/models/example/score", new byte[104], "application/x-www-form-urlencoded");
        assertThat(seed.statusCode()).isEqualTo(415);
    }

    @Test
    void item24_answersBinaryDataWithoutTheHeaderLengthSayingWhatIsMissing() {
        V2Message msg = V2Codec.encodeRequest(null, List.of(new InferInput("float_input", "FP32",
                List.of(2L, 26L), FloatMatrix.of(java.util.Arrays.copyOf(rows, 52), 2, 26))), List.of(), true, false);
        HttpResponse<byte[]> r = f.send(HttpRequest.newBuilder(f.uri("/v2/models/example/infer"))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(msg.toByteBuffer().array())));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).get("error").toString()).contains("no " + V2Codec.HEADER_LENGTH + " header")
                .contains("208 bytes of binary data follow").doesNotContain("malformed JSON");
    }

    @Test
    void item24_answersBadParameterValuesWith400NamingThem() {
        HttpResponse<byte[]> r = f.post("/v2/models/example/infer", oneRow().replace("{\"inputs\"",
                "{\"parameters\":{\"binary_data_output\":\"yes\"},\"inputs\""));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).get("error").toString()).contains("'binary_data_output' must be true or false, got \"yes\"");
        HttpResponse<byte[]> shape = f.post("/v2/models/example/infer", oneRow().replace("[1,26]", "[-1,26]"));
        assertThat(shape.statusCode()).isEqualTo(400);
        assertThat(json(shape).get("error").toString()).contains("has dimension -1");
    }

    @Test
    void item24_loadEndpointRefusesABodyItCannotParse() {
        HttpResponse<byte[]> notJson = f.post("/v2/repository/models/forest/load", "load it please");
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(json(notJson).get("error").toString()).contains("malformed JSON");
        HttpResponse<byte[]> config = f.post("/v2/repository/models/forest/load",
                "{\"parameters\":{\"config\":\"{\\\"max_batch_size\\\":8}\"}}");
        assertThat(config.statusCode()).isEqualTo(400);
        assertThat(json(config).get("error").toString()).contains("parameter \"config\" is not supported");
        HttpResponse<byte[]> typed = f.post("/v2/repository/models/forest/load", "{\"parameters\":[]}");
        assertThat(typed.statusCode()).isEqualTo(400);
        assertThat(f.post("/v2/repository/models/forest/load", "{}").statusCode()).isEqualTo(200);
        assertThat(f.get("/v2/models/forest/ready").statusCode()).isEqualTo(200);
    }

    @Test
    void repositoryExtensionIndexesUnloadsAndLoads() {
        List<?> index = (List<?>) Json.parse(text(f.post("/v2/repository/index", "")));
        assertThat(index).hasSize(2);
        assertThat(f.post("/v2/repository/models/forest/unload", "").statusCode()).isEqualTo(200);
        assertThat(f.get("/v2/models/forest/ready").statusCode()).isEqualTo(404);
        assertThat(f.post("/v2/repository/models/forest/load", "").statusCode()).isEqualTo(200);
        assertThat(f.get("/v2/models/forest/ready").statusCode()).isEqualTo(200);
        HttpResponse<byte[]> missing = f.post("/v2/repository/models/ghost/load", "");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(text(missing)).contains("no files for model 'ghost'");
    }
}
