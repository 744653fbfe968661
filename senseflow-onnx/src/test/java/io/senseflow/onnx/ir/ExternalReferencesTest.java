package io.senseflow.onnx.ir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExternalReferencesTest {
    @TempDir
    Path dir;

    private static OnnxModel model() {
        GraphBuilder g = GraphBuilder.create("refs");
        String x = g.input("x", DataType.FLOAT, Dim.of(4));
        String a = g.add(x, g.initializer("a", new float[] {1, 2, 3, 4}, 4));
        g.output(g.mul(a, g.initializer("b", new float[] {5, 6, 7, 8}, 4)), "y", DataType.FLOAT, Dim.of(4));
        return g.build();
    }

    @Test
    void namedInitializersBecomeReferencesAndExistingOnesStay() {
        Path file = dir.resolve("m.onnx");
        model().write(file, WriteOptions.externalData(16).withExternalFileName("weights.bin"));
        OnnxModel read = OnnxModel.read(file);
        byte[] bytes = read.toByteArrayWithExternalReferences(Map.of("b", new ExternalData("placeholder", 0, 16, null)));
        OnnxGraph g = OnnxModel.parse(bytes, "bytes").graph();
        ExternalData a = g.initializer("a").orElseThrow().externalData();
        ExternalData b = g.initializer("b").orElseThrow().externalData();
        assertThat(a.location()).isEqualTo("weights.bin");
        assertThat(a.length()).isEqualTo(16);
        assertThat(b.location()).isEqualTo("placeholder");
        // without references every payload is inline, as before
        OnnxGraph inline = OnnxModel.parse(read.toByteArray(), "inline").graph();
        assertThat(inline.initializer("b").orElseThrow().isExternal()).isFalse();
        assertThat(inline.initializer("b").orElseThrow().toFloats()).containsExactly(5, 6, 7, 8);
    }

    @Test
    void unknownNamesAreRefused() {
        assertThatThrownBy(() -> model().toByteArrayWithExternalReferences(Map.of("c", new ExternalData("p", 0, 4, null))))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("references: expected names of main-graph initializers, got \"c\"");
    }
}
