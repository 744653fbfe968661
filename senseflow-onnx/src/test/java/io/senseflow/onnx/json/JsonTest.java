package io.senseflow.onnx.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonTest {

    @Test
    void parsesEveryKindOfValue() {
        JsonObject o = Json.parse(" {\"a\": [1, -2.5e3, true, false, null, \"x\"], \"b\": {}, \"c\": []}\n").asObject();
        assertThat(o.names()).containsExactly("a", "b", "c");
        JsonArray a = o.getArray("a");
        assertThat(a.get(0).asLong()).isEqualTo(1);
        assertThat(a.get(1).asDouble()).isEqualTo(-2500.0);
        assertThat(a.get(2).asBoolean()).isTrue();
        assertThat(a.get(3).asBoolean()).isFalse();
        assertThat(a.get(4).isNull()).isTrue();
        assertThat(a.get(5).asString()).isEqualTo("x");
        assertThat(o.getObject("b").size()).isZero();
        assertThat(o.getArray("c").size()).isZero();
    }

    @Test
    void writesCompactAndPrettyTextThatParsesBack() {
        JsonObject o = JsonObject.builder()
                .put("name", "w\"eird\\\n\t\u0001é😀")
                .put("n", 12345678901234L)
                .put("x", 0.25)
                .put("list", JsonArray.ofLongs(1, 2, 3))
                .put("empty", JsonObject.builder().build())
                .put("flag", true)
                .put("nothing", JsonNull.INSTANCE)
                .build();
        String compact = Json.write(o);
        assertThat(compact).startsWith("{\"name\":\"w\\\"eird\\\\\\n\\t\\u0001é😀\",\"n\":12345678901234,\"x\":0.25,");
        assertThat(Json.parse(compact)).isEqualTo(o);
        String pretty = Json.writePretty(o);
        assertThat(pretty).contains("\n  \"list\": [\n    1,");
        assertThat(Json.parse(pretty)).isEqualTo(o);
        // member order survives
        assertThat(Json.parse(compact).asObject().names()).containsExactly("name", "n", "x", "list", "empty", "flag", "nothing");
    }

    @Test
    void keepsIntegerTextExactly() {
        JsonValue v = Json.parse("[9007199254740993, 123456789012345678901234567890, 1E2, 1.50]");
        JsonArray a = v.asArray();
        assertThat(a.get(0).asLong()).isEqualTo(9007199254740993L);
        assertThat(Json.write(v)).isEqualTo("[9007199254740993,123456789012345678901234567890,1E2,1.50]");
        assertThatThrownBy(() -> a.get(1).asLong()).isInstanceOf(JsonException.class).hasMessageContaining("64-bit");
        assertThat(a.get(2).asLong()).isEqualTo(100);
        assertThatThrownBy(() -> a.get(3).asLong()).isInstanceOf(JsonException.class).hasMessageContaining("integer");
        assertThat(a.get(3).asNumber()).isEqualTo(JsonNumber.of(1.5));
    }

    @Test
    void hugeExponentsAreRejectedCheaply() {
        JsonNumber n = Json.parse("1e999999999").asNumber();
        assertThatThrownBy(n::longValueExact).isInstanceOf(JsonException.class);
        assertThatThrownBy(n::doubleValue).isInstanceOf(JsonException.class);
        assertThat(Json.parse("1e-999999999").asNumber().doubleValue()).isZero();
    }

    @Test
    void decodesEscapesAndSurrogatePairs() {
        assertThat(Json.parse("\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\r\"").asString()).isEqualTo("é😀/\b\f\r");
        assertThat(Json.parse("\"\\u00E9\"").asString()).isEqualTo("é");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{'a':1}", "{a:1}", "[01]", "[-]", "[1.]", "[.5]", "[1e]", "NaN",
        "[Infinity]", "tru", "nul", "\"abc", "\"a\u0001b\"", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\ud800\"",
        "\"\\ude00\"", "\"\\ud800\\u0041\"", "[1 2]", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "1 2", "[] []",
        "// c\n1", "/* c */ 1", "{\"a\":1,\"a\":2}", "\"\\u٣٣٣٣\"", "+1", "[1]x"
    })
    void rejectsInvalidText(String text) {
        assertThatThrownBy(() -> Json.parse(text)).isInstanceOf(JsonException.class).hasMessageContaining("invalid JSON");
    }

    @Test
    void errorsSayWhere() {
        assertThatThrownBy(() -> Json.parse("{\n  \"a\": [1,\n  2,,\n]}"))
                .isInstanceOf(JsonException.class)
                .hasMessageContaining("line 3, column 5");
        assertThatThrownBy(() -> Json.parse("{\"a\":1,\"a\":2}")).hasMessageContaining("duplicate member name \"a\"");
    }

    @Test
    void rejectsInvalidUtf8() {
        byte[] bad = {'"', (byte) 0xc3, '"'};
        assertThatThrownBy(() -> Json.parse(bad)).isInstanceOf(JsonException.class).hasMessageContaining("UTF-8");
        assertThat(Json.parse("\"é\"".getBytes(StandardCharsets.UTF_8)).asString()).isEqualTo("é");
    }

    @Test
    void limitsNestingInsteadOfOverflowingTheStack() {
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        assertThatThrownBy(() -> Json.parse(deep)).isInstanceOf(JsonException.class).hasMessageContaining("nesting");
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertThat(Json.parse(ok).kind()).isEqualTo("array");
    }

    @Test
    void typedAccessorsNameTheMemberAndTheKind() {
        JsonObject o = Json.parse("{\"dtype\": 3, \"shape\": [1, \"x\"]}").asObject();
        assertThatThrownBy(() -> o.getString("dtype")).hasMessage("member \"dtype\": expected a string, got number 3");
        assertThatThrownBy(() -> o.getString("missing")).hasMessage("missing member \"missing\"");
        assertThatThrownBy(() -> o.getArray("shape").toLongArray()).hasMessageContaining("element 1: expected a number, got string \"x\"");
        assertThat(o.getString("missing", "dflt")).isEqualTo("dflt");
        assertThat(o.getLong("missing", 7)).isEqualTo(7);
        assertThat(o.getLong("dtype")).isEqualTo(3);
        assertThat(o.getBoolean("missing", true)).isTrue();
    }

    @Test
    void valuesHaveValueEquality() {
        assertThat(Json.parse("{\"a\":1,\"b\":[true]}")).isEqualTo(Json.parse("{\"b\":[true],\"a\":1.0}"));
        assertThat(Json.parse("1.0").hashCode()).isEqualTo(Json.parse("1").hashCode());
        assertThat(Json.parse("[1]")).isNotEqualTo(Json.parse("[2]"));
        assertThat(JsonNumber.of(3.0).text()).isEqualTo("3");
        assertThatThrownBy(() -> JsonNumber.of(Double.NaN)).isInstanceOf(JsonException.class);
        assertThatThrownBy(() -> JsonObject.builder().put("a", 1).put("a", 2)).isInstanceOf(JsonException.class);
    }
}
