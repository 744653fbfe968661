package io.senseflow.onnx.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SessionConfigTest {

    @Test
    void builderValidatesAndValuesCompareByContent() {
        SessionConfig c = SessionConfig.builder().intraOpThreads(2).interOpThreads(1)
                .optimizationLevel(OptimizationLevel.BASIC).executionProvider(ExecutionProvider.CUDA).deviceId(1)
                .cudaMemoryLimitBytes(1L << 30).deterministicCompute(true).allowSpinning(false).build();
        assertThat(c.toBuilder().build()).isEqualTo(c).hasSameHashCodeAs(c);
        assertThat(c.toBuilder().deviceId(0).build()).isNotEqualTo(c);
        assertThat(c.toBuilder().allowSpinning(true).build()).isNotEqualTo(c);
        assertThat(c.toString()).contains("no spinning");
        assertThat(SessionConfig.defaults().allowSpinning()).isTrue();
        assertThat(SessionConfig.defaults().spinBetweenRuns()).isFalse();
        SessionConfig spinning = SessionConfig.builder().spinBetweenRuns(true).build();
        assertThat(spinning.toBuilder().build()).isEqualTo(spinning).hasSameHashCodeAs(spinning);
        assertThat(spinning).isNotEqualTo(SessionConfig.defaults());
        assertThat(spinning.toString()).contains("spinning between runs");
        assertThat(SessionConfig.defaults().toString()).doesNotContain("spinning");
        assertThat(c.toString()).contains("provider=CUDA", "device=1", "cudaMemoryLimit=1073741824", "BASIC", "deterministic");
        assertThat(SessionConfig.defaults().executionProvider()).isEqualTo(ExecutionProvider.CPU);
        assertThat(SessionConfig.defaults().optimizationLevel()).isEqualTo(OptimizationLevel.ALL);
        assertThat(SessionConfig.cuda(2).deviceId()).isEqualTo(2);
        assertThatThrownBy(() -> SessionConfig.builder().intraOpThreads(-1))
                .isInstanceOf(InvalidRequestException.class).hasMessageStartingWith("intraOpThreads: expected a non-negative number");
        assertThatThrownBy(() -> SessionConfig.builder().deviceId(-2))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("deviceId");
        assertThatThrownBy(() -> SessionConfig.builder().cudaMemoryLimitBytes(-5))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("cudaMemoryLimitBytes");
    }

    @Test
    void everyOptimizationLevelLoadsAndRuns() {
        try (OrtRuntime ort = OrtRuntime.create()) {
            for (OptimizationLevel level : OptimizationLevel.values()) {
                SessionConfig c = Fixtures.CPU1.toBuilder().optimizationLevel(level).deterministicCompute(true)
                        .allowSpinning(level.ordinal() % 2 == 0).spinBetweenRuns(level.ordinal() % 4 == 0).build();
                try (OrtModel m = ort.load(OrtModelTest.timestepModel(false), "t.onnx", c)) {
                    assertThat(m.config()).isEqualTo(c);
                    assertThat(m.run(Map.of("x", Tensor.of(new float[] {1, 2}, 1, 2), "timestep", Tensor.vector(3f)))
                            .get("out").toArray()).containsExactly(3f, 6f);
                }
            }
        }
    }

    /**
     * The CPU artifact cannot create a CUDA session: asking for one gives a working CPU session, records the
     * fallback, and warns once per configuration however many models are loaded with it.
     */
    @Test
    void cudaRequestFallsBackToCpuWithOneWarningPerConfiguration() {
        assumeFalse(OrtRuntime.compiledProviders().contains(ExecutionProvider.CUDA), "a CUDA build is on the class path");
        // unusual limits keep these configurations distinct from any other test's
        SessionConfig first = Fixtures.CPU1.toBuilder().executionProvider(ExecutionProvider.CUDA).cudaMemoryLimitBytes(123_456_789).build();
        SessionConfig second = first.toBuilder().deviceId(1).build();
        String log = LogCapture.stderr(() -> {
            try (OrtRuntime ort = OrtRuntime.create(first)) {
                for (int i = 0; i < 3; i++) {
                    try (OrtModel m = ort.load(OrtModelTest.timestepModel(true), "cuda_" + i + ".onnx", first)) {
                        ExecutionInfo info = m.executionInfo();
                        assertThat(info.requested()).isEqualTo(ExecutionProvider.CUDA);
                        assertThat(info.active()).isEqualTo(ExecutionProvider.CPU);
                        assertThat(info.fellBack()).isTrue();
                        assertThat(info.fallback()).get().asString().isNotBlank();
                        assertThat(m.run(Map.of("x", Tensor.of(new float[] {1, 2}, 1, 2), "timestep", Tensor.vector(2f)))
                                .get("out").toArray()).containsExactly(2f, 4f);
                    }
                }
                try (OrtModel m = ort.load(OrtModelTest.timestepModel(true), "cuda_device1.onnx", second)) {
                    assertThat(m.executionInfo().active()).isEqualTo(ExecutionProvider.CPU);
                }
            }
        });
        assertThat(LogCapture.count(log, "could not be used, running on CPU instead")).isEqualTo(2);
        assertThat(log).contains("cuda_0.onnx: the CUDA execution provider (device 0)")
                .contains("cuda_device1.onnx: the CUDA execution provider (device 1)")
                .doesNotContain("cuda_1.onnx: the CUDA");
    }
}
