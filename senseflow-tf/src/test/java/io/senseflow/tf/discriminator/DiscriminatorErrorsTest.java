package io.senseflow.tf.discriminator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.SenseFlowException;
import io.senseflow.distill.DiscriminatorKind;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Family;
import io.senseflow.distill.GanWeighting;
import io.senseflow.distill.Recipe;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.train.AdamWConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Bad discriminator setups fail at build time with typed errors that name the field, expectation and finding. */
class DiscriminatorErrorsTest {
    static final OnnxModel VIT = TinyVit.build(16, 4, 8, 2, 2, 0, 1);

    @Test
    void anUnknownTapListsTheClosestNames() {
        Backbone b = Backbone.builder(VIT).tap(Tap.named("/blocks.1/add_9")).build();
        assertThatThrownBy(() -> Discriminator.vfm(b).inputShape(1, 3, 16, 16).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("/blocks.1/add_9")
                .hasMessageContaining("closest").hasMessageContaining("/blocks.1/Add_1");
    }

    @Test
    void aPatchSizeThatDoesNotDivideThePreprocessedSizeIsRefused() {
        OnnxModel dynamic = TinyVit.build(16, 4, 8, 2, 2, 0, 1, true);
        Backbone b = Backbone.builder(dynamic).tap(Tap.afterBlock(1))
                .preprocessing(Preprocessing.imagenet().withSize(18, 18)).build();
        assertThatThrownBy(() -> Discriminator.vfm(b).inputShape(1, 3, 32, 32).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("patch size 4x4")
                .hasMessageContaining("18x18");
        // the graph declares no size: one must be given
        Backbone none = Backbone.builder(dynamic).tap(Tap.afterBlock(1)).build();
        assertThatThrownBy(() -> Discriminator.vfm(none).inputShape(1, 3, 32, 32).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("withSize");
        // a fixed-size graph refuses another size
        Backbone fixed = Backbone.builder(VIT).tap(Tap.afterBlock(1))
                .preprocessing(Preprocessing.imagenet().withSize(20, 20)).build();
        assertThatThrownBy(() -> Discriminator.vfm(fixed).inputShape(1, 3, 32, 32).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("16x16");
    }

    @Test
    void aTextWidthOtherThanTheGeneratorsIsRefusedAtBuild() {
        try (TfWorkspace ws = TfWorkspace.create();
             TfModule g = TinyModels.denoiser(TinyModels.flow(1), "generator", ws, 1, AdamWConfig.constant(1e-3))) {
            Backbone b = Backbone.builder(VIT).tap(Tap.afterBlock(1)).build();
            assertThatThrownBy(() -> Discriminator.vfm(b).workspace(ws).inputShape(1, 3, 16, 16).conditionedLike(g)
                    .heads(HeadSpec.defaults().withTextConditioning(TinyModels.POOLED + 1, 4)).build())
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("pooled width")
                    .hasMessageContaining("module generator").hasMessageContaining("got 9");
            try (Discriminator ok = Discriminator.vfm(b).workspace(ws).inputShape(1, 3, 16, 16).conditionedLike(g)
                    .heads(HeadSpec.defaults().withTextConditioning(TinyModels.POOLED, 4)).build()) {
                assertThat(ok.heads().pooledWidth()).isEqualTo(TinyModels.POOLED);
            }
        }
    }

    @Test
    void badSpecsAndMissingPartsAreNamed() {
        assertThatThrownBy(() -> HeadSpec.defaults().withLayers(1, 2)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("heads.downsample");
        assertThatThrownBy(() -> Backbone.builder(VIT).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("taps");
        assertThatThrownBy(() -> Preprocessing.imagenet().withRange(1, -1)).isInstanceOf(SenseFlowException.class);
        Backbone cls = Backbone.builder(VIT).tap(Tap.afterBlock(0)).clsToken(Backbone.ClsToken.CONCAT).prefixTokens(0)
                .build();
        assertThatThrownBy(() -> Discriminator.vfm(cls).inputShape(1, 3, 16, 16).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("prefix tokens");
        DistillationConfig vfm = DistillationConfig.preset(Recipe.SENSEFLOW, Family.CUSTOM);
        assertThatThrownBy(() -> Discriminator.forConfig(vfm, null, null, List.of()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("gan.discriminator is vfm");
        DistillationConfig fs = vfm.toBuilder().gan(new DistillationConfig.Gan(true, GanWeighting.paper(),
                DiscriminatorKind.FAKE_SCORE_FEATURES)).build();
        assertThatThrownBy(() -> Discriminator.forConfig(fs, null, null, List.of()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("fake-score-features");
        assertThat(Discriminator.forConfig(DistillationConfig.preset(Recipe.DMD_IDA_ISG, Family.CUSTOM), null, null,
                List.of())).isEmpty();
    }
}
