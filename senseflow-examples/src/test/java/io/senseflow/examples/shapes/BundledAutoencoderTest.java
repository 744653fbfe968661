package io.senseflow.examples.shapes;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.examples.shapes.eval.Adherence;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.examples.shapes.eval.ReconstructionMetrics;
import io.senseflow.json.Json;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The bundled autoencoder: latents of unit scale, reconstructions the judge still reads correctly. */
class BundledAutoencoderTest {

    @Test
    void reconstructsRendersItNeverSawWithTheirAttributesIntact() {
        Autoencoder.Config c = Autoencoder.Config.fromMetadata(ShapesModels.decoder());
        assertThat(Autoencoder.Config.fromMetadata(ShapesModels.encoder())).isEqualTo(c);
        for (ShapesDataset.Split split : new ShapesDataset.Split[] {ShapesDataset.Split.TRAIN,
            ShapesDataset.Split.HELD_OUT}) {
            ClassifierTraining.Batch b = ClassifierTraining.batch(new ShapesDataset(4711, split), 0, 128);
            try (ShapesCodec codec = ShapesCodec.of(ShapesModels.encoder(), ShapesModels.decoder(), 1);
                 AttributeJudge judge = AttributeJudge.of(ShapesModels.classifier(), 1)) {
                Tensor z = codec.encode(b.images());
                assertThat(z.shape()).containsExactly(128, c.latentChannels(), c.latentHeight(), c.latentWidth());
                double std = Math.sqrt(z.sumOfSquares() / z.size() - Math.pow(z.mean(), 2));
                assertThat(std).as("latent std in the flow model's scale").isBetween(0.8, 1.25);
                Tensor recon = ReconstructionMetrics.quantize(codec.decode(z));
                assertThat(ReconstructionMetrics.psnr(b.images(), recon)).as("PSNR").isGreaterThan(33);
                Adherence a = new Adherence();
                a.add(b.attributes(), judge.judge(recon).predictions());
                // measured at bundling on 512 images: 100 % seen, 99.4 % held-out
                assertThat(a.all()).as("%s: %s", split, a).isGreaterThanOrEqualTo(0.95);
            }
        }
        assertThat(Json.parseObject(ShapesModels.provenance(ShapesModels.AUTOENCODER)).getString("artifact"))
                .isEqualTo("shapes-autoencoder");
    }
}
