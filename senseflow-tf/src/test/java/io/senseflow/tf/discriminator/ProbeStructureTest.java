package io.senseflow.tf.discriminator;

import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.ir.OnnxModel;
import org.junit.jupiter.api.Test;

class ProbeStructureTest {
    @Test
    void probe() {
        for (String c : new String[] {"sd3/onnx/transformer", "flux_dev/onnx/transformer", "sdxl/onnx/unet"}) {
            OnnxModel m = OnnxModel.read(Fixtures.path("optimum-exports/" + c).resolve("model.onnx"));
            BackboneStructure s = BackboneStructure.of(m);
            System.out.println(c + ": " + s);
            for (Tap t : new Tap[] {Tap.afterBlock(0), Tap.afterBlock(-1), Tap.patchEmbedding()}) {
                try {
                    System.out.println("   " + t + " -> " + s.resolve(t));
                } catch (RuntimeException e) {
                    System.out.println("   " + t + " !! " + e.getMessage());
                }
            }
        }
    }
}
