package io.senseflow.examples.shapes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.OrtTextEncoder;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.export.OnnxExport;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.train.DenoiserSpec;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Text encoder and transformer trained as one module: the pooled path, the gradient's way back, the export. */
class JointTextModuleTest {
    static final TextTransformer.Config TEXT = TextTransformer.Config.builder().vocab(ShapesTokenizer.vocabSize())
            .length(ShapesTokenizer.LENGTH).width(16).depth(1).heads(2).mlpRatio(2).build();
    static final FlowTransformer.Config DIT = FlowTransformer.Config.builder().latentChannels(4).latentSize(4, 4)
            .patchSize(2).width(16).depth(1).heads(2).textWidth(16).textLength(ShapesTokenizer.LENGTH).pooledWidth(16)
            .mlpRatio(2).build();
    static final List<String> PROMPTS = List.of("a small red circle at the top left on a dark background", "");

    @Test
    void theMaskedMeanIsTheGraphsPooledOutputAndThePooledGradientSpreadsOverRealTokens() {
        OnnxModel text = TextTransformer.build(TEXT, 3, Init.RANDOM_ALL);
        Conditioning ids = JointTextModule.idsEncoder().encode(PROMPTS);
        try (OrtRuntime ort = OrtRuntime.create();
             OrtTextEncoder enc = OrtTextEncoder.builder(ort.load(text, "text", ort.defaultConfig()))
                     .pooledOutput(TextTransformer.POOLER_OUTPUT).includeMask(false).build()) {
            Conditioning c = enc.encode(ShapesTokenizer.tokenizer().tokenize(PROMPTS));
            Tensor mean = JointTextModule.maskedMean(c.tokens(), ids.mask());
            for (int i = 0; i < mean.size(); i++) {
                assertThat(mean.get(i)).isCloseTo(c.pooled().get(i), within(1e-5f));
            }
        }
        // f(h) = <a, h> + <p, maskedMean(h)> is linear: its gradient is a + spread(p), checked element by element
        Tensor a = GaussianNoise.sample(1, 0, 0, 2, ShapesTokenizer.LENGTH, 16);
        Tensor p = GaussianNoise.sample(1, 0, 1, 2, 16);
        Tensor h = GaussianNoise.sample(1, 0, 2, 2, ShapesTokenizer.LENGTH, 16);
        Tensor g = JointTextModule.spreadPooled(a, p, ids.mask());
        float[] hv = h.toArray();
        for (int i = 0; i < hv.length; i += 7) {
            float orig = hv[i];
            hv[i] = orig + 1;
            double up = f(a, p, Tensor.wrap(hv.clone(), h.shape()), ids.mask());
            hv[i] = orig;
            double base = f(a, p, Tensor.wrap(hv.clone(), h.shape()), ids.mask());
            assertThat(g.get(i)).isCloseTo((float) (up - base), within(1e-4f));
        }
    }

    private static double f(Tensor a, Tensor p, Tensor h, Tensor mask) {
        return a.mul(h).sum() + p.mul(JointTextModule.maskedMean(h, mask)).sum();
    }

    @Test
    void oneStepMovesBothModulesAndTheExportedTextEncoderMatches() {
        OnnxModel text = TextTransformer.build(TEXT, 3);
        OnnxModel dit = FlowTransformer.build(DIT, 4, Init.RANDOM_ALL);
        AdamWConfig adam = AdamWConfig.constant(1e-2);
        int batch = PROMPTS.size();
        try (TfWorkspace ws = TfWorkspace.create()) {
            TfModule textModule = TfModule.builder(text).name("text").workspace(ws)
                             .input(InputBinding.of(ModuleInputs.X, TextTransformer.INPUT_IDS).withGradient(false))
                             .input(InputBinding.of(ModuleInputs.MASK, TextTransformer.ATTENTION_MASK).withGradient(false))
                             .output(TextTransformer.LAST_HIDDEN_STATE)
                             .importOptions(ImportOptions.builder().inputShape(TextTransformer.INPUT_IDS, batch, TEXT.length())
                                     .inputShape(TextTransformer.ATTENTION_MASK, batch, TEXT.length()).build())
                             .optimizer(adam).build();
            TfModule ditModule = DenoiserSpec.inHouse().applyTo(TfModule.builder(dit).name("dit").workspace(ws)
                             .importOptions(DenoiserSpec.batchShapes(dit, batch, ImportOptions.defaults()))
                             .optimizer(adam)).build();
            try (JointTextModule joint = new JointTextModule(textModule, ditModule)) {
                check(joint, textModule, text, batch);
            }
        }
    }

    private static void check(JointTextModule joint, TfModule textModule, OnnxModel text, int batch) {
        {
            Tensor tokenEmb0 = joint.parameters().read(JointTextModule.TEXT + "embeddings.token_embedding.weight");
            Tensor x = GaussianNoise.sample(5, 0, 0, batch, 4, 4, 4);
            ModuleInputs in = ModuleInputs.denoiser(x, new float[] {0.5f, 0.9f}, JointTextModule.idsEncoder().encode(PROMPTS));
            joint.optimizer().zeroGradients();
            double loss = joint.backward(in, Upstream.mse(Tensor.zeros(x.shape()), null), GradientMode.PARAMETERS).loss();
            assertThat(loss).isFinite().isPositive();
            assertThat(joint.optimizer().gradientNorm()).isPositive();
            double clipped = joint.optimizer().clipGradientNorm(1e-3);
            assertThat(joint.optimizer().gradientNorm()).isCloseTo(Math.min(clipped, 1e-3), within(1e-6));
            joint.optimizer().step();
            Tensor tokenEmb1 = joint.parameters().read(JointTextModule.TEXT + "embeddings.token_embedding.weight");
            assertThat(tokenEmb1.sub(tokenEmb0).maxAbs()).as("the text encoder was trained").isPositive();
            assertThat(joint.optimizer().state().slots()).containsKey("m/" + JointTextModule.TEXT
                    + "embeddings.token_embedding.weight");

            // the trained text encoder, exported, runs in ONNX Runtime and conditions the same way
            OnnxModel exported = OnnxExport.of(text, joint.textParameters()).model();
            try (OrtRuntime ort = OrtRuntime.create();
                 OrtTextEncoder enc = OrtTextEncoder.builder(ort.load(exported, "text", ort.defaultConfig()))
                         .pooledOutput(TextTransformer.POOLER_OUTPUT).includeMask(false).build()) {
                Conditioning c = enc.encode(ShapesTokenizer.tokenizer().tokenize(PROMPTS));
                Conditioning ids = JointTextModule.idsEncoder().encode(PROMPTS);
                Tensor viaTf = textModule.forward(new ModuleInputs(java.util.Map.of(ModuleInputs.X, ids.tokens(),
                        ModuleInputs.MASK, ids.mask())));
                assertThat(c.tokens().shape()).containsExactly(batch, TEXT.length(), TEXT.width());
                assertThat(c.tokens().sub(viaTf).maxAbs()).isLessThan(1e-4f);
                assertThat(c.pooled().sub(JointTextModule.maskedMean(viaTf, ids.mask())).maxAbs()).isLessThan(1e-4f);
            }
        }
    }
}
