package io.senseflow.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    @SuppressWarnings("unchecked")
    void parsesAndWritesRoundTrip() {
        String text = "{\"a\": 1, \"b\": [1.5, -2e-3, true, null], \"c\": {\"d\": \"x\\\"y\\u00e9\"}, \"e\": 12345678901234567890}";
        Object v = Json.parse(text);
        assertThat(v).isInstanceOf(Map.class);
        Map<?, ?> m = (Map<?, ?>) v;
        assertThat(m.get("a")).isEqualTo(1L);
        assertThat((List<Object>) m.get("b")).containsExactly(1.5, -2e-3, true, null);
        assertThat(((Map<?, ?>) m.get("c")).get("d")).isEqualTo("x\"yé");
        assertThat(m.get("e")).isEqualTo(new java.math.BigInteger("12345678901234567890"));
        assertThat(Json.parse(Json.write(v))).isEqualTo(v);
        assertThat(Json.parse(Json.writePretty(v))).isEqualTo(v);
        assertThat(Json.write(1e-6)).isEqualTo("1.0E-6");
        assertThat(Json.write(3.0)).isEqualTo("3.0");
    }

    @Test
    void rejectsMalformedInputWithAPosition() {
        for (String bad : new String[] {"", "{", "{\"a\":1,}", "[1,]", "{\"a\":1 \"b\":2}", "{'a':1}", "01", "1.", "-",
                "{\"a\":1}{", "\"abc", "tru", "{\"a\":1,\"a\":2}", "[1e400]", "\"\\x\"", "NaN"}) {
            assertThatThrownBy(() -> Json.parse(bad)).as(bad).isInstanceOf(JsonException.class);
        }
        assertThatThrownBy(() -> Json.parse("{\n  \"a\": ]")).hasMessageContaining("line 2");
        assertThatThrownBy(() -> Json.parse("[".repeat(300) + "]".repeat(300))).hasMessageContaining("nesting");
    }

    @Test
    void typedAccessNamesThePath() {
        JsonObject o = Json.parseObject("{\"isg\": {\"margin\": \"x\", \"w\": 1}}");
        assertThatThrownBy(() -> o.getObject("isg").getInt("margin")).hasMessage("isg.margin: expected an integer, got \"x\"");
        assertThatThrownBy(() -> o.getObject("isg").getInt("nope")).hasMessage("isg.nope: required field is missing");
        assertThatThrownBy(() -> o.getObject("isg").requireOnly(java.util.Set.of("margin"))).hasMessageContaining("isg.w: unknown field");
        assertThat(o.getObject("isg").getDouble("w")).isEqualTo(1.0);
    }

    @Test
    void prettyLayoutIsStable() {
        Map<String, Object> v = new java.util.LinkedHashMap<>();
        v.put("name", "tab\there \"q\" \u0001");
        v.put("shape", new long[] {2, 3});
        v.put("rows", List.of(Map.of("x", 1.5), List.of()));
        v.put("empty", Map.of());
        v.put("big", 1e15);
        assertThat(Json.writePretty(v)).isEqualTo("{\n  \"name\": \"tab\\there \\\"q\\\" \\u0001\",\n  \"shape\": [2, 3],\n"
                + "  \"rows\": [\n    {\n      \"x\": 1.5\n    },\n    []\n  ],\n  \"empty\": {},\n  \"big\": 1.0E15\n}\n");
        assertThat(Json.write(v)).isEqualTo("{\"name\":\"tab\\there \\\"q\\\" \\u0001\",\"shape\":[2,3],"
                + "\"rows\":[{\"x\":1.5},[]],\"empty\":{},\"big\":1.0E15}");
    }

    @Test
    void errorsSayWhatAndWhere() {
        assertThatThrownBy(() -> Json.parse("{\"a\": 1,\n \"a\": 2}")).isInstanceOf(JsonException.class)
                .hasMessageContaining("duplicate key \"a\"").hasMessageContaining("line 2");
        assertThatThrownBy(() -> Json.parse("[1, 2,]")).hasMessageContaining("line 1, column");
        assertThatThrownBy(() -> Json.parseObject("[1]")).hasMessageContaining("expected a JSON object");
    }
}
