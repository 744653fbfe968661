package io.senseflow.tf.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.train.ModuleInputs;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How a denoiser graph's inputs and output map onto the module contract ({@link ModuleInputs}): the state, the noise
 * level and its scale on the graph's timestep input, the text tokens, the pooled embedding, the mask, and graph inputs
 * fed from conditioning extras of the same name (a FLUX teacher's {@code guidance}). The TensorFlow counterpart of
 * ONNX Runtime's {@code DenoiserBinding}, with the same presets.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param sample the state input
 * @param timestep the timestep input
 * @param timestepScale graph timestep = scale * s (1000 for SD3, 1 for FLUX and the in-house models)
 * @param tokens the token-embedding input, or null
 * @param pooled the pooled-embedding input, or null
 * @param mask the attention-mask input, or null
 * @param output the velocity output, or null for the graph's first output
 * @param extras graph inputs fed from the conditioning extra of the same name
 * @param timestepFrom the module input the timestep input is fed from: {@link ModuleInputs#SIGMA} (flow models), or
 *     {@link ModuleInputs#TIMESTEP} (DDPM epsilon models under {@code EpsilonFlowModule}, which sets it)
 */
public record DenoiserSpec(String sample, String timestep, double timestepScale, String tokens, String pooled,
                           String mask, String output, List<String> extras, String timestepFrom) {

    public DenoiserSpec {
        Objects.requireNonNull(sample, "sample");
        Objects.requireNonNull(timestep, "timestep");
        if (!(timestepScale > 0) || Double.isInfinite(timestepScale)) {
            throw InvalidRequestException.of("timestepScale", "a positive finite factor", timestepScale);
        }
        extras = List.copyOf(extras);
        if (!ModuleInputs.SIGMA.equals(timestepFrom) && !ModuleInputs.TIMESTEP.equals(timestepFrom)) {
            throw InvalidRequestException.of("timestepFrom", "'" + ModuleInputs.SIGMA + "' or '" + ModuleInputs.TIMESTEP
                    + "'", timestepFrom);
        }
    }

    /**
     * A flow denoiser's spec, its timestep fed from {@link ModuleInputs#SIGMA}.
     *
     * @param sample the state input
     * @param timestep the timestep input
     * @param timestepScale graph timestep = scale * s
     * @param tokens the token-embedding input, or null
     * @param pooled the pooled-embedding input, or null
     * @param mask the attention-mask input, or null
     * @param output the velocity output, or null for the graph's first output
     * @param extras graph inputs fed from the conditioning extra of the same name
     */
    public DenoiserSpec(String sample, String timestep, double timestepScale, String tokens, String pooled, String mask,
                        String output, List<String> extras) {
        this(sample, timestep, timestepScale, tokens, pooled, mask, output, extras, ModuleInputs.SIGMA);
    }

    /**
     * @return SDXL UNet exports (Optimum: {@code sample}, a rank-0 {@code timestep}, {@code encoder_hidden_states},
     *     {@code text_embeds}, {@code time_ids}): an epsilon model, its {@code timestep} fed from the DDPM timestep
     *     {@link ModuleInputs#TIMESTEP}, so wrap the module in {@code EpsilonFlowModule} for the flow convention;
     *     {@code time_ids} from the conditioning extra of that name. A rank-0 timestep takes one value per batch: the
     *     module refuses a batch whose samples have different timesteps (train at batch 1, or re-export the UNet with
     *     a per-sample timestep)
     */
    public static DenoiserSpec sdxl() {
        return new DenoiserSpec("sample", "timestep", 1, "encoder_hidden_states", "text_embeds", null, null,
                List.of("time_ids"), ModuleInputs.TIMESTEP);
    }

    /** @return the in-house flow transformer ({@code FlowTransformer}): timestep {@code s}, pooled projections */
    public static DenoiserSpec inHouse() {
        return new DenoiserSpec("hidden_states", "timestep", 1, "encoder_hidden_states", "pooled_projections", null,
                "out_hidden_states", List.of());
    }

    /** @return SD3/SD3.5 transformer exports: timestep {@code 1000 s} */
    public static DenoiserSpec sd3() {
        return new DenoiserSpec("hidden_states", "timestep", 1000, "encoder_hidden_states", "pooled_projections", null,
                null, List.of());
    }

    /** @return FLUX transformer exports: timestep {@code s}; {@code guidance} fed from the conditioning extra */
    public static DenoiserSpec flux() {
        return new DenoiserSpec("hidden_states", "timestep", 1, "encoder_hidden_states", "pooled_projections", null, null,
                List.of("guidance"));
    }

    /** @param name a graph input fed from the conditioning extra of the same name @return a copy with it */
    public DenoiserSpec withExtra(String name) {
        List<String> e = new ArrayList<>(extras);
        e.add(name);
        return new DenoiserSpec(sample, timestep, timestepScale, tokens, pooled, mask, output, e, timestepFrom);
    }

    /** @param names graph inputs no longer fed (bound to constants or removed) @return a copy without them */
    public DenoiserSpec without(List<String> names) {
        List<String> e = new ArrayList<>(extras);
        e.removeAll(names);
        return new DenoiserSpec(sample, timestep, timestepScale, names.contains(tokens) ? null : tokens,
                names.contains(pooled) ? null : pooled, names.contains(mask) ? null : mask, output, e, timestepFrom);
    }

    /** @return the input bindings, in a stable order */
    public List<InputBinding> bindings() {
        List<InputBinding> b = new ArrayList<>();
        b.add(InputBinding.of(ModuleInputs.X, sample));
        b.add(InputBinding.of(timestepFrom, timestep).scaled(timestepScale));
        if (tokens != null) {
            b.add(InputBinding.of(ModuleInputs.TOKENS, tokens));
        }
        if (pooled != null) {
            b.add(InputBinding.of(ModuleInputs.POOLED, pooled));
        }
        if (mask != null) {
            b.add(InputBinding.of(ModuleInputs.MASK, mask).withGradient(false));
        }
        for (String e : extras) {
            b.add(InputBinding.of(e, e).withGradient(false));
        }
        return b;
    }

    /**
     * Adds the bindings and the output to a module builder.
     *
     * @param builder a module builder
     * @return the builder
     */
    public TfModule.Builder applyTo(TfModule.Builder builder) {
        bindings().forEach(builder::input);
        if (output != null) {
            builder.output(output);
        }
        return builder.outputLike(ModuleInputs.X);
    }

    /**
     * Import shapes that fix the leading (batch) dimension of every graph input to {@code batch}; other dimensions stay
     * as declared (symbolic or unknown ones stay dynamic).
     *
     * @param model the graph
     * @param batch the batch size
     * @param base options to extend (trainable selection, limits)
     * @return the options
     */
    public static ImportOptions batchShapes(OnnxModel model, int batch, ImportOptions base) {
        ImportOptions.Builder b = base.toBuilder();
        for (ValueInfo v : model.graph().inputs()) {
            if (model.graph().initializer(v.name()).isPresent() || v.shape() == null
                    || base.constantInput(v.name()) != null) {
                continue;
            }
            List<Dim> s = v.shape();
            long[] dims = new long[s.size()];
            for (int i = 0; i < dims.length; i++) {
                dims[i] = i == 0 ? batch : s.get(i) instanceof Dim.Fixed f ? f.value() : -1;
            }
            b.inputShape(v.name(), dims);
        }
        return b.build();
    }
}
