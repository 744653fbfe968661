package io.senseflow.tf.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.CheckpointException;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.Recipe;
import io.senseflow.io.AtomicFiles;
import io.senseflow.onnx.checkpoint.Checkpoint;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.GaussianMixture;
import io.senseflow.testing.MixtureDataset;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.train.AdamWConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exact resume with TensorFlow modules: a SenseFlow run (DMD + IDA + ISG + GAN, TTUR 2, EMA) checkpointed to disk at
 * iteration k and resumed in a fresh workspace from other initial weights reaches bit-identical parameters and optimizer
 * state at iteration n.
 */
class TfCheckpointResumeTest {
    static final GaussianMixture DATA = GaussianMixture.ring(8, 2.0, 0.2);
    static final MlpSpec DENOISER = MlpSpec.denoiser(2, 8, 32, 2);
    static final MlpSpec DISCRIMINATOR = MlpSpec.discriminator(2, 8, 16, 1);
    static final int K = 5;
    static final int N = 10;

    @TempDir
    Path dir;

    record Run(TfModule g, TfModule f, TfModule d, TfModule ema, Distiller distiller) {
        Map<String, Map<String, Tensor>> state() {
            return Map.of("g", g.parameters().snapshot(), "f", f.parameters().snapshot(), "d", d.parameters().snapshot(),
                    "ema", ema.parameters().snapshot(), "g.opt", g.optimizer().state().slots(),
                    "f.opt", f.optimizer().state().slots(), "d.opt", d.optimizer().state().slots());
        }
    }

    static DistillationConfig config() {
        return DistillationConfig.preset(Recipe.SENSEFLOW, Family.CUSTOM).toBuilder().batchSize(16).iterations(N).seed(9)
                .ttur(2).emaDecay(0.9).optimizers(AdamWConfig.constant(1e-3)).build();
    }

    static Run run(TfWorkspace ws, DistillationConfig cfg, long initSeed) {
        Map<String, Tensor> gInit = new Mlp(DENOISER, initSeed, null).parameters().snapshot();
        TfModule g = MlpGraph.module(DENOISER, gInit, cfg.generatorOptimizer(), ws, "generator");
        TfModule f = MlpGraph.module(DENOISER, gInit, cfg.fakeScoreOptimizer(), ws, "fake_score");
        TfModule d = MlpGraph.module(DISCRIMINATOR, new Mlp(DISCRIMINATOR, initSeed + 1, null).parameters().snapshot(),
                cfg.discriminatorOptimizer(), ws, "discriminator");
        TfModule ema = MlpGraph.module(DENOISER, gInit, null, ws, "ema");
        MixtureDataset data = new MixtureDataset(DATA, List.of("all", "modes 0,1,2,3", "modes 4,5,6,7", "modes 2"),
                cfg.seed());
        Distiller dist = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(DATA)).generator(g).fakeScore(f)
                .discriminator(d).ema(ema.parameters()).dataset(data).promptEncoder(data.promptEncoder()).build();
        return new Run(g, f, d, ema, dist);
    }

    @Test
    void aRunResumedFromDiskInAFreshWorkspaceEndsBitIdentical() {
        DistillationConfig cfg = config();
        Map<String, Map<String, Tensor>> uninterrupted;
        try (TfWorkspace ws = TfWorkspace.create()) {
            Run full = run(ws, cfg, 1);
            full.distiller().run(CancellationToken.none());
            uninterrupted = full.state();
        }
        CheckpointStore store = CheckpointStore.builder(dir).keepLast(2).build();
        try (TfWorkspace ws = TfWorkspace.create()) {
            Run first = run(ws, cfg, 1);
            first.distiller().runUntil(K, CancellationToken.none());
            store.save(first.distiller().snapshot());
            // a later save that fails midway must leave the checkpoint at K as it was
            first.distiller().runUntil(K + 1, CancellationToken.none());
            AtomicFiles.Writer failing = ch -> {
                ch.write(ByteBuffer.allocate(4096));
                throw new IOException("simulated failure while writing");
            };
            assertThatThrownBy(() -> store.save(first.distiller().snapshot(), Map.of("loader", failing), Map.of()))
                    .isInstanceOf(CheckpointException.class).hasMessageContaining("simulated failure");
        }
        try (TfWorkspace ws = TfWorkspace.create()) {
            Run resumed = run(ws, cfg, 42); // different initial weights: everything must come from the checkpoint
            Checkpoint cp = store.loadLatest().orElseThrow();
            assertThat(cp.iteration()).isEqualTo(K);
            cp.requireArchitecture("generator", resumed.g().parameters());
            cp.restore(resumed.distiller());
            resumed.distiller().run(CancellationToken.none());
            Map<String, Map<String, Tensor>> after = resumed.state();
            for (String k : uninterrupted.keySet()) {
                assertThat(after.get(k)).as(k).isEqualTo(uninterrupted.get(k));
            }
            assertThat(after.get("f")).isNotEqualTo(new Mlp(DENOISER, 1, null).parameters().snapshot());
        }
    }
}
