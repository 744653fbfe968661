package io.senseflow.tf.discriminator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DiscriminatorKind;
import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.RandomStream;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * DMD2's discriminator: heads on the fake score's own features. The fake score's parameters are read, never trained
 * or touched by the discriminator's passes, and the features follow whatever the fake score's variables hold.
 */
class FakeScoreDiscriminatorTest {

    @Test
    void headsOnTheFakeScoreTrainAloneAndSeeItsCurrentWeights() {
        try (TfWorkspace ws = TfWorkspace.create();
             TfModule f = TinyModels.denoiser(TinyModels.flow(2), "fake_score", ws, 2, AdamWConfig.constant(1e-3));
             Discriminator d = Discriminator.onFakeScore(f, Tap.afterBlocks(0, 1)).inputShape(2, 4, 8, 8).seed(3)
                     .heads(HeadSpec.defaults().withWidth(8).withTextConditioning(TinyModels.POOLED, 4))
                     .optimizer(AdamWConfig.constant(1e-3)).build()) {
            assertThat(d.kind()).isEqualTo(DiscriminatorKind.FAKE_SCORE_FEATURES);
            Tensor x = GaussianNoise.sample(1, 0, 1, 2, 4, 8, 8);
            Conditioning c = TinyModels.conditioning(4, 2);
            ModuleInputs bare = ModuleInputs.of(x, c);
            assertThatThrownBy(() -> d.forward(bare)).isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("withRandomInputs");
            ModuleInputs in = d.withRandomInputs(bare, new RandomStream(5, 1, 0));
            assertThat(d.withRandomInputs(bare, new RandomStream(5, 1, 0))).isEqualTo(in);
            assertThat(in.get(ModuleInputs.SIGMA).shape()).containsExactly(2);
            assertThat(in.get(Discriminator.NOISE).shape()).containsExactly(2, 4, 8, 8);
            // taps on the image stream: 4 x 4 patch tokens of width 32 -> 2 x 2 logits per head
            Map<String, Tensor> features = d.features(in);
            assertThat(features.values()).allSatisfy(t -> assertThat(t.shape()).containsExactly(2, 4, 4, 32));
            assertThat(d.logitGrids()).allSatisfy(g -> assertThat(g).containsExactly(2, 2));
            assertThat(d.parameters().specs()).allSatisfy(p -> assertThat(p.name()).startsWith("heads."));

            Map<String, Tensor> fBefore = f.parameters().snapshot();
            f.optimizer().zeroGradients();
            d.optimizer().zeroGradients();
            d.backward(in, Upstream.hinge(1, new float[] {0.5f, 1f}), GradientMode.PARAMETERS);
            assertThat(d.optimizer().gradientNorm()).isGreaterThan(0);
            double dNorm = d.optimizer().gradientNorm();
            Tensor dx = d.backward(in, Upstream.linear(-1, null), GradientMode.INPUTS).inputGradient(ModuleInputs.X);
            assertThat(dx.maxAbs()).isGreaterThan(0f);
            assertThat(d.optimizer().gradientNorm()).isEqualTo(dNorm);
            assertThat(f.optimizer().gradientNorm()).isEqualTo(0.0);
            d.optimizer().step();
            assertThat(f.parameters().snapshot()).isEqualTo(fBefore);

            // the input gradient includes the noising: finite differences at fixed sigma and noise
            Tensor g = GaussianNoise.sample(6, 0, 3, 2, 8);
            Tensor analytic = d.backward(in, Upstream.explicit(g), GradientMode.INPUTS).inputGradient(ModuleInputs.X);
            RandomStream pick = new RandomStream(7, 0, 0);
            for (int k = 0; k < 6; k++) {
                int i = pick.nextInt(x.size());
                float h = 2e-3f;
                float[] p = x.toArray();
                p[i] += h;
                float[] m = x.toArray();
                m[i] -= h;
                double fd = (dot(g, d.forward(in.with(ModuleInputs.X, Tensor.wrap(p, x.shape()))))
                        - dot(g, d.forward(in.with(ModuleInputs.X, Tensor.wrap(m, x.shape()))))) / (2 * h);
                assertThat(Math.abs(fd - analytic.get(i))).as("x[" + i + "]").isLessThan(2e-2 * analytic.maxAbs());
            }

            // IDA (or any write) changes the fake score's variables: the discriminator's features follow
            f.parameters().write("transformer_blocks.0.attn.to_q.weight",
                    f.parameters().read("transformer_blocks.0.attn.to_q.weight").scale(1.5f));
            assertThat(d.features(in)).isNotEqualTo(features);
        }
    }

    static double dot(Tensor a, Tensor b) {
        double s = 0;
        for (int i = 0; i < a.size(); i++) {
            s += (double) a.get(i) * b.get(i);
        }
        return s;
    }

    @Test
    void aTextWidthOtherThanTheFakeScoresAndAnotherWorkspaceAreBuildErrors() {
        try (TfWorkspace ws = TfWorkspace.create(); TfWorkspace other = TfWorkspace.create();
             TfModule f = TinyModels.denoiser(TinyModels.flow(2), "fake_score", ws, 2, AdamWConfig.constant(1e-3))) {
            assertThatThrownBy(() -> Discriminator.onFakeScore(f, Tap.afterBlocks(1)).inputShape(2, 4, 8, 8)
                    .heads(HeadSpec.defaults().withTextConditioning(7, 4)).build())
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("pooled width")
                    .hasMessageContaining("pooled_projections").hasMessageContaining("got 7");
            assertThatThrownBy(() -> Discriminator.onFakeScore(f, Tap.afterBlocks(1)).workspace(other)
                    .inputShape(2, 4, 8, 8).build()).isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("workspace");
        }
    }
}
