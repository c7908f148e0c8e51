package dev.scoreflow.server;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.InferInput;
import dev.scoreflow.api.InferOutput;
import dev.scoreflow.api.InferenceResponse;
import dev.scoreflow.api.Tensor;
import dev.scoreflow.api.V2Codec;
import dev.scoreflow.api.V2Message;
import dev.scoreflow.api.internal.Json;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.OnnxModel;
import dev.scoreflow.runtime.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.scoreflow.server.ServerFixture.text;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 7 item 22: every output of a model through the Open Inference Protocol, over a real socket, against
 * in-process ONNX Runtime: classifiers' labels and probabilities (tensor and ZipMap, int64 and string labels), a
 * regressor with outputs of every datatype, an embedding; a multiclass model without a score column.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class V2OutputsTest {
    private ServerFixture f;

    @BeforeAll
    void start() {
        f = new ServerFixture(r -> r.model("example", TestModels.example()).model("forest", TestModels.forest())
                .model("iris", TestModels.iris()).model("multiclass", TestModels.multiclass())
                .model("multitarget", TestModels.multitarget()).model("embedding", TestModels.embedding()), s -> { });
    }

    @AfterAll
    void stop() {
        f.close();
    }

    private static Map<?, ?> json(HttpResponse<byte[]> r) {
        return (Map<?, ?>) Json.parse(text(r));
    }

    private static Map<String, Tensor> inProcess(Path model, float[] rows, int features, List<String> outputs) {
        try (OnnxModel m = OnnxModel.load(model, ModelConfig.read(model.resolveSibling(ModelConfig.FILE_NAME),
                ModelConfig.defaults()), 1)) {
            return m.infer(FloatMatrix.of(rows, rows.length / features, features), new LinkedHashSet<>(outputs));
        }
    }

    /** POSTs an inference request for {@code outputs} (none: the default), in JSON or all binary. */
    private InferenceResponse infer(String model, String input, float[] rows, int features, List<String> outputs,
                                    boolean binary) {
        V2Message msg = V2Codec.encodeRequest(null, List.of(new InferInput(input, "FP32",
                List.of((long) rows.length / features, (long) features),
                FloatMatrix.of(rows, rows.length / features, features))), outputs, binary, binary);
        HttpRequest.Builder b = HttpRequest.newBuilder(f.uri("/v2/models/" + model + "/infer"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(msg.toByteBuffer().array()));
        if (binary) {
            b.header("Content-Type", "application/octet-stream")
                    .header(V2Codec.HEADER_LENGTH, Integer.toString(msg.headerLength()));
        } else {
            b.header("Content-Type", "application/json");
        }
        HttpResponse<byte[]> r = f.send(b);
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
        long header = r.headers().firstValue(V2Codec.HEADER_LENGTH).map(Long::parseLong).orElse(-1L);
        assertThat(header >= 0).as("binary answer").isEqualTo(binary);
        return V2Codec.decodeResponse(ByteBuffer.wrap(r.body()), header);
    }

    private static void assertOutput(String what, InferOutput got, Tensor expected, boolean binary) {
        assertThat(got.datatype()).as(what).isEqualTo(expected.datatype());
        assertThat(got.shape()).as(what).isEqualTo(expected.shape());
        assertThat(got.binary()).as(what).isEqualTo(binary);
        TestModels.assertSameValues(what, got.data(), expected.data());
    }

    @Test
    void item22_servesEveryOutputOfEveryModelEqualToInProcessOnnxRuntimeInJsonAndBinary() {
        Object[][] models = {
                {"iris", TestModels.iris(), "float_input", 4, List.of("output_label", "output_probability")},
                {"multiclass", TestModels.multiclass(), "float_input", 8, List.of("output_label",
                        "output_probability")},
                {"example", TestModels.example(), "float_input", 26, List.of("output_probability", "output_label")},
                {"forest", TestModels.forest(), "input", 20, List.of("output_label", "output_probability")},
                {"multitarget", TestModels.multitarget(), "input", 6, List.of("targets", "total", "total_fp64",
                        "positive", "bucket", "total_int64")},
                {"embedding", TestModels.embedding(), "features", 16, List.of("embedding")}};
        for (Object[] m : models) {
            String name = (String) m[0];
            Path file = (Path) m[1];
            int features = (int) m[3];
            @SuppressWarnings("unchecked")
            List<String> outputs = (List<String>) m[4];
            float[] rows = TestModels.sampleInput(file);
            Map<String, Tensor> expected = inProcess(file, rows, features, outputs);
            for (boolean binary : new boolean[]{false, true}) {
                InferenceResponse resp = infer(name, (String) m[2], rows, features, outputs, binary);
                assertThat(resp.outputs()).extracting(InferOutput::name).containsExactlyElementsOf(outputs);
                for (InferOutput o : resp.outputs()) {
                    assertOutput(name + " " + o.name() + (binary ? " binary" : " json"), o, expected.get(o.name()),
                            binary);
                    // and in-process ONNX Runtime is Python's onnxruntime (the files make_models.py wrote)
                    if (!name.equals("example") && !name.equals("forest")) {
                        TestModels.assertSameValues(name + " " + o.name() + " vs Python", o.data(),
                                TestModels.sampleOutput(file, o.name()));
                    }
                }
            }
        }
    }

    @Test
    void item22_answersAnyMixOfScorePredictionAndModelOutputsInTheOrderAsked() {
        float[] rows = TestModels.noisyRows(TestModels.example(), 40, 26, 22);
        float[] scores = TestModels.inProcessScores(TestModels.example(), rows, 26);
        Map<String, Tensor> expected = inProcess(TestModels.example(), rows, 26, List.of("output_probability",
                "output_label"));
        // binary for one output only: per-output binary_data overrides the request's default (JSON)
        StringBuilder data = new StringBuilder();
        Json.write(data, rows);
        HttpResponse<byte[]> r = f.post("/v2/models/example/infer", "{\"inputs\":[{\"name\":\"float_input\","
                + "\"shape\":[40,26],\"datatype\":\"FP32\",\"data\":" + data + "}],\"outputs\":[{\"name\":"
                + "\"output_probability\",\"parameters\":{\"binary_data\":true}},{\"name\":\"score\"},"
                + "{\"name\":\"output_label\"},{\"name\":\"prediction\"}]}");
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
        long header = Long.parseLong(r.headers().firstValue(V2Codec.HEADER_LENGTH).orElseThrow());
        InferenceResponse resp = V2Codec.decodeResponse(ByteBuffer.wrap(r.body()), header);
        assertThat(resp.outputs()).extracting(InferOutput::name)
                .containsExactly("output_probability", "score", "output_label", "prediction");
        assertOutput("output_probability", resp.outputs().get(0), expected.get("output_probability"), true);
        assertOutput("output_label", resp.outputs().get(2), expected.get("output_label"), false);
        float[] score = (float[]) resp.outputs().get(1).data();
        int[] prediction = (int[]) resp.outputs().get(3).data();
        float[] probability = (float[]) resp.outputs().get(0).data();
        long[] label = (long[]) resp.outputs().get(2).data();
        for (int i = 0; i < 40; i++) {
            assertThat(score[i]).as("row %d", i).isCloseTo(scores[i], org.assertj.core.api.Assertions.within(1e-5f));
            assertThat(score[i]).isEqualTo(probability[2 * i + 1]);
            assertThat(prediction[i]).isEqualTo(score[i] >= 0.5f ? 1 : 0);
            assertThat(label[i]).isEqualTo(probability[2 * i + 1] > probability[2 * i] ? 1L : 0L);
        }
        // the score of a ZipMap model read from its served tensor equals the fast path's
        float[] forestRows = Arrays.copyOf(TestModels.sampleInput(TestModels.forest()), 30 * 20);
        InferenceResponse forest = infer("forest", "input", forestRows, 20, List.of("score", "output_probability"),
                true);
        float[] fast = (float[]) infer("forest", "input", forestRows, 20, List.of("score"), true).outputs().get(0)
                .data();
        assertThat((float[]) forest.outputs().get(0).data()).containsExactly(fast);
        // the default stays score and prediction
        assertThat(infer("example", "float_input", Arrays.copyOf(rows, 26), 26, List.of(), false).outputs())
                .extracting(InferOutput::name).containsExactly("score", "prediction");
    }

    @Test
    void item22_listsEveryOutputWithDatatypeShapeAndClassLabelsInTheMetadata() {
        assertThat(json(f.get("/v2/models/iris")).get("outputs")).isEqualTo(List.of(
                Map.of("name", "output_label", "datatype", "BYTES", "shape", List.of(-1.0)),
                Map.of("name", "output_probability", "datatype", "FP32", "shape", List.of(-1.0, 3.0),
                        "parameters", Map.of("class_labels", "[\"setosa\",\"versicolor\",\"virginica\"]"))));
        assertThat(json(f.get("/v2/models/example")).get("outputs")).isEqualTo(List.of(
                Map.of("name", "score", "datatype", "FP32", "shape", List.of(-1.0, 1.0)),
                Map.of("name", "prediction", "datatype", "INT32", "shape", List.of(-1.0, 1.0)),
                Map.of("name", "output_label", "datatype", "INT64", "shape", List.of(-1.0)),
                Map.of("name", "output_probability", "datatype", "FP32", "shape", List.of(-1.0, 2.0))));
        assertThat(json(f.get("/v2/models/forest")).get("outputs")).isEqualTo(List.of(
                Map.of("name", "score", "datatype", "FP32", "shape", List.of(-1.0, 1.0)),
                Map.of("name", "output_label", "datatype", "INT64", "shape", List.of(-1.0)),
                Map.of("name", "output_probability", "datatype", "FP32", "shape", List.of(-1.0, 2.0),
                        "parameters", Map.of("class_labels", "[0,1]"))));
        assertThat((List<?>) json(f.get("/v2/models/multitarget")).get("outputs")).extracting(o -> ((Map<?, ?>) o)
                .get("name") + " " + ((Map<?, ?>) o).get("datatype") + " " + ((Map<?, ?>) o).get("shape"))
                .containsExactly("score FP32 [-1.0, 1.0]", "targets FP32 [-1.0, 2.0]", "total FP32 [-1.0, 1.0]",
                        "total_fp64 FP64 [-1.0, 1.0]", "positive BOOL [-1.0, 1.0]", "bucket INT32 [-1.0, 1.0]",
                        "total_int64 INT64 [-1.0, 1.0]");
        assertThat(json(f.get("/v2/models/embedding")).get("outputs")).isEqualTo(List.of(
                Map.of("name", "embedding", "datatype", "FP32", "shape", List.of(-1.0, 8.0))));
    }

    @Test
    void item22_servesAMulticlassModelWithoutAColumnThroughV2AndRefusesItsScoreWith400() {
        float[] rows = Arrays.copyOf(TestModels.sampleInput(TestModels.multiclass()), 10 * 8);
        // no outputs asked: a model without a score answers all its outputs
        InferenceResponse all = infer("multiclass", "float_input", rows, 8, List.of(), false);
        assertThat(all.outputs()).extracting(InferOutput::name).containsExactly("output_label",
                "output_probability");
        float[] python = (float[]) TestModels.sampleOutput(TestModels.multiclass(), "output_probability");
        TestModels.assertSameValues("probabilities", all.outputs().get(1).data(), Arrays.copyOf(python, 30));
        // the seed protocol has nothing to answer with: 400 saying what to set
        HttpResponse<byte[]> seed = f.put("/models/multiclass/score", ServerFixture.body(rows, 8), null);
        assertThat(seed.statusCode()).isEqualTo(400);
        assertThat(json(seed).get("error").toString()).contains("has no score").contains("\"column\"")
                .contains("model.json");
        HttpResponse<byte[]> score = f.post("/v2/models/multiclass/infer", "{\"inputs\":[{\"name\":\"float_input\","
                + "\"shape\":[1,8],\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6,7,8]}],\"outputs\":[{\"name\":\"score\"}]}");
        assertThat(score.statusCode()).isEqualTo(400);
        assertThat(json(score).get("error").toString())
                .contains("has no output 'score'; outputs: [output_label, output_probability]").contains("\"column\"");
    }

    @Test
    void item22_answersAnUnknownOutputWith400NamingTheAvailableOutputs() {
        HttpResponse<byte[]> r = f.post("/v2/models/example/infer", "{\"inputs\":[{\"name\":\"float_input\","
                + "\"shape\":[1,26],\"datatype\":\"FP32\",\"data\":" + Json.write(new float[26]) + "}],"
                + "\"outputs\":[{\"name\":\"output_label\"},{\"name\":\"probabilities\"}]}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).get("error").toString()).isEqualTo("model 'example' has no output 'probabilities';"
                + " outputs: [score, prediction, output_label, output_probability]");
    }

    @Test
    void item22_concurrentRequestsForDifferentOutputsEachGetTheirOwnRows() throws Exception {
        List<String> names = List.of("score", "targets", "total", "total_fp64", "positive", "bucket", "total_int64");
        Random r = new Random(2207);
        List<CompletableFuture<HttpResponse<byte[]>>> sent = new ArrayList<>();
        List<float[]> inputs = new ArrayList<>();
        List<List<String>> asked = new ArrayList<>();
        for (int i = 0; i < 48; i++) {
            int n = 1 + r.nextInt(60);
            float[] rows = TestModels.noisyRows(TestModels.multitarget(), n, 6, 1000 + i);
            List<String> outs = new ArrayList<>();
            for (String name : names) {
                if (r.nextInt(3) == 0) {
                    outs.add(name);
                }
            }
            boolean binary = r.nextBoolean();
            V2Message msg = V2Codec.encodeRequest("req-" + i, List.of(new InferInput("input", "FP32",
                    List.of((long) n, 6L), FloatMatrix.of(rows, n, 6))), outs, binary, binary);
            HttpRequest.Builder b = HttpRequest.newBuilder(f.uri("/v2/models/multitarget/infer"))
                    .timeout(java.time.Duration.ofSeconds(60))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(msg.toByteBuffer().array()));
            if (binary) {
                b.header(V2Codec.HEADER_LENGTH, Integer.toString(msg.headerLength()));
            }
            inputs.add(rows);
            asked.add(outs);
            sent.add(f.client.sendAsync(b.build(), HttpResponse.BodyHandlers.ofByteArray()));
        }
        for (int i = 0; i < sent.size(); i++) {
            HttpResponse<byte[]> resp = sent.get(i).get(60, TimeUnit.SECONDS);
            assertThat(resp.statusCode()).as(text(resp)).isEqualTo(200);
            long header = resp.headers().firstValue(V2Codec.HEADER_LENGTH).map(Long::parseLong).orElse(-1L);
            InferenceResponse decoded = V2Codec.decodeResponse(ByteBuffer.wrap(resp.body()), header);
            assertThat(decoded.id()).isEqualTo("req-" + i);
            List<String> outs = asked.get(i).isEmpty() ? List.of("score") : asked.get(i);
            assertThat(decoded.outputs()).extracting(InferOutput::name).containsExactlyElementsOf(outs);
            List<String> fromModel = new ArrayList<>(outs);
            fromModel.replaceAll(o -> o.equals("score") ? "total" : o);
            Map<String, Tensor> expected = inProcess(TestModels.multitarget(), inputs.get(i), 6,
                    new ArrayList<>(new LinkedHashSet<>(fromModel)));
            for (InferOutput o : decoded.outputs()) {
                Tensor e = expected.get(o.name().equals("score") ? "total" : o.name());
                assertThat(o.shape()).as("request %d %s", i, o.name()).isEqualTo(e.shape());
                TestModels.assertSameValues("request " + i + " " + o.name(), o.data(), e.data());
            }
        }
    }
}
