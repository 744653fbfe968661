package io.senseflow.tf.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.model.Conditioning;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.runtime.DenoiserBinding;
import io.senseflow.onnx.runtime.OrtGenerator;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.export.OnnxExport;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.tf.testing.TinyFluxGraph;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.ModuleInputs;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A short SenseFlow run end to end on TensorFlow modules derived from a tiny FLUX-style teacher graph: the teacher in
 * ONNX Runtime with embedded guidance, G and F with the guidance input bound to a constant, a small TensorFlow
 * discriminator, every generator term (DMD, ISG, GAN), TTUR, IDA, EMA and backward simulation; then the trained
 * generator exported and served by ONNX Runtime.
 */
class DistillationIntegrationTest {
    static final int BATCH = 4;
    static final int ITERATIONS = 12;
    static final MlpSpec DISCRIMINATOR = MlpSpec.discriminator(TinyFluxGraph.C * TinyFluxGraph.H * TinyFluxGraph.W, 8, 16, 1);

    static DistillationConfig config(boolean ida) {
        DistillationConfig base = DistillationConfig.preset(Recipe.SENSEFLOW, Family.FLUX);
        return base.toBuilder().batchSize(BATCH).iterations(ITERATIONS).seed(21).ttur(2).emaDecay(0.9)
                .optimizers(AdamWConfig.constant(1e-3)).ida(new DistillationConfig.Ida(ida, base.ida().lambda())).build();
    }

    record Outcome(Map<String, Tensor> g, Map<String, Tensor> f, Map<String, Tensor> ema, List<IterationMetrics> metrics,
                   double exportDiff) {
    }

    static Outcome run(boolean ida) {
        DistillationConfig cfg = config(ida);
        List<IterationMetrics> metrics = new ArrayList<>();
        try (OrtRuntime ort = OrtRuntime.create();
             OrtGenerator teacher = OrtGenerator.create(ort.load(TinyFluxGraph.teacher(1), "teacher",
                     SessionConfig.defaults()), DenoiserBinding.flux(), Parameterization.VELOCITY,
                     new LatentFormat(TinyFluxGraph.C, 1, 1));
             StudentModules s = StudentModules.builder(TinyFluxGraph.teacher(1), DenoiserSpec.flux()).batchSize(BATCH)
                     .bindConstant("guidance", 3.5f).ema(true).generatorOptimizer(cfg.generatorOptimizer())
                     .fakeScoreOptimizer(cfg.fakeScoreOptimizer()).build();
             TfModule d = MlpGraph.module(DISCRIMINATOR, new Mlp(DISCRIMINATOR, 4, null).parameters().snapshot(),
                     cfg.discriminatorOptimizer(), s.workspace(), "discriminator")) {
            Distiller distiller = Distiller.builder().config(cfg).teacher(teacher).generator(s.generator())
                    .fakeScore(s.fakeScore()).discriminator(d).ema(s.ema().parameters())
                    .dataset(TinyFluxGraph.dataset(5)).listener(metrics::add).build();
            distiller.run(CancellationToken.none());
            // the trained student, exported against the graph G runs (no guidance input), served by ONNX Runtime
            Conditioning c = TinyFluxGraph.dataset(6).batch(0, BATCH).conditioning();
            Tensor x = GaussianNoise.sample(2, 0, 1, BATCH, TinyFluxGraph.C, TinyFluxGraph.H, TinyFluxGraph.W);
            float[] sig = {1f, 0.904f, 0.759f, 0.512f};
            Tensor tf = s.generator().forward(ModuleInputs.denoiser(x, sig, c));
            double diff;
            try (OrtModel student = ort.load(OnnxExport.of(s.studentGraph(), s.generator().parameters()).model(), "student",
                    SessionConfig.defaults())) {
                assertThat(student.inputs()).doesNotContainKey("guidance");
                diff = MlpGraph.maxDiff(student.run(Map.of("hidden_states", x, "timestep", Tensor.of(sig, BATCH),
                        "encoder_hidden_states", c.tokens(), "pooled_projections", c.pooled())).get("out_hidden_states"), tf);
            }
            return new Outcome(s.generator().parameters().snapshot(), s.fakeScore().parameters().snapshot(),
                    s.ema().parameters().snapshot(), metrics, diff);
        }
    }

    static double distance(Map<String, Tensor> a, Map<String, Tensor> b) {
        double sq = 0;
        for (String k : a.keySet()) {
            Tensor d = a.get(k).sub(b.get(k));
            sq += d.sumOfSquares();
        }
        return Math.sqrt(sq);
    }

    @Test
    void everyTermRunsFiniteAndIdaPullsTheFakeScoreTowardsTheGenerator() {
        Outcome with = run(true);
        Outcome without = run(false);
        Set<String> seen = new HashSet<>();
        int generatorSteps = 0;
        int simulated = 0;
        for (IterationMetrics m : with.metrics()) {
            assertThat(m.skipped()).isFalse();
            m.losses().forEach((k, v) -> assertThat(v).as("iteration " + m.iteration() + " " + k).isFinite());
            m.parameterGradientNorms().forEach((k, v) -> assertThat(v).as(k).isFinite());
            seen.addAll(m.losses().keySet());
            generatorSteps += m.generatorUpdated() ? 1 : 0;
            simulated += m.backwardSimulated() ? 1 : 0;
        }
        assertThat(seen).contains("dmd", "isg", "gan", "fake_score", "discriminator_real", "discriminator_fake");
        assertThat(generatorSteps).isEqualTo(ITERATIONS / 2);
        assertThat(simulated).isBetween(1, ITERATIONS - 1);

        Map<String, Tensor> init = TinyFluxGraph.initialParameters();
        double idaEffect = distance(with.f(), without.f());
        double fMoved = distance(without.f(), init);
        double gapWith = distance(with.f(), with.g());
        double gapWithout = distance(without.f(), without.g());
        System.out.printf("IDA: |F_ida - F_no_ida| = %.4g (F moved %.4g by its own training); |F - G| = %.4g with IDA,"
                + " %.4g without; EMA moved %.4g; export |ORT - TF| = %.3g%n", idaEffect, fMoved, gapWith, gapWithout,
                distance(with.ema(), init), with.exportDiff());
        assertThat(idaEffect).isGreaterThan(0.05 * fMoved);
        assertThat(gapWith).isLessThan(gapWithout);
        assertThat(distance(with.ema(), init)).isPositive().isLessThan(distance(with.g(), init));
        assertThat(with.exportDiff()).isLessThan(1e-5);
    }
}
