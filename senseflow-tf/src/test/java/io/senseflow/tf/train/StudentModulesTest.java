package io.senseflow.tf.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationBatch;
import io.senseflow.model.Conditioning;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.runtime.DenoiserBinding;
import io.senseflow.onnx.runtime.OrtGenerator;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.tf.testing.TinyFluxGraph;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.ModuleInputs;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Deriving G and F from a teacher graph: bound inputs, separate variables, TF or ORT teacher, the memory estimate. */
class StudentModulesTest {
    static final OnnxModel TEACHER = TinyFluxGraph.teacher(1);
    static final int BATCH = 4;

    static DistillationBatch batch() {
        return TinyFluxGraph.dataset(3).batch(0, BATCH);
    }

    static Tensor state() {
        return GaussianNoise.sample(8, 0, 1, BATCH, TinyFluxGraph.C, TinyFluxGraph.H, TinyFluxGraph.W);
    }

    static final float[] SIGMAS = {1f, 0.9f, 0.5f, 0.2f};

    static StudentModules.Builder builder() {
        return StudentModules.builder(TEACHER, DenoiserSpec.flux()).batchSize(BATCH)
                .bindConstant("guidance", 3.5f).generatorOptimizer(AdamWConfig.constant(1e-3))
                .fakeScoreOptimizer(AdamWConfig.constant(1e-3)).memoryBudget(MemoryBudget.of(1L << 30, 1L << 30));
    }

    static OrtGenerator ortTeacher(OrtRuntime ort) {
        return OrtGenerator.create(ort.load(TEACHER, "teacher", SessionConfig.defaults()), DenoiserBinding.flux(), Parameterization.VELOCITY, new LatentFormat(TinyFluxGraph.C, 1, 1));
    }

    @Test
    void generatorAndFakeScoreStartAsTheTeacherWithItsGuidanceBoundAndKeepSeparateVariables() {
        Conditioning c = batch().conditioning();
        Tensor x = state();
        Tensor guidance = Tensor.full(3.5f, BATCH);
        try (OrtRuntime ort = OrtRuntime.create(); OrtGenerator teacher = ortTeacher(ort);
             OrtModel student = ort.load(TeacherGraphs.bindConstant(TEACHER, "guidance", 3.5f), "student",
                     SessionConfig.defaults());
             StudentModules s = builder().build()) {
            assertThat(s.studentGraph().graph().inputs()).extracting(i -> i.name()).doesNotContain("guidance");
            assertThat(s.studentGraph().metadata()).containsEntry("senseflow.bound_input.guidance", "3.5");
            Tensor want = teacher.predict(x, SIGMAS, c.withExtra("guidance", guidance));
            Tensor ortStudent = student.run(Map.of("hidden_states", x, "timestep", Tensor.of(SIGMAS, BATCH),
                    "encoder_hidden_states", c.tokens(), "pooled_projections", c.pooled())).get("out_hidden_states");
            assertThat(MlpGraph.maxDiff(ortStudent, want)).isLessThan(1e-6);
            Tensor g = s.generator().forward(ModuleInputs.denoiser(x, SIGMAS, c));
            Tensor f = s.fakeScore().forward(ModuleInputs.denoiser(x, SIGMAS, c));
            assertThat(MlpGraph.maxDiff(g, want)).isLessThan(1e-5);
            assertThat(f).isEqualTo(g);
            // another guidance changes the teacher: the bound constant is really used
            Tensor other = teacher.predict(x, SIGMAS, c.withExtra("guidance", Tensor.full(1f, BATCH)));
            assertThat(MlpGraph.maxDiff(other, g)).isGreaterThan(1e-3);
            // separate variables
            s.generator().parameters().write("l2.bias", Tensor.zeros(32));
            assertThat(s.fakeScore().parameters().read("l2.bias")).isNotEqualTo(Tensor.zeros(32));
            // another batch size imports another shape variant over the same variables
            Tensor g1 = s.generator().forward(ModuleInputs.denoiser(x.sliceBatch(0, 1), new float[] {1f},
                    c.slice(0, 1)));
            assertThat(g1.shape()).containsExactly(1, 2, 4, 4);
        }
    }

    @Test
    void aFrozenTensorFlowTeacherAgreesWithOnnxRuntime() {
        Conditioning c = batch().conditioning().withExtra("guidance", Tensor.of(new float[] {1, 2.5f, 4, 8}, BATCH));
        Tensor x = state();
        try (OrtRuntime ort = OrtRuntime.create(); OrtGenerator teacher = ortTeacher(ort);
             StudentModules s = builder().teacherInTensorFlow(new LatentFormat(TinyFluxGraph.C, 1, 1)).build()) {
            assertThat(s.teacherModule().trainable()).isFalse();
            assertThat(s.teacherModule().parameters().specs()).isEmpty();
            assertThat(MlpGraph.maxDiff(s.teacher().predict(x, SIGMAS, c), teacher.predict(x, SIGMAS, c))).isLessThan(1e-5);
        }
    }

    @Test
    void inputsThatCannotBeBoundOrRemovedAreRefusedByName() {
        assertThatThrownBy(() -> TeacherGraphs.bindConstant(TEACHER, "guidence", 1f))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("'guidence'")
                .hasMessageContaining("guidance");
        assertThatThrownBy(() -> TeacherGraphs.removeInput(TEACHER, "guidance"))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("read by")
                .hasMessageContaining("bindConstant");
        GraphBuilder g = GraphBuilder.create("unused");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(2));
        g.input("unused", DataType.FLOAT, Dim.symbolic("batch"));
        g.output(g.relu(x), "y", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(2));
        OnnxModel removed = TeacherGraphs.removeInput(g.build(), "unused");
        assertThat(removed.graph().inputs()).extracting(i -> i.name()).containsExactly("x");
    }

    @Test
    void theMemoryEstimateCountsEveryCopyAndRefusesARunThatDoesNotFit() {
        StudentModules.Builder b = builder().ema(true);
        MemoryEstimate e = b.estimate();
        long params = 4368;
        assertThat(e.items()).anySatisfy(i -> assertThat(i.bytes()).isEqualTo(16 * params));
        assertThat(e.deviceBytes()).isGreaterThan(2 * 16 * params + 4 * params + MemoryEstimate.RUNTIME_OVERHEAD_BYTES);
        assertThat(e.heapBytes()).isEqualTo(2 * (12 * params * 2 + 4 * params));
        assertThat(e.table()).contains("generator").contains("fake score").contains("EMA").contains("peak activations");
        System.out.print("memory estimate of the tiny run:\n" + e.table());
        assertThatThrownBy(() -> builder().memoryBudget(MemoryBudget.of(64L << 20, 1L << 30)).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("does not fit")
                .hasMessageContaining("AdamW").hasMessageContaining("64.0 MiB");
        assertThatThrownBy(() -> builder().memoryBudget(MemoryBudget.of(1L << 30, 1000)).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("heap");
    }

    @Test
    void activationsGrowLinearlyWithTheBatch() {
        long[] bytes = new long[4];
        for (int k = 1; k <= 3; k++) {
            GraphActivations a = GraphActivations.of(TEACHER, DenoiserSpec.batchShapes(TEACHER, 4 * k,
                    ImportOptions.builder().frozen().build()));
            assertThat(a.unknownTensors()).isZero();
            bytes[k] = a.bytes();
        }
        assertThat(bytes[2] - bytes[1]).isPositive().isEqualTo(bytes[3] - bytes[2]);
        // at least the per-sample tensors: state, hidden layer and output (floats) for 4 more samples
        assertThat(bytes[2] - bytes[1]).isGreaterThan(4L * 4 * (32 + 48 + 32));
        GraphActivations dynamic = GraphActivations.of(TEACHER, ImportOptions.builder().frozen().build());
        assertThat(dynamic.unknownTensors()).isPositive();
    }

    @Test
    void theDetectedBudgetIsPositive() {
        MemoryBudget b = MemoryBudget.detect();
        assertThat(b.deviceBytes()).isPositive();
        assertThat(b.heapBytes()).isEqualTo(Runtime.getRuntime().maxMemory());
        System.out.println("detected budget: " + MemoryBudget.gib(b.deviceBytes()) + " device, " + b.description());
    }
}
