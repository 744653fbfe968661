package io.senseflow.examples.shapes;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.PromptEncoder;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Optimizer;
import io.senseflow.train.OptimizerState;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.ParameterStore;
import io.senseflow.train.Upstream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A text encoder and a flow transformer trained together as one {@link DifferentiableModule}, so that
 * {@code FlowMatchingTrainer} can train both: the module's {@code tokens} input is the token ids (as floats) and its
 * {@code mask} input the attention mask, the text encoder runs first, and its {@code last_hidden_state} and the masked
 * mean of it (the {@code pooler_output} the text encoder graph computes) condition the transformer.
 *
 * <p>Backward: the transformer's backward in {@code BOTH} mode gives the gradients with respect to its text inputs;
 * the pooled gradient is spread over the real tokens ({@code dL/dh_i += mask_i / count * dL/dpooled}) and the text
 * encoder's backward runs from the sum. Parameters carry the prefixes {@value #TEXT} and {@value #TRANSFORMER};
 * the optimizer clips by the global norm over both (each module's clip bound is scaled by its share of the norm).
 * Closing closes both modules.
 */
public final class JointTextModule implements DifferentiableModule {
    /** Prefix of the text encoder's parameters. */
    public static final String TEXT = "text_encoder/";
    /** Prefix of the transformer's parameters. */
    public static final String TRANSFORMER = "transformer/";

    private final DifferentiableModule text;
    private final DifferentiableModule transformer;
    private final Store store = new Store();
    private final JointOptimizer optimizer;

    /**
     * @param text the text encoder module: input {@code x} = ids as floats {@code [B, L]}, {@code mask} = the attention
     *     mask, output {@code last_hidden_state}; trainable
     * @param transformer the flow transformer module (the in-house denoiser bindings); trainable
     */
    public JointTextModule(DifferentiableModule text, DifferentiableModule transformer) {
        if (!text.trainable() || !transformer.trainable()) {
            throw new InvalidRequestException("JointTextModule: both modules must be trainable (built with an optimizer)");
        }
        this.text = text;
        this.transformer = transformer;
        this.optimizer = new JointOptimizer();
    }

    /** @return a prompt encoder giving the Shapes token ids and masks as conditioning (tokens = ids, mask), no pooled */
    public static PromptEncoder idsEncoder() {
        return prompts -> {
            var t = ShapesTokenizer.tokenizer().tokenize(prompts);
            int n = prompts.size();
            int len = ShapesTokenizer.LENGTH;
            float[] ids = new float[n * len];
            float[] mask = new float[n * len];
            for (int b = 0; b < n; b++) {
                for (int i = 0; i < len; i++) {
                    ids[b * len + i] = t.ids()[b][i];
                    mask[b * len + i] = t.mask()[b][i];
                }
            }
            return new Conditioning(Tensor.wrap(ids, n, len), null, Tensor.wrap(mask, n, len), Map.of());
        };
    }

    private record Encoded(Tensor hidden, Tensor pooled, Tensor mask, ModuleInputs textIn) {
    }

    private Encoded encode(ModuleInputs in) {
        Tensor ids = in.get(ModuleInputs.TOKENS);
        Tensor mask = in.get(ModuleInputs.MASK);
        ModuleInputs textIn = new ModuleInputs(Map.of(ModuleInputs.X, ids, ModuleInputs.MASK, mask));
        Tensor h = text.forward(textIn);
        return new Encoded(h, maskedMean(h, mask), mask, textIn);
    }

    /** The text encoder graph's {@code pooler_output}: the mean of the tokens where the mask is non-zero (0 if none). */
    static Tensor maskedMean(Tensor h, Tensor mask) {
        int b = h.dim(0);
        int len = h.dim(1);
        int w = h.dim(2);
        float[] hv = h.toArray();
        float[] mv = mask.toArray();
        float[] out = new float[b * w];
        for (int s = 0; s < b; s++) {
            float count = 0;
            for (int i = 0; i < len; i++) {
                count += mv[s * len + i] != 0 ? 1 : 0;
            }
            for (int i = 0; i < len; i++) {
                if (mv[s * len + i] != 0) {
                    for (int k = 0; k < w; k++) {
                        out[s * w + k] += hv[(s * len + i) * w + k];
                    }
                }
            }
            float c = count == 0 ? 1 : count;
            for (int k = 0; k < w; k++) {
                out[s * w + k] /= c;
            }
        }
        return Tensor.wrap(out, b, w);
    }

    private static ModuleInputs transformerInputs(ModuleInputs in, Encoded e) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(ModuleInputs.X, in.x());
        m.put(ModuleInputs.SIGMA, in.get(ModuleInputs.SIGMA));
        m.put(ModuleInputs.TOKENS, e.hidden());
        m.put(ModuleInputs.POOLED, e.pooled());
        return new ModuleInputs(m);
    }

    @Override
    public Tensor forward(ModuleInputs inputs) {
        return transformer.forward(transformerInputs(inputs, encode(inputs)));
    }

    @Override
    public BackwardResult backward(ModuleInputs inputs, Upstream upstream, GradientMode mode) {
        Encoded e = encode(inputs);
        BackwardResult r = transformer.backward(transformerInputs(inputs, e), upstream,
                mode.parameters() ? GradientMode.BOTH : GradientMode.INPUTS);
        if (mode.parameters()) {
            Tensor dh = r.inputGradient(ModuleInputs.TOKENS);
            Tensor dp = r.inputGradient(ModuleInputs.POOLED);
            text.backward(e.textIn(), Upstream.explicit(spreadPooled(dh, dp, e.mask())), GradientMode.PARAMETERS);
        }
        Map<String, Tensor> grads = new LinkedHashMap<>();
        if (mode.inputs()) {
            grads.put(ModuleInputs.X, r.inputGradient(ModuleInputs.X));
        }
        return new BackwardResult(r.loss(), r.output(), grads);
    }

    /** {@code dL/dh_i + mask_i / count * dL/dpooled}: the pooled gradient through the masked mean. */
    static Tensor spreadPooled(Tensor dh, Tensor dp, Tensor mask) {
        int b = dh.dim(0);
        int len = dh.dim(1);
        int w = dh.dim(2);
        float[] g = dh.toArray();
        float[] pv = dp.toArray();
        float[] mv = mask.toArray();
        for (int s = 0; s < b; s++) {
            float count = 0;
            for (int i = 0; i < len; i++) {
                count += mv[s * len + i] != 0 ? 1 : 0;
            }
            if (count == 0) {
                continue;
            }
            for (int i = 0; i < len; i++) {
                if (mv[s * len + i] != 0) {
                    for (int k = 0; k < w; k++) {
                        g[(s * len + i) * w + k] += pv[s * w + k] / count;
                    }
                }
            }
        }
        return Tensor.wrap(g, dh.shape());
    }

    @Override
    public ParameterStore parameters() {
        return store;
    }

    @Override
    public Optimizer optimizer() {
        return optimizer;
    }

    @Override
    public void close() {
        try {
            text.close();
        } finally {
            transformer.close();
        }
    }

    /** @return the text encoder's own parameters (unprefixed names) */
    public ParameterStore textParameters() {
        return text.parameters();
    }

    /** @return the transformer's own parameters (unprefixed names) */
    public ParameterStore transformerParameters() {
        return transformer.parameters();
    }

    private static String unprefix(String name, String prefix) {
        return name.substring(prefix.length());
    }

    private final class Store implements ParameterStore {
        @Override
        public List<ParameterSpec> specs() {
            List<ParameterSpec> out = new ArrayList<>();
            for (ParameterSpec p : text.parameters().specs()) {
                out.add(new ParameterSpec(TEXT + p.name(), p.shape()));
            }
            for (ParameterSpec p : transformer.parameters().specs()) {
                out.add(new ParameterSpec(TRANSFORMER + p.name(), p.shape()));
            }
            return out;
        }

        @Override
        public Tensor read(String name) {
            return name.startsWith(TEXT) ? text.parameters().read(unprefix(name, TEXT))
                    : transformer.parameters().read(unprefix(name, TRANSFORMER));
        }

        @Override
        public void write(String name, Tensor value) {
            if (name.startsWith(TEXT)) {
                text.parameters().write(unprefix(name, TEXT), value);
            } else {
                transformer.parameters().write(unprefix(name, TRANSFORMER), value);
            }
        }
    }

    private final class JointOptimizer implements Optimizer {
        private Optimizer a() {
            return text.optimizer();
        }

        private Optimizer b() {
            return transformer.optimizer();
        }

        @Override
        public void zeroGradients() {
            a().zeroGradients();
            b().zeroGradients();
        }

        @Override
        public Tensor gradient(String name) {
            return name.startsWith(TEXT) ? a().gradient(unprefix(name, TEXT)) : b().gradient(unprefix(name, TRANSFORMER));
        }

        @Override
        public double gradientNorm() {
            return Math.hypot(a().gradientNorm(), b().gradientNorm());
        }

        @Override
        public double clipGradientNorm(double maxNorm) {
            double na = a().gradientNorm();
            double nb = b().gradientNorm();
            double n = Math.hypot(na, nb);
            if (n > maxNorm && n > 0) {
                a().clipGradientNorm(maxNorm * na / n);
                b().clipGradientNorm(maxNorm * nb / n);
            }
            return n;
        }

        @Override
        public void step() {
            a().step();
            b().step();
        }

        @Override
        public long stepCount() {
            return b().stepCount();
        }

        @Override
        public double learningRate() {
            return b().learningRate();
        }

        @Override
        public OptimizerState state() {
            Map<String, Tensor> slots = new LinkedHashMap<>();
            OptimizerState sa = a().state();
            OptimizerState sb = b().state();
            sa.slots().forEach((k, v) -> slots.put(prefixSlot(k, TEXT), v));
            sb.slots().forEach((k, v) -> slots.put(prefixSlot(k, TRANSFORMER), v));
            return new OptimizerState(sb.step(), slots);
        }

        @Override
        public void restore(OptimizerState state) {
            Map<String, Tensor> sa = new LinkedHashMap<>();
            Map<String, Tensor> sb = new LinkedHashMap<>();
            state.slots().forEach((k, v) -> {
                int slash = k.indexOf('/');
                String rest = k.substring(slash + 1);
                if (rest.startsWith(TEXT)) {
                    sa.put(k.substring(0, slash + 1) + unprefix(rest, TEXT), v);
                } else {
                    sb.put(k.substring(0, slash + 1) + unprefix(rest, TRANSFORMER), v);
                }
            });
            a().restore(new OptimizerState(state.step(), sa));
            b().restore(new OptimizerState(state.step(), sb));
        }

        /** {@code m/<name>} becomes {@code m/<prefix><name>}. */
        private static String prefixSlot(String slot, String prefix) {
            int slash = slot.indexOf('/');
            return slot.substring(0, slash + 1) + prefix + slot.substring(slash + 1);
        }
    }

    /** @return the text encoder graph's inputs the module feeds: ids and mask */
    static List<String> textInputs() {
        return List.of(TextTransformer.INPUT_IDS, TextTransformer.ATTENTION_MASK);
    }
}
