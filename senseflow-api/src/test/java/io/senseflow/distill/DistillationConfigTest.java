package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import org.junit.jupiter.api.Test;

class DistillationConfigTest {

    @Test
    void everyPresetRoundTripsThroughJson() {
        for (Recipe r : Recipe.values()) {
            for (Family f : Family.values()) {
                DistillationConfig c = DistillationConfig.preset(r, f).toBuilder().seed(-7).emaDecay(0.999).build();
                DistillationConfig back = DistillationConfig.fromJson(c.toJson());
                assertThat(back).as(r + "/" + f).isEqualTo(c);
                assertThat(back.toJson()).isEqualTo(c.toJson());
                assertThat(back.anchors()).containsExactly(c.anchors());
            }
        }
    }

    @Test
    void presetsCarryThePaperConstants() {
        DistillationConfig large = DistillationConfig.preset(Recipe.SENSEFLOW, Family.SD35_LARGE);
        assertThat(large.ttur()).isEqualTo(5);
        assertThat(large.ida().lambda()).isEqualTo(0.97);
        assertThat(large.backwardSimulation()).isEqualTo(0.5);
        assertThat(large.dmd().guidance()).isEqualTo(new TeacherGuidance.Cfg(3, 10));
        assertThat(large.isg().guidance()).isEqualTo(new TeacherGuidance.Cfg(5, 5));
        assertThat(large.isg().margin()).isEqualTo(50);
        assertThat(large.gan().weighting()).isEqualTo(GanWeighting.sd35Released());
        assertThat(large.generatorOptimizer().learningRate().peak()).isEqualTo(1e-6);
        assertThat(large.generatorOptimizer().learningRate().warmupSteps()).isEqualTo(500);
        DistillationConfig medium = DistillationConfig.preset(Recipe.SENSEFLOW, Family.SD35_MEDIUM);
        assertThat(medium.ttur()).isEqualTo(10);
        assertThat(medium.ida().lambda()).isEqualTo(0.98);
        DistillationConfig flux = DistillationConfig.preset(Recipe.SENSEFLOW, Family.FLUX);
        assertThat(flux.dmd().guidance()).isEqualTo(new TeacherGuidance.Embedded(1, 8));
        assertThat(flux.dmd().noiseLevels()).isEqualTo(new TimestepSpec.LogitNormal(0, 1, 1));
        assertThat(flux.isg().margin()).isEqualTo(20);
        assertThat(flux.gan().weighting()).isEqualTo(GanWeighting.fluxReleased());
        DistillationConfig vanilla = DistillationConfig.preset(Recipe.VANILLA_DMD, Family.FLUX);
        assertThat(vanilla.ida().enabled()).isFalse();
        assertThat(vanilla.isg().enabled()).isFalse();
        assertThat(vanilla.gan().enabled()).isFalse();
        assertThat(vanilla.objectives()).hasSize(1);
        assertThat(large.objectives()).extracting(DistillationObjective::name).containsExactly("dmd", "isg", "gan");
        assertThat(Recipe.fromId("dmd+ida+isg")).isEqualTo(Recipe.DMD_IDA_ISG);
        assertThat(Family.fromId("sd35-large")).isEqualTo(Family.SD35_LARGE);
    }

    @Test
    void invalidConfigsNameTheField() {
        DistillationConfig.Builder b = DistillationConfig.preset(Recipe.SENSEFLOW, Family.SD35_LARGE).toBuilder();
        assertThatThrownBy(() -> b.ida(new DistillationConfig.Ida(true, 1.0)))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("ida.lambda");
        assertThatThrownBy(() -> b.ida(new DistillationConfig.Ida(true, -0.1)))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("ida.lambda");
        assertThatThrownBy(() -> b.ttur(0).build()).isInstanceOf(InvalidRequestException.class).hasMessageContaining("ttur");
        assertThatThrownBy(() -> b.ttur(5).anchors(1, 0.5, 0.75).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("anchors").hasMessageContaining("strictly decreasing");
        assertThatThrownBy(() -> b.anchors(1.2, 0.5).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("anchors[0]");
        assertThatThrownBy(() -> new TeacherGuidance.Cfg(10, 3)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("cfg scale range").hasMessageContaining("[10.0, 3.0]");
        assertThatThrownBy(() -> b.anchors(1, 0.99, 0.5).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("ISG margin");
        assertThatThrownBy(() -> DistillationConfig.fromJson("{\"seed\": 1}")).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("required field is missing");
        String json = DistillationConfig.preset(Recipe.SENSEFLOW, Family.FLUX).toJson().replace("\"ttur\"", "\"tturr\"");
        assertThatThrownBy(() -> DistillationConfig.fromJson(json)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("tturr: unknown field");
        String badLambda = DistillationConfig.preset(Recipe.SENSEFLOW, Family.FLUX).toJson().replace("\"lambda\": 0.97", "\"lambda\": 1.5");
        assertThatThrownBy(() -> DistillationConfig.fromJson(badLambda)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("ida.lambda");
    }
}
