package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Optimizer;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.ParameterStore;
import io.senseflow.train.Upstream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Pins the loop's results bit for bit: two small runs on the reference modules (every term on: DMD with CFG, ISG, GAN,
 * IDA, EMA, backward simulation, the tracking probe; the second also with a frozen decoder and the standard
 * augmentation on both sides of the discriminator) are hashed, module by module and metric by metric, and compared
 * with hashes recorded from the loop as it was before {@code Distiller.step()} was split into named updates
 * (commit 106f3d8). A refactoring of the loop must leave every hash as it is; a change that moves any bit of any
 * parameter, EMA weight, loss, gradient norm or replaced-value count shows up here, naming what moved.
 */
class DistillerGoldenTest {
    private static final MlpSpec SPEC = MlpSpec.denoiser(2, 8, 16, 2);

    /** Recorded from 106f3d8 (before the split), on this backend: the pure-Java reference modules. */
    private static final Map<String, String> PLAIN = Map.of(
            "generator", "b30dfc5f74c6281e057eea07",
            "fake_score", "0eae5dfe57e8a04aa725a973",
            "discriminator", "43990afb49abfef3fe5e6012",
            "ema", "0b04dbc1b0f98f7132a0a46b",
            "losses", "2effb9c7de8a10b74f8aee1c",
            "norms", "8b902ee55fcbd7b234f26308",
            "flags", "f2a5eb0ad4b8202aa9134641");

    private static final Map<String, String> DECODED = Map.of(
            "generator", "355dc3d53696908d0684d440",
            "fake_score", "86ab43848e1395b4cd1d8f68",
            "discriminator", "8a6c34921f4c444877b2b6a9",
            "ema", "801b55207b7242c950251a1e",
            "losses", "33164f886ec0ab6f45d71a3f",
            "norms", "44c3ce11d94a695b7a43b57c",
            "flags", "f2a5eb0ad4b8202aa9134641");

    private static DistillationConfig config(long seed) {
        return DistillationConfig.preset(Recipe.SENSEFLOW, Family.CUSTOM).toBuilder().batchSize(12).iterations(12)
                .seed(seed).ttur(2).emaDecay(0.9).backwardSimulation(0.5)
                .optimizers(AdamWConfig.constant(1e-3))
                .dmd(new DistillationConfig.Dmd(true, 1, new TimestepSpec.TableIndex(1, 20, 980),
                        new TeacherGuidance.Cfg(1.5, 3)))
                .build();
    }

    /**
     * A frozen linear "decoder" from the 2-D samples to 1 x 3 x 5 images (a fixed matrix), with its exact input
     * gradient: it puts a decoder and a real image augmentation in the discriminator's path.
     */
    static final class LinearDecoder implements DifferentiableModule {
        private static final int OUT = 15;
        private final float[] w = new float[OUT * 2];
        private final ParameterStore unused = new Mlp(SPEC, 0, null).parameters(); // frozen: never read or stepped

        LinearDecoder() {
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) Math.sin(0.7 * i + 0.3);
            }
        }

        @Override
        public Tensor forward(ModuleInputs inputs) {
            Tensor x = inputs.get(ModuleInputs.X);
            int n = x.batch();
            float[] in = x.toArray();
            float[] out = new float[n * OUT];
            for (int b = 0; b < n; b++) {
                for (int o = 0; o < OUT; o++) {
                    out[b * OUT + o] = w[2 * o] * in[2 * b] + w[2 * o + 1] * in[2 * b + 1];
                }
            }
            return Tensor.wrap(out, n, 1, 3, 5);
        }

        @Override
        public BackwardResult backward(ModuleInputs inputs, Upstream upstream, GradientMode mode) {
            Tensor x = inputs.get(ModuleInputs.X);
            float[] g = ((Upstream.Explicit) upstream).gradient().toArray();
            int n = x.batch();
            float[] dx = new float[n * 2];
            for (int b = 0; b < n; b++) {
                for (int o = 0; o < OUT; o++) {
                    dx[2 * b] += w[2 * o] * g[b * OUT + o];
                    dx[2 * b + 1] += w[2 * o + 1] * g[b * OUT + o];
                }
            }
            return new BackwardResult(0, forward(inputs), Map.of(ModuleInputs.X, Tensor.wrap(dx, x.shape())));
        }

        @Override
        public ParameterStore parameters() {
            return unused;
        }

        @Override
        public Optimizer optimizer() {
            return null;
        }

        @Override
        public boolean trainable() {
            return false;
        }

        @Override
        public void close() {
        }
    }

    /** Runs 12 iterations and hashes everything the run produced. */
    static Map<String, String> run(long seed, boolean decoded) {
        DistillationConfig cfg = config(seed);
        Mlp g = new Mlp(SPEC, 1, cfg.generatorOptimizer());
        Mlp f = new Mlp(SPEC, 1, cfg.fakeScoreOptimizer());
        Mlp d = new Mlp(MlpSpec.discriminator(decoded ? 15 : 2, 8, 16, 1), 2, cfg.discriminatorOptimizer());
        Mlp ema = new Mlp(SPEC, 99, null);
        List<IterationMetrics> seen = new ArrayList<>();
        Distiller.Builder b = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(g).fakeScore(f).discriminator(d).ema(ema.parameters()).trackingProbe(5)
                .dataset(MixtureExperiment.dataset(cfg.seed())).promptEncoder(MixtureExperiment.PROMPTS)
                .listener(seen::add);
        if (decoded) {
            b.decoder(new LinearDecoder()).augmentation(DiffAugment.standard(), true);
        }
        Distiller dist = b.build();
        dist.run(CancellationToken.none());
        assertThat(seen).hasSize(12);
        // the run exercises what the hashes claim: both kinds of generator input, generator and fake-score-only
        // iterations, every term and the probe
        assertThat(seen).extracting(IterationMetrics::backwardSimulated).contains(true, false);
        assertThat(seen).extracting(IterationMetrics::generatorUpdated).contains(true, false);
        assertThat(seen.get(0).losses()).containsKeys("dmd", "isg", "gan", "fake_score", "discriminator_real",
                "discriminator_fake", TrackingProbe.FAKE_LOSS);
        assertThat(seen.get(0).phaseNanos()).containsKeys("ida", "ema");
        Map<String, String> h = new LinkedHashMap<>();
        h.put("generator", hash(g.parameters()));
        h.put("fake_score", hash(f.parameters()));
        h.put("discriminator", hash(d.parameters()));
        h.put("ema", hash(ema.parameters()));
        StringBuilder losses = new StringBuilder();
        StringBuilder norms = new StringBuilder();
        StringBuilder flags = new StringBuilder();
        for (IterationMetrics m : seen) {
            new TreeMap<>(m.losses()).forEach((k, v) -> losses.append(m.iteration()).append(k)
                    .append(Long.toHexString(Double.doubleToRawLongBits(v))).append(';'));
            new TreeMap<>(m.outputGradientNorms()).forEach((k, v) -> norms.append(m.iteration()).append("out.").append(k)
                    .append(Long.toHexString(Double.doubleToRawLongBits(v))).append(';'));
            new TreeMap<>(m.parameterGradientNorms()).forEach((k, v) -> norms.append(m.iteration()).append("param.")
                    .append(k).append(Long.toHexString(Double.doubleToRawLongBits(v))).append(';'));
            flags.append(m.iteration()).append(m.generatorUpdated()).append(m.backwardSimulated()).append(m.skipped())
                    .append(new TreeMap<>(m.nonFinite())).append(';');
        }
        h.put("losses", sha(losses.toString().getBytes(StandardCharsets.UTF_8)));
        h.put("norms", sha(norms.toString().getBytes(StandardCharsets.UTF_8)));
        h.put("flags", sha(flags.toString().getBytes(StandardCharsets.UTF_8)));
        return h;
    }

    static String hash(ParameterStore store) {
        StringBuilder names = new StringBuilder();
        List<Float> all = new ArrayList<>();
        for (ParameterSpec p : store.specs()) {
            names.append(p).append(';');
            for (float v : store.read(p.name()).toArray()) {
                all.add(v);
            }
        }
        byte[] nameBytes = names.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(nameBytes.length + 4 * all.size());
        buf.put(nameBytes);
        for (float v : all) {
            buf.putInt(Float.floatToRawIntBits(v));
        }
        return sha(buf.array());
    }

    static String sha(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)).substring(0, 24);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void everyTermOnGivesTheRecordedBits() {
        Map<String, String> got = run(3, false);
        System.out.println("golden plain " + got);
        assertThat(got).isEqualTo(PLAIN);
    }

    @Test
    void withADecoderAndAugmentationGivesTheRecordedBits() {
        Map<String, String> got = run(3, true);
        System.out.println("golden decoded " + got);
        assertThat(got).isEqualTo(DECODED);
    }

    @Test
    void theHashesSeeADifferentSeed() {
        // the pinned hashes are of the run, not constants: another seed moves every one of them
        Map<String, String> other = run(4, false);
        for (String k : List.of("generator", "fake_score", "discriminator", "ema", "losses", "norms")) {
            assertThat(other.get(k)).as(k).isNotEqualTo(PLAIN.get(k));
        }
    }
}
