package io.senseflow.tf.discriminator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.noise.GaussianNoise;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.ModuleInputs;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A discriminator that owns its workspace: closing twice is harmless; use after close throws, naming it. */
class DiscriminatorClosingTest {
    @Test
    void aClosedDiscriminatorRefusesUse() {
        Backbone backbone = Backbone.builder(TinyVit.build(16, 4, 8, 2, 2, 0, 11)).taps(List.of(Tap.patchEmbedding()))
                .preprocessing(Preprocessing.imagenet().withSize(16, 16)).build();
        Discriminator d = Discriminator.vfm(backbone).inputShape(2, 3, 8, 8).seed(5)
                .heads(HeadSpec.defaults().withWidth(4).withLayers(1, 1)).optimizer(AdamWConfig.constant(1e-2)).name("d").build();
        ModuleInputs in = new ModuleInputs(Map.of(ModuleInputs.X, GaussianNoise.sample(1, 0, 1, 2, 3, 8, 8)));
        assertThat(d.forward(in).countNonFinite()).isZero();
        d.close();
        assertThatCode(d::close).doesNotThrowAnyException();
        assertThatThrownBy(() -> d.forward(in)).isInstanceOf(IllegalStateException.class)
                .hasMessage("Discriminator d is closed");
        assertThatThrownBy(d::spectralNorms).isInstanceOf(IllegalStateException.class)
                .hasMessage("Discriminator d is closed");
    }
}
