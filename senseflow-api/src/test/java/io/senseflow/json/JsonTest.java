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
}
