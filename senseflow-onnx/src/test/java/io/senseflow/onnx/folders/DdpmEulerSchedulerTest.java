package io.senseflow.onnx.folders;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import io.senseflow.InvalidRequestException;
import io.senseflow.schedule.AnchorPreset;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.schedule.SigmaSchedule;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DdpmEulerSchedulerTest {
    @TempDir
    Path dir;

    @Test
    void timestepsFollowTheConfiguredSpacing() {
        DdpmSchedule table = DdpmSchedule.stableDiffusion();
        assertThat(DdpmEulerScheduler.sdxl().ddpmTimesteps(4)).containsExactly(751, 501, 251, 1);
        assertThat(DdpmEulerScheduler.sdxl().ddpmTimesteps(50)[0]).isEqualTo(981);
        assertThat(new DdpmEulerScheduler(table, DdpmEulerScheduler.Spacing.TRAILING, 0).ddpmTimesteps(4))
                .containsExactly(999, 749, 499, 249);
        assertThat(new DdpmEulerScheduler(table, DdpmEulerScheduler.Spacing.LINSPACE, 0).ddpmTimesteps(3))
                .containsExactly(999, 499.5, 0);
        // trailing spacing with 4 steps lands on the SenseFlow SDXL anchors
        SigmaSchedule s = new DdpmEulerScheduler(table, DdpmEulerScheduler.Spacing.TRAILING, 0).timesteps(4, 0);
        double[] anchors = AnchorPreset.SDXL.anchors();
        for (int i = 0; i < 4; i++) {
            assertThat(s.sigma(i)).isCloseTo(anchors[i], offset(1e-12));
        }
        assertThat(s.sigma(4)).isZero();
        assertThat(DdpmEulerScheduler.sdxl().toString()).isEqualTo("DdpmEulerScheduler[leading, offset 1]");
        assertThatThrownBy(() -> DdpmEulerScheduler.Spacing.fromConfig("karras"))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("timestep_spacing: expected leading, trailing or linspace, got karras");
    }

    @Test
    void familyIsDetectedFromFoldersWhenTheIndexSaysNothing() throws Exception {
        Path sdxl = io.senseflow.onnx.testing.TinyModelFolders.sdxl(dir.resolve("a")).dir();
        Files.delete(sdxl.resolve("model_index.json"));
        assertThat(Models.detectFamily(sdxl)).isEqualTo(ModelFamily.SDXL);
        Path flux = io.senseflow.onnx.testing.TinyModelFolders.flux(dir.resolve("b")).dir();
        Files.writeString(flux.resolve("model_index.json"), "{\"_class_name\": \"ORTSomethingElse\"}");
        assertThat(Models.detectFamily(flux)).isEqualTo(ModelFamily.FLUX);
        Path sd3 = io.senseflow.onnx.testing.TinyModelFolders.sd3(dir.resolve("c")).dir();
        Files.delete(sd3.resolve("model_index.json"));
        assertThat(Models.detectFamily(sd3)).isEqualTo(ModelFamily.SD3);
        assertThat(ModelFamily.fromId("SD3.5")).isEqualTo(ModelFamily.SD3);
    }
}
