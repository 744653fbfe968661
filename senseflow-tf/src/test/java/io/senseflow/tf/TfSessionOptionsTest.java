package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.train.ModuleInputs;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.OptimizerOptions;

/** Thread counts and GPU settings reach the session's ConfigProto; GPU settings are harmless on the CPU build. */
class TfSessionOptionsTest {

    @Test
    void threadsAndGpuMemorySettingsReachTheSessionConfig() {
        ConfigProto p = TfSessionOptions.defaults().withIntraOpThreads(3).withInterOpThreads(2)
                .withGpu(1, 6L << 30).toProto();
        assertThat(p.getIntraOpParallelismThreads()).isEqualTo(3);
        assertThat(p.getInterOpParallelismThreads()).isEqualTo(2);
        assertThat(p.getGpuOptions().getAllowGrowth()).isTrue();
        assertThat(p.getGpuOptions().getVisibleDeviceList()).isEqualTo("1");
        assertThat(p.getGpuOptions().getExperimental().getVirtualDevices(0).getMemoryLimitMbList()).containsExactly(6144f);
        ConfigProto plain = TfSessionOptions.defaults().toProto();
        assertThat(plain.getGpuOptions().getVisibleDeviceList()).isEmpty();
        assertThat(plain.getGpuOptions().getExperimental().getVirtualDevicesCount()).isZero();
    }

    @Test
    void xlaJitIsOptInAndKeepsTheOtherSettings() {
        TfSessionOptions off = TfSessionOptions.defaults().withIntraOpThreads(2).withOneDnnAllowed(true);
        assertThat(off.xlaJit()).isFalse();
        assertThat(off.toProto().getGraphOptions().getOptimizerOptions().getGlobalJitLevel())
                .isEqualTo(OptimizerOptions.GlobalJitLevel.DEFAULT);
        TfSessionOptions on = off.withXlaJit(true).withGraphOptimizations(false);
        assertThat(on.xlaJit()).isTrue();
        assertThat(on.allowOneDnn()).isTrue();
        ConfigProto p = on.toProto();
        assertThat(p.getGraphOptions().getOptimizerOptions().getGlobalJitLevel())
                .isEqualTo(OptimizerOptions.GlobalJitLevel.ON_1);
        assertThat(p.getGraphOptions().getRewriteOptions().getDisableMetaOptimizer()).isTrue();
        assertThat(p.getIntraOpParallelismThreads()).isEqualTo(2);
        assertThat(new TfSessionOptions(1, 1, true, -1, 0, true).xlaJit()).isFalse();
    }

    @Test
    void prunedGraphBuildsAreOptInAndKeepTheOtherSettings() {
        TfSessionOptions off = TfSessionOptions.defaults().withIntraOpThreads(2).withGraphOptimizations(false);
        assertThat(off.prunedGraphBuilds()).isFalse();
        assertThat(off.toProto().getGraphOptions().getPlacePrunedGraph()).isFalse();
        assertThat(off.toProto().getGraphOptions().getOptimizerOptions().getOptLevel())
                .isEqualTo(OptimizerOptions.Level.L1);
        TfSessionOptions on = off.withPrunedGraphBuilds(true).withXlaJit(true);
        assertThat(on.prunedGraphBuilds()).isTrue();
        ConfigProto p = on.toProto();
        assertThat(p.getGraphOptions().getPlacePrunedGraph()).isTrue();
        assertThat(p.getGraphOptions().getOptimizerOptions().getOptLevel()).isEqualTo(OptimizerOptions.Level.L0);
        assertThat(p.getGraphOptions().getOptimizerOptions().getDoConstantFolding()).isFalse();
        assertThat(p.getGraphOptions().getOptimizerOptions().getDoCommonSubexpressionElimination()).isFalse();
        assertThat(p.getGraphOptions().getOptimizerOptions().getGlobalJitLevel())
                .isEqualTo(OptimizerOptions.GlobalJitLevel.ON_1);
        assertThat(p.getGraphOptions().getRewriteOptions().getDisableMetaOptimizer()).isTrue();
        assertThat(p.getIntraOpParallelismThreads()).isEqualTo(2);
        assertThat(new TfSessionOptions(1, 1, true, -1, 0, false, false).prunedGraphBuilds()).isFalse();
    }

    @Test
    void aMemoryLimitNeedsADevice() {
        assertThatThrownBy(() -> new TfSessionOptions(1, 1, true, -1, 1L << 30))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("gpuMemoryLimitBytes");
    }

    @Test
    void gpuSettingsAreIgnoredByTheCpuBuild() {
        MlpSpec spec = MlpSpec.denoiser(2, 0, 8, 1);
        Mlp ref = new Mlp(spec, 1, null);
        try (TfWorkspace ws = TfWorkspace.create(TfSessionOptions.defaults().withIntraOpThreads(1).withGpu(0, 1L << 30));
             TfModule m = MlpGraph.module(spec, ref.parameters().snapshot(), null, ws, "mlp")) {
            ModuleInputs in = ModuleInputs.denoiser(Tensor.of(new float[] {1, 2}, 1, 2), new float[] {0.5f}, null);
            assertThat(MlpGraph.maxDiff(m.forward(in), ref.forward(in))).isLessThan(1e-6);
        }
    }
}
