package io.senseflow.onnx.ir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GraphBuilderTest {

    @Test
    @SuppressWarnings("try") // the scopes are used for their effect, not referenced
    void namesFollowPyTorchConventions() {
        GraphBuilder g = GraphBuilder.create("names");
        String x = g.input("x", DataType.FLOAT, Dim.of(2));
        String a = g.relu(x);
        String b = g.relu(a);
        String w;
        String c;
        try (GraphBuilder.Scope blocks = g.scope("blocks.0")) {
            try (GraphBuilder.Scope attn = g.scope("attn")) {
                w = g.initializer("qkv.weight", new float[] {1, 2}, 2);
                c = g.mul(b, w);
                assertThat(g.parameterName("bias")).isEqualTo("blocks.0.attn.bias");
            }
        }
        String d = g.mul(c, w);
        assertThat(a).isEqualTo("/Relu_output_0");
        assertThat(b).isEqualTo("/Relu_1_output_0");
        assertThat(w).isEqualTo("blocks.0.attn.qkv.weight");
        assertThat(c).isEqualTo("/blocks.0/attn/Mul_output_0");
        assertThat(d).isEqualTo("/Mul_output_0");
        g.output(d, DataType.FLOAT, Dim.of(2));
        OnnxModel m = g.build();
        assertThat(m.graph().nodes()).extracting(OnnxNode::name)
                .containsExactly("/Relu", "/Relu_1", "/blocks.0/attn/Mul", "/Mul");
        assertThat(m.opsetVersion("")).hasValue(17);
        assertThat(m.irVersion()).isEqualTo(8);
        assertThat(m.producerName()).isEqualTo("senseflow-java");
    }

    @Test
    void generatedNamesAvoidNamesAlreadyTaken() {
        GraphBuilder g = GraphBuilder.create("collisions");
        String x = g.input("/Relu_output_0", DataType.FLOAT, Dim.of(1)); // a user name that looks generated
        String r = g.relu(x);
        assertThat(r).isEqualTo("/Relu_1_output_0");
        String mask = g.uniqueName("mask");
        String mask2 = g.uniqueName("mask");
        assertThat(mask).isEqualTo("/mask");
        assertThat(mask2).isEqualTo("/mask_1");
        assertThat(g.op("Identity").input(r).output(mask)).isEqualTo(mask);
        assertThatThrownBy(() -> g.op("Identity").input(r).output(mask)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("already used");
        String named = g.op("Neg").name("my_neg").input(r).output("negated");
        assertThat(named).isEqualTo("negated");
        assertThatThrownBy(() -> g.op("Neg").name("my_neg").input(r).output())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("node name \"my_neg\"");
    }

    @Test
    void mistakesFailEarlyWithTheNameInTheMessage() {
        GraphBuilder g = GraphBuilder.create("mistakes");
        String x = g.input("x", DataType.FLOAT, Dim.of(2));
        assertThatThrownBy(() -> g.add(x, "typo")).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("Add input 1 \"typo\" is not defined in graph mistakes");
        assertThatThrownBy(() -> g.input("x", DataType.FLOAT)).hasMessageContaining("\"x\" is already used");
        g.initializer("w", new float[] {1}, 1);
        assertThatThrownBy(() -> g.initializer("w", new float[] {1}, 1)).hasMessageContaining("\"w\" is already used");
        assertThatThrownBy(() -> g.output("nothing", DataType.FLOAT)).hasMessageContaining("graph output \"nothing\" is not defined");
        assertThatThrownBy(g::build).isInstanceOf(InvalidRequestException.class).hasMessageContaining("no outputs");
        assertThatThrownBy(() -> g.op("Relu").input(x).attr("a", 1L).attr("a", 2L)).hasMessageContaining("set twice");
        GraphBuilder.NodeBuilder n = g.op("Relu").input(x);
        n.output();
        assertThatThrownBy(n::output).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> GraphBuilder.create("old", 12)).isInstanceOf(InvalidRequestException.class);
        GraphBuilder old = GraphBuilder.create("old", 13);
        String y = old.input("y", DataType.FLOAT, Dim.of(2));
        assertThatThrownBy(() -> old.layerNormalization(y, y, null, -1, 1e-5f))
                .hasMessage("LayerNormalization needs opset 17 or later; this graph uses opset 13");
        assertThatThrownBy(() -> g.slice(x, new long[] {0}, new long[] {1, 2}, null, null)).hasMessageContaining("same length");
        assertThatThrownBy(() -> g.importOpset("", 18)).hasMessageContaining("fixed at creation");
        assertThatThrownBy(() -> g.metadata("k", "v").metadata("k", "w")).hasMessageContaining("already set");
    }

    @Test
    void inScopeClosesTheScopeEvenOnFailure() {
        GraphBuilder g = GraphBuilder.create("lambda");
        String x = g.input("x", DataType.FLOAT);
        String y = g.inScope("outer", () -> g.inScope("inner", () -> g.neg(x)));
        assertThat(y).isEqualTo("/outer/inner/Neg_output_0");
        assertThatThrownBy(() -> g.inScope("failing", () -> g.neg("missing"))).isInstanceOf(InvalidRequestException.class);
        assertThat(g.neg(x)).isEqualTo("/Neg_output_0");
    }

    @Test
    void scopesCloseInnermostFirst() {
        GraphBuilder g = GraphBuilder.create("scopes");
        GraphBuilder.Scope outer = g.scope("outer");
        g.scope("inner");
        assertThatThrownBy(outer::close).isInstanceOf(IllegalStateException.class).hasMessageContaining("out of order");
        assertThatThrownBy(() -> g.scope("a/b")).isInstanceOf(InvalidRequestException.class);
        String x = g.input("x", DataType.FLOAT);
        g.output(x, DataType.FLOAT);
        assertThatThrownBy(g::build).isInstanceOf(IllegalStateException.class).hasMessageContaining("open scopes");
    }

    @Test
    void subgraphsSeeOuterValuesButNotTheOtherWayRound() {
        GraphBuilder g = GraphBuilder.create("outer");
        String x = g.input("x", DataType.FLOAT, Dim.of(1));
        GraphBuilder body = g.subgraph("body");
        String inner = body.neg(x);
        body.output(inner, DataType.FLOAT, Dim.of(1));
        assertThatThrownBy(() -> g.relu(inner)).isInstanceOf(InvalidRequestException.class).hasMessageContaining("not defined");
        assertThatThrownBy(body::build).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> body.metadata("k", "v")).isInstanceOf(IllegalStateException.class);
        // names are shared, so the subgraph's node did not take the outer graph's next name
        assertThat(g.neg(x)).isEqualTo("/Neg_1_output_0");
        assertThat(body.buildGraph().nodes().get(0).name()).isEqualTo("/Neg");
    }

    @Test
    void modelSettingsAreRecorded() {
        GraphBuilder g = GraphBuilder.create("settings", 18).producer("me", "9").modelVersion("org.example", 4)
                .metadata("b", "2").metadata("a", "1").importOpset("com.microsoft", 1).irVersion(9).docString("doc");
        String x = g.input("x", DataType.FLOAT);
        g.output(x, DataType.FLOAT);
        OnnxModel m = g.build();
        assertThat(m.metadata().keySet()).containsExactly("b", "a");
        assertThat(m.opsetImports()).containsExactly(new OpsetImport("", 18), new OpsetImport("com.microsoft", 1));
        assertThat(m.irVersion()).isEqualTo(9);
        assertThat(m.producerVersion()).isEqualTo("9");
        assertThat(m.domain()).isEqualTo("org.example");
        assertThat(m.docString()).isEqualTo("doc");
        assertThat(m.graph().docString()).isEqualTo("doc");
        assertThatThrownBy(g::build).isInstanceOf(IllegalStateException.class);
        // a graph output that is directly a graph input runs in ORT
        assertThat(Ort.run(m.withGraph(m.graph()), Map.of("x", Ort.In.floats(new float[] {3f})))).isNotEmpty();
    }

    @Test
    void theExampleInDocsOnnxMdRuns() {
        float[] weights = OrtExecutionTest.random(1, 12);
        float[] bias = OrtExecutionTest.random(2, 3);
        // as in docs/onnx.md
        GraphBuilder g = GraphBuilder.create("classifier");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(4));
        String h = g.inScope("fc", () -> g.gemm(x,
                g.initializer("weight", weights, 3, 4),
                g.initializer("bias", bias, 3), 1f, 1f, false, true));
        String probs = g.softmax(h, -1);
        g.output(probs, "probs", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        g.metadata("senseflow.architecture", "classifier");
        OnnxModel model = g.build();

        assertThat(model.graph().initializers()).extracting(TensorValue::name).containsExactly("fc.weight", "fc.bias");
        float[] p = Ort.run(model, Map.of("x", Ort.In.floats(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 2, 4))).get("probs").floats();
        assertThat(p[0] + p[1] + p[2]).isCloseTo(1f, org.assertj.core.api.Assertions.within(1e-6f));

        // the generic node builder, for operators without a helper (here: nearest-neighbour upsampling)
        GraphBuilder r = GraphBuilder.create("upsample");
        String img = r.input("img", DataType.FLOAT, Dim.of(1), Dim.of(1), Dim.of(2), Dim.of(2));
        String up = r.op("Resize").input(img, "", r.floatVector(1, 1, 2, 2)).attr("mode", "nearest").output();
        r.output(up, "up", DataType.FLOAT, Dim.of(1), Dim.of(1), Dim.of(4), Dim.of(4));
        Ort.Out out = Ort.run(r.build(), Map.of("img", Ort.In.floats(new float[] {1, 2, 3, 4}, 1, 1, 2, 2))).get("up");
        assertThat(out.shape()).containsExactly(1, 1, 4, 4);
        assertThat(out.floats()).containsExactly(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4);
    }

    @Test
    void constantsAreNodesAndInitializersAreParameters() {
        GraphBuilder g = GraphBuilder.create("consts");
        String x = g.input("x", DataType.FLOAT, Dim.of(2));
        String y = g.mul(g.add(x, g.floatScalar(1f)), g.initializer("scale", new float[] {2, 3}, 2));
        String shaped = g.reshape(y, 1, 2);
        g.output(g.cast(g.add(g.cast(shaped, DataType.INT64), g.longScalar(1)), DataType.FLOAT), "out", DataType.FLOAT,
                Dim.of(1), Dim.of(2));
        OnnxModel m = g.build();
        assertThat(m.graph().initializers()).extracting(TensorValue::name).containsExactly("scale");
        assertThat(m.graph().nodes("Constant")).hasSize(3);
        assertThat(m.graph().nodes("Constant").get(1).attribute("value").orElseThrow().tensorValue().toLongs())
                .containsExactly(1, 2);
        assertThat(Ort.run(m, Map.of("x", Ort.In.floats(new float[] {0.5f, 1f}, 2))).get("out").floats())
                .containsExactly(4f, 7f);
        assertThat(List.of(m.graph().outputs().get(0).name())).containsExactly("out");
    }
}
