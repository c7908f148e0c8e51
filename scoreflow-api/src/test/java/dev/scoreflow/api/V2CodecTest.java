package dev.scoreflow.api;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class V2CodecTest {

    private static FloatMatrix random(int rows, int cols, long seed) {
        Random r = new Random(seed);
        float[] d = new float[rows * cols];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) r.nextGaussian();
        }
        return FloatMatrix.of(d, rows, cols);
    }

    @Property(tries = 100)
    void requestsRoundTripInJsonAndBinary(@ForAll @IntRange(min = 1, max = 30) int rows,
                                          @ForAll @IntRange(min = 1, max = 20) int cols,
                                          @ForAll boolean binary, @ForAll long seed) {
        FloatMatrix m = random(rows, cols, seed);
        V2Message msg = V2Codec.encodeRequest("req-1", List.of(new InferInput("x", "FP32",
                List.of((long) rows, (long) cols), m)), List.of("score"), binary, binary);
        InferenceRequest back = V2Codec.decodeRequest(msg.toByteBuffer(), msg.hasBinary() ? msg.headerLength() : -1);
        assertThat(back.id()).isEqualTo("req-1");
        assertThat(back.binaryDataOutput()).isEqualTo(binary);
        assertThat(back.outputs()).extracting(RequestedOutput::name).containsExactly("score");
        InferInput in = back.inputs().get(0);
        assertThat(in.shape()).containsExactly((long) rows, (long) cols);
        assertThat(in.data().toArray()).containsExactly(m.toArray());
    }

    @Property(tries = 100)
    void responsesRoundTrip(@ForAll @IntRange(min = 0, max = 50) int rows, @ForAll boolean binary,
                            @ForAll long seed) {
        float[] scores = random(rows, 1, seed).toArray();
        int[] labels = new int[rows];
        for (int i = 0; i < rows; i++) {
            labels[i] = scores[i] > 0 ? 1 : 0;
        }
        List<Long> shape = List.of((long) rows, 1L);
        V2Message msg = V2Codec.encodeResponse(new InferenceResponse("m", "3", null, List.of(
                new InferOutput("score", "FP32", shape, scores, binary),
                new InferOutput("prediction", "INT32", shape, labels, !binary))));
        InferenceResponse back = V2Codec.decodeResponse(msg.toByteBuffer(), msg.hasBinary() ? msg.headerLength() : -1);
        assertThat(back.modelName()).isEqualTo("m");
        assertThat(back.modelVersion()).isEqualTo("3");
        assertThat((float[]) back.outputs().get(0).data()).containsExactly(scores);
        assertThat((int[]) back.outputs().get(1).data()).containsExactly(labels);
    }

    @Test
    void acceptsNestedAndFlatJsonData() {
        String nested = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[[1,2],[3,4]]}]}";
        String flat = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"INT64\",\"data\":[1,2,3,4]}]}";
        for (String body : List.of(nested, flat)) {
            InferenceRequest r = decode(body);
            assertThat(r.inputs().get(0).data().toArray()).containsExactly(1, 2, 3, 4);
            assertThat(r.inputs().get(0).data().rows()).isEqualTo(2);
        }
    }

    @Test
    void readsAOneDimensionalShapeAsOneRow() {
        InferenceRequest r = decode("{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}");
        assertThat(r.inputs().get(0).data().rows()).isEqualTo(1);
        assertThat(r.inputs().get(0).data().cols()).isEqualTo(3);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "not json|{inputs|malformed JSON",
            "not an object|[1,2]|must be a JSON object",
            "no inputs|{}|has no 'inputs'",
            "empty inputs|{\"inputs\":[]}|'inputs' is empty",
            "input without name|{\"inputs\":[{\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}|has no 'name'",
            "negative dim|{\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}|non-negative integer",
            "shape not array|{\"inputs\":[{\"name\":\"x\",\"shape\":2,\"datatype\":\"FP32\",\"data\":[1,2]}]}|shape must be an array",
            "too few values|{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}|needs 4 values, data has 3",
            "too many values|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}|needs 2 values, data has 3",
            "strings in data|{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[\"a\"]}]}|expected a number",
            "bytes datatype|{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[1]}]}|is not numeric",
            "no data|{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\"}]}|neither data nor binary_data_size",
            "rank 3|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1],\"datatype\":\"FP32\",\"data\":[1]}]}|must be [rows, features]",
            "binary without header|{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":4}}]}|no Inference-Header-Content-Length",
    })
    void refusesMalformedRequestsNamingTheProblem(String what, String body, String message) {
        assertThatThrownBy(() -> decode(body)).as(what).isInstanceOf(BadInputException.class)
                .hasMessageContaining(message);
    }

    @Test
    void refusesBinaryDataThatDoesNotMatchTheDeclaredSizes() {
        String json = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\","
                + "\"parameters\":{\"binary_data_size\":8}}]}";
        byte[] head = json.getBytes(StandardCharsets.UTF_8);
        // 4 bytes short
        ByteBuffer shortBody = ByteBuffer.allocate(head.length + 4).put(head).putFloat(1f).flip();
        assertThatThrownBy(() -> V2Codec.decodeRequest(shortBody, head.length))
                .isInstanceOf(BadInputException.class).hasMessageContaining("only 4 bytes follow");
        // 4 bytes too many
        ByteBuffer longBody = ByteBuffer.allocate(head.length + 12).put(head).putLong(0).putFloat(1f).flip();
        assertThatThrownBy(() -> V2Codec.decodeRequest(longBody, head.length))
                .isInstanceOf(BadInputException.class).hasMessageContaining("declare 8 bytes of binary data but 12");
        // header length past the body
        assertThatThrownBy(() -> V2Codec.decodeRequest(ByteBuffer.wrap(head), head.length + 1))
                .isInstanceOf(BadInputException.class).hasMessageContaining("body has only");
        // size that does not match the shape
        String wrong = json.replace("\"binary_data_size\":8", "\"binary_data_size\":12");
        byte[] h2 = wrong.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b2 = ByteBuffer.allocate(h2.length + 12).put(h2).put(new byte[12]).flip();
        assertThatThrownBy(() -> V2Codec.decodeRequest(b2, h2.length))
                .isInstanceOf(BadInputException.class).hasMessageContaining("needs 8 bytes of FP32");
        // FP64 binary
        String fp64 = json.replace("FP32", "FP64");
        byte[] h3 = fp64.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b3 = ByteBuffer.allocate(h3.length + 8).put(h3).put(new byte[8]).flip();
        assertThatThrownBy(() -> V2Codec.decodeRequest(b3, h3.length))
                .isInstanceOf(BadInputException.class).hasMessageContaining("binary data must be FP32");
    }

    @Test
    void readsBinaryTensorsAfterTheJsonLittleEndian() {
        String json = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\","
                + "\"parameters\":{\"binary_data_size\":8}}]}";
        byte[] head = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer body = ByteBuffer.allocate(head.length + 8).order(ByteOrder.LITTLE_ENDIAN)
                .put(head).putFloat(1.5f).putFloat(-2f).flip();
        InferenceRequest r = V2Codec.decodeRequest(body, head.length);
        assertThat(r.inputs().get(0).data().toArray()).containsExactly(1.5f, -2f);
    }

    @Test
    void refusesRawBinaryRequests() {
        assertThatThrownBy(() -> V2Codec.decodeRequest(ByteBuffer.allocate(8), 0))
                .isInstanceOf(BadInputException.class).hasMessageContaining("raw binary requests");
    }

    @Test
    void item24_binaryDataSizeWithoutTheHeaderSaysTheHeaderIsMissing() {
        String json = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\","
                + "\"parameters\":{\"binary_data_size\":8}}]}";
        byte[] head = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer body = ByteBuffer.allocate(head.length + 8).order(ByteOrder.LITTLE_ENDIAN)
                .put(head).putFloat(1.5f).putFloat(-2f).flip();
        assertThatThrownBy(() -> V2Codec.decodeRequest(body, -1)).isInstanceOf(BadInputException.class)
                .hasMessageContaining("no Inference-Header-Content-Length header")
                .hasMessageContaining("JSON ends at byte " + head.length + " and 8 bytes")
                .hasMessageNotContaining("malformed JSON");
        // trailing bytes after JSON that declares no binary data stay a JSON error
        ByteBuffer junk = ByteBuffer.wrap((json.replace("\"parameters\":{\"binary_data_size\":8}",
                "\"data\":[1,2]") + "xyz").getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> V2Codec.decodeRequest(junk, -1)).isInstanceOf(BadInputException.class)
                .hasMessageContaining("malformed JSON");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "binary_data_output string|{\"parameters\":{\"binary_data_output\":\"yes\"},\"inputs\":[X]}|parameter 'binary_data_output' must be true or false, got \"yes\"",
            "timeout zero|{\"parameters\":{\"timeout\":0},\"inputs\":[X]}|parameter 'timeout' must be a positive integer of microseconds, got 0",
            "timeout string|{\"parameters\":{\"timeout\":\"10\"},\"inputs\":[X]}|parameter 'timeout' must be a positive integer of microseconds, got \"10\"",
            "priority fraction|{\"parameters\":{\"priority\":1.5},\"inputs\":[X]}|parameter 'priority' must be a non-negative integer, got 1.5",
            "null parameter|{\"parameters\":{\"foo\":null},\"inputs\":[X]}|parameter \"foo\" must be a string, number or boolean, got null",
            "binary_data number|{\"inputs\":[X],\"outputs\":[{\"name\":\"score\",\"parameters\":{\"binary_data\":1}}]}|output 'score': parameter 'binary_data' must be true or false, got 1",
            "output twice|{\"inputs\":[X],\"outputs\":[{\"name\":\"score\"},{\"name\":\"score\"}]}|output 'score' is asked for twice",
            "classification|{\"inputs\":[X],\"outputs\":[{\"name\":\"score\",\"parameters\":{\"classification\":2}}]}|parameter 'classification' is not supported",
            "shared memory|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"parameters\":{\"shared_memory_region\":\"r\"}}]}|parameter 'shared_memory_region' is not supported",
            "binary_data_size fraction|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":7.5}}]}|input 'x': parameter 'binary_data_size' must be a non-negative integer, got 7.5",
            "binary_data_size string|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":\"8\"}}]}|parameter 'binary_data_size' must be a non-negative integer, got \"8\"",
            "unknown datatype|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FLOAT32\",\"data\":[1,2]}]}|unknown datatype \"FLOAT32\"",
            "negative shape|{\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}|shape [-1,2] has dimension -1",
            "fractional shape|{\"inputs\":[{\"name\":\"x\",\"shape\":[1.5,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}|has dimension 1.5",
            "shape and data|{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}|shape [2, 2] needs 4 values, data has 3",
            "nesting and shape|{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[[1,2,3],[4]]}]}|nested data does not match shape [2, 2]",
            "half nested|{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[[1,2],3,4]}]}|nested data does not match shape [2, 2]",
            "fraction in INT64|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"INT64\",\"data\":[1,2.5]}]}|data[1] is 2.5, not a INT64 value",
            "UINT8 overflow|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"UINT8\",\"data\":[1,256]}]}|data[1] is 256, not a UINT8 value",
            "null in data|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,null]}]}|data[1] is null, expected a number (JSON has no NaN",
            "boolean in data|{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,true]}]}|data[1] is true, expected a number",
    })
    void item24_refusesBadParameterValuesNamingTheParameterAndTheValue(String what, String body, String message) {
        String input = "{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]}";
        assertThatThrownBy(() -> decode(body.replace("X", input))).as(what).isInstanceOf(BadInputException.class)
                .hasMessageContaining(message);
    }

    @Test
    void item24_acceptsWellTypedParameters() {
        InferenceRequest r = decode("{\"parameters\":{\"binary_data_output\":true,\"timeout\":5000,\"priority\":0,"
                + "\"custom\":\"kept\"},\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"UINT8\","
                + "\"data\":[[0,1],[254,255]]}],\"outputs\":[{\"name\":\"score\",\"parameters\":{\"binary_data\":false}}]}");
        assertThat(r.binaryDataOutput()).isTrue();
        assertThat(r.parameters()).containsEntry("custom", "kept").containsEntry("timeout", 5000.0);
        assertThat(r.inputs().get(0).data().toArray()).containsExactly(0, 1, 254, 255);
        assertThat(r.outputs()).containsExactly(new RequestedOutput("score", false));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', value = {
            "not json|nope|malformed JSON at byte",
            "an array|[1]|the load request must be a JSON object, got an array",
            "unknown key|{\"config\":{}}|unknown key \"config\"",
            "parameters not an object|{\"parameters\":5}|'parameters' must be an object, got a number",
            "ill-typed parameter|{\"parameters\":{\"x\":[1]}}|parameter \"x\" must be a string, number or boolean, got [1]",
            "config parameter|{\"parameters\":{\"config\":\"{}\"}}|parameter \"config\" is not supported (Scoreflow reads",
            "file parameter|{\"parameters\":{\"file:1/model.onnx\":\"AAAA\"}}|parameter \"file:1/model.onnx\" is not supported",
    })
    void item24_refusesLoadRequestBodiesItCannotHonour(String what, String body, String message) {
        assertThatThrownBy(() -> V2Codec.decodeLoadRequest(ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8))))
                .as(what).isInstanceOf(BadInputException.class).hasMessageContaining(message);
    }

    @Test
    void item24_acceptsEmptyLoadRequestBodies() {
        for (String body : List.of("", " \n", "{}", "{\"parameters\":{}}")) {
            assertThat(V2Codec.decodeLoadRequest(ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8))))
                    .as(body).isEmpty();
        }
    }

    private static InferenceRequest decode(String body) {
        return V2Codec.decodeRequest(ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), -1);
    }
}
