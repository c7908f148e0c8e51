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
            "strings in data|{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[\"a\"]}]}|expected numbers",
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

    private static InferenceRequest decode(String body) {
        return V2Codec.decodeRequest(ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), -1);
    }
}
