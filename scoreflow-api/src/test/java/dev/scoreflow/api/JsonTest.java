package dev.scoreflow.api;

import dev.scoreflow.api.internal.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JsonTest {

    @Test
    void parsesNestedValues() {
        Map<?, ?> v = (Map<?, ?>) Json.parse(
                "{\"a\": [1, 2.5, -3e2], \"b\": {\"c\": \"x\\\"y\\u0041\"}, \"d\": true, \"e\": null}");
        assertThat(v.get("a")).isEqualTo(List.of(1.0, 2.5, -300.0));
        assertThat(v.get("b")).isEqualTo(Map.of("c", "x\"yA"));
        assertThat(v.get("d")).isEqualTo(true);
        assertThat(v.containsKey("e")).isTrue();
        assertThat(v.get("e")).isNull();
    }

    @Test
    void writesWhatItReads() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("s", "tab\tquote\"");
        m.put("n", 42L);
        m.put("l", List.of(1.5, "x", false));
        String text = Json.write(m);
        assertThat(Json.parse(text)).isEqualTo(Map.of("s", "tab\tquote\"", "n", 42.0, "l", List.of(1.5, "x", false)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "tru", "01x", "\"open", "{\"a\":1} x",
            "[1 2]", "+1", "1."})
    void refusesMalformedJsonNamingTheOffset(String text) {
        assertThatThrownBy(() -> Json.parse(text))
                .isInstanceOf(BadInputException.class)
                .hasMessageStartingWith("malformed JSON at byte");
    }

    @Test
    void writesLoneSurrogatesEscapedSoTheyReadBack() {
        String s = "a\ud800b\udc00\ud83d\ude00\ud800";
        String text = Json.write(s);
        assertThat(text).isEqualTo("\"a\\ud800b\\udc00\ud83d\ude00\\ud800\"");
        assertThat(Json.parse(text)).isEqualTo(s);
    }

    @Test
    void parsesAValueAtTheStartAndSaysWhereItEnds() {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap("{\"a\":[1]} \u0001\u0002".getBytes(
                java.nio.charset.StandardCharsets.UTF_8));
        assertThat(Json.parsePrefix(b)).isEqualTo(Map.of("a", List.of(1.0)));
        assertThat(b.position()).isEqualTo(10);
    }

    @Test
    void refusesDeepNestingInsteadOfOverflowingTheStack() {
        String deep = "[".repeat(10_000) + "]".repeat(10_000);
        assertThatThrownBy(() -> Json.parse(deep)).isInstanceOf(BadInputException.class)
                .hasMessageContaining("nesting deeper");
    }
}
