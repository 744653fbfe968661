package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import org.junit.jupiter.api.Test;

/** The discriminator choice in {@link DistillationConfig.Gan}: presets, JSON round trip, older JSON, bad values. */
class GanConfigTest {

    @Test
    void presetsPickTheVfmDiscriminatorWhenTheGanIsOn() {
        for (Family f : Family.values()) {
            assertThat(DistillationConfig.preset(Recipe.SENSEFLOW, f).gan().discriminator())
                    .isEqualTo(DiscriminatorKind.VFM);
            assertThat(DistillationConfig.preset(Recipe.DMD_IDA_ISG, f).gan().discriminator())
                    .isEqualTo(DiscriminatorKind.NONE);
        }
    }

    @Test
    void theKindRoundTripsThroughJsonAndOlderJsonWithoutItStillReads() {
        DistillationConfig c = DistillationConfig.preset(Recipe.SENSEFLOW, Family.FLUX).toBuilder()
                .gan(new DistillationConfig.Gan(true, GanWeighting.paper(), DiscriminatorKind.FAKE_SCORE_FEATURES))
                .build();
        String json = c.toJson();
        assertThat(json).contains("\"discriminator\": \"fake-score-features\"");
        DistillationConfig back = DistillationConfig.fromJson(json);
        assertThat(back.gan().discriminator()).isEqualTo(DiscriminatorKind.FAKE_SCORE_FEATURES);
        assertThat(back).isEqualTo(c);
        String older = json.replace(",\n    \"discriminator\": \"fake-score-features\"", "");
        assertThat(older).doesNotContain("fake-score-features");
        assertThat(DistillationConfig.fromJson(older).gan().discriminator()).isEqualTo(DiscriminatorKind.VFM);
    }

    @Test
    void anEnabledGanWithoutADiscriminatorAndUnknownKindsAreErrors() {
        assertThatThrownBy(() -> new DistillationConfig.Gan(true, GanWeighting.paper(), DiscriminatorKind.NONE))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("gan.discriminator");
        String json = DistillationConfig.preset(Recipe.SENSEFLOW, Family.SD35_LARGE).toJson()
                .replace("\"discriminator\": \"vfm\"", "\"discriminator\": \"dino\"");
        assertThatThrownBy(() -> DistillationConfig.fromJson(json)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("gan.discriminator").hasMessageContaining("\"dino\"");
    }
}
