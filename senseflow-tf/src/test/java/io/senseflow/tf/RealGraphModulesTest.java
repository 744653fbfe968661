package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.train.DenoiserSpec;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Modules over the shared Optimum exports as exported (symbolic sizes, a rank-0 timestep, int64 ids, several outputs):
 * each imports at the shapes it is called with and reproduces the PyTorch reference of the fixture.
 */
class RealGraphModulesTest {
    static final Path SDXL = Fixtures.path("optimum-exports/sdxl");
    /** Grappler costs minutes on the gradient graphs of real denoisers (see docs/training.md); results are the same. */
    static final TfSessionOptions NO_GRAPPLER = TfSessionOptions.defaults().withGraphOptimizations(false);

    static Map<String, Tensor> reference(Path caseDir, String prefix) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(caseDir.resolve("reference/ref.safetensors"))) {
            for (String n : f.names()) {
                if (n.startsWith(prefix)) {
                    m.put(n.substring(prefix.length()), f.tensor(n));
                }
            }
        }
        return m;
    }

    static double relError(Tensor want, Tensor got) {
        assertThat(got.shape()).containsExactly(want.shape());
        float[] a = want.toArray();
        float[] b = got.toArray();
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num = Math.max(num, Math.abs(a[i] - b[i]));
            den = Math.max(den, Math.abs(a[i]));
        }
        return num / den;
    }

    static TfModule.Builder sdxlUnet() {
        return DenoiserSpec.sdxl().applyTo(TfModule.builder(OnnxModel.read(SDXL.resolve("onnx/unet/model.onnx")))
                .name("unet").sessionOptions(NO_GRAPPLER));
    }

    static ModuleInputs unetInputs(Map<String, Tensor> in, float timestep) {
        int b = in.get("sample").shape()[0];
        float[] t = new float[b];
        java.util.Arrays.fill(t, timestep);
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(ModuleInputs.X, in.get("sample"));
        m.put(ModuleInputs.TIMESTEP, Tensor.of(t, b));
        m.put(ModuleInputs.TOKENS, in.get("encoder_hidden_states"));
        m.put(ModuleInputs.POOLED, in.get("text_embeds"));
        m.put("time_ids", in.get("time_ids"));
        return new ModuleInputs(m);
    }

    @Test
    void theSdxlUnetAsExportedImportsAtItsCallShapeTakesItsScalarTimestepAndMatchesPyTorch() {
        Map<String, Tensor> in = reference(SDXL, "unet/in/");
        Tensor want = reference(SDXL, "unet/out/").get("out_sample");
        float t = in.get("timestep").toArray()[0];
        try (TfModule unet = sdxlUnet().optimizer(AdamWConfig.constant(1e-3)).build()) {
            assertThat(unet.importsPerCallShape()).isTrue();
            assertThat(unet.variantCount()).isZero();
            assertThat(unet.parameters().parameterCount()).isEqualTo(469_420); // 466,220 + 110 untied copies (3,200)
            assertThat(unet.frozenBuffers()).isEmpty();
            Tensor got = unet.forward(unetInputs(in, t));
            double err = relError(want, got);
            System.out.printf("sdxl unet as exported vs PyTorch: %.3g relative%n", err);
            assertThat(err).isLessThan(1e-4);
            assertThat(unet.variantCount()).isEqualTo(1);
            // a batch whose samples have different timesteps cannot feed the rank-0 input
            ModuleInputs mixed = unetInputs(in, t).with(ModuleInputs.TIMESTEP, Tensor.of(new float[] {667, 334}, 2));
            assertThatThrownBy(() -> unet.forward(mixed)).isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("graph input 'timestep', a rank-0 scalar")
                    .hasMessageContaining("2 distinct: [334.0, 667.0]");
            // parameter gradients through the whole UNet at the call shape
            unet.optimizer().zeroGradients();
            BackwardResult r = unet.backward(unetInputs(in, t), Upstream.linear(1, null), GradientMode.BOTH);
            assertThat(unet.optimizer().gradientNorm()).isPositive().isFinite();
            assertThat(r.inputGradient(ModuleInputs.X).shape()).containsExactly(2, 4, 8, 8);
            // reading parameters one by one in this workspace (forward + backward graphs built)
            TfParameterStore store = (TfParameterStore) unet.parameters();
            java.util.List<String> names = store.specs().stream().map(io.senseflow.train.ParameterSpec::name).toList();
            long a = System.nanoTime();
            Map<String, Tensor> snap = store.snapshot();
            long b = System.nanoTime();
            for (String n : names) {
                assertThat(store.read(n).toArray()).isEqualTo(snap.get(n).toArray());
            }
            long c = System.nanoTime();
            for (String n : names.subList(0, 3)) {
                assertThat(store.readAlone(n).toArray()).isEqualTo(snap.get(n).toArray());
            }
            long d = System.nanoTime();
            System.out.printf("sdxl unet parameters: snapshot %.0f ms; read(name) of all %d: %.2f ms per call;"
                    + " one executor per parameter (the old read): %.0f ms per call%n", (b - a) / 1e6, names.size(),
                    (c - b) / 1e6 / names.size(), (d - c) / 1e6 / 3);
        }
    }

    @Test
    void aTextEncoderWithInt64IdsAndSeveralOutputsGivesZeroInputGradientsAndEveryOutput() {
        Map<String, Tensor> ref = reference(SDXL, "text_encoder/out/");
        long[] ids;
        try (SafetensorsFile f = SafetensorsFile.open(SDXL.resolve("reference/ref.safetensors"))) {
            ids = f.longs("text_encoder/in/input_ids");
        }
        float[] fid = new float[ids.length];
        for (int i = 0; i < ids.length; i++) {
            fid[i] = ids[i];
        }
        try (TfModule clip = TfModule.builder(OnnxModel.read(SDXL.resolve("onnx/text_encoder/model.onnx")))
                .name("clip").sessionOptions(NO_GRAPPLER).input(InputBinding.of(ModuleInputs.X, "input_ids")) // differentiable by request
                .output("pooler_output").outputs("hidden_states.3", "last_hidden_state")
                .optimizer(AdamWConfig.constant(1e-3)).build()) {
            ModuleInputs in = ModuleInputs.of(Tensor.wrap(fid, 1, 77), null);
            Map<String, Tensor> all = clip.forwardAll(in);
            assertThat(all.keySet()).containsExactly("pooler_output", "hidden_states.3", "last_hidden_state");
            for (var e : all.entrySet()) {
                assertThat(relError(ref.get(e.getKey()), e.getValue())).as(e.getKey()).isLessThan(1e-4);
            }
            clip.optimizer().zeroGradients();
            BackwardResult r = clip.backward(in, Upstream.linear(1, null), GradientMode.BOTH);
            Tensor g = r.inputGradient(ModuleInputs.X);
            assertThat(g.shape()).containsExactly(1, 77);
            assertThat(g.maxAbs()).isZero(); // int64 ids: not differentiable, zeros rather than a crash
            assertThat(clip.optimizer().gradientNorm()).isPositive();
        }
    }

    @Test
    void eachVaeDecoderAsExportedMatchesPyTorch() {
        for (String c : new String[] {"sd3", "flux_dev", "sdxl"}) {
            Path dir = Fixtures.path("optimum-exports/" + c);
            Map<String, Tensor> in = reference(dir, "vae_decoder/in/");
            Tensor want = reference(dir, "vae_decoder/out/").get("sample");
            try (TfModule vae = TfModule.builder(OnnxModel.read(dir.resolve("onnx/vae_decoder/model.onnx"))).name("vae")
                    .sessionOptions(NO_GRAPPLER).input(InputBinding.of(ModuleInputs.X, "latent_sample")).importOptions(ImportOptions.defaults())
                    .build()) {
                assertThat(vae.importsPerCallShape()).isTrue();
                Tensor got = vae.forward(ModuleInputs.of(in.get("latent_sample"), null));
                double err = relError(want, got);
                System.out.printf("%s vae decoder as exported vs PyTorch: %.3g relative%n", c, err);
                assertThat(err).as(c).isLessThan(1e-4);
                BackwardResult r = vae.backward(ModuleInputs.of(in.get("latent_sample"), null), Upstream.linear(1, null),
                        GradientMode.INPUTS);
                assertThat(r.inputGradient(ModuleInputs.X).maxAbs()).as(c).isPositive().isFinite();
                if (c.equals("sdxl")) { // another latent size: a second variant over the same variables
                    Tensor z = io.senseflow.noise.GaussianNoise.sample(3, 0, 0, 1, 4, 6, 10);
                    assertThat(vae.forward(ModuleInputs.of(z, null)).shape()).containsExactly(1, 3, 48, 80);
                    assertThat(vae.variantCount()).isEqualTo(2);
                }
            }
        }
    }
}
