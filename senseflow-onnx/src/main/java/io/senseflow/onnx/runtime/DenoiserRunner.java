package io.senseflow.onnx.runtime;

import io.senseflow.BackendException;
import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.LatentFormat;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** Runs a denoiser model through a {@link DenoiserBinding}; shared by {@link OrtGenerator} and {@link OrtEpsilonModel}. */
final class DenoiserRunner {
    private final OrtModel model;
    private final DenoiserBinding binding;
    private final LatentFormat format;
    private final String output;
    private final TensorSpec timestepSpec;

    DenoiserRunner(OrtModel model, DenoiserBinding binding, LatentFormat format) {
        this.model = Objects.requireNonNull(model, "model");
        this.binding = Objects.requireNonNull(binding, "binding");
        this.format = Objects.requireNonNull(format, "latentFormat");
        for (String name : new String[] {binding.sample(), binding.timestep(), binding.tokens(), binding.pooled(), binding.mask()}) {
            requireInput(name);
        }
        binding.constantNames().forEach(this::requireInput);
        if (binding.output() != null && !model.hasOutput(binding.output())) {
            throw new ModelLoadException(model.name() + " has no output '" + binding.output() + "'; its outputs are "
                    + model.outputs().keySet());
        }
        this.output = binding.output() != null ? binding.output() : model.outputs().keySet().iterator().next();
        this.timestepSpec = model.input(binding.timestep());
        TensorSpec sample = model.input(binding.sample());
        int axis = binding.channelAxis();
        if (sample.rank() > axis && sample.fixedDim(axis) >= 0 && sample.fixedDim(axis) != format.channels()) {
            throw new ModelLoadException(model.name() + " expects " + sample.fixedDim(axis) + " latent channels on '"
                    + binding.sample() + "', but the latent format says " + format.channels());
        }
    }

    private void requireInput(String name) {
        if (name != null && !model.hasInput(name)) {
            throw new ModelLoadException(model.name() + " has no input '" + name + "'; its inputs are " + model.inputs().keySet()
                    + " (adjust the DenoiserBinding)");
        }
    }

    OrtModel model() {
        return model;
    }

    LatentFormat format() {
        return format;
    }

    /**
     * @param x states {@code [B, C, ...]}
     * @param timesteps the caller's timestep per sample (scaled here by the binding)
     * @param c the conditioning
     * @return the prediction, shaped like {@code x}
     */
    Tensor run(Tensor x, float[] timesteps, Conditioning c) {
        return run(x, timesteps, c, Map.of());
    }

    /**
     * @param x states
     * @param timesteps the caller's timestep per sample
     * @param c the conditioning
     * @param perCall inputs without a batch axis that every run of this call receives unchanged (FLUX's
     *     {@code img_ids}, which depend on the image size)
     * @return the prediction, shaped like {@code x}
     */
    Tensor run(Tensor x, float[] timesteps, Conditioning c, Map<String, Tensor> perCall) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(c, "conditioning");
        int batch = x.batch();
        int axis = binding.channelAxis();
        if (x.rank() > axis && x.dim(axis) != format.channels()) {
            throw new InvalidRequestException(model.name() + " expects " + format.channels() + " latent channels, got "
                    + x.dim(axis) + " (state shape " + Arrays.toString(x.shape()) + ")");
        }
        for (String name : perCall.keySet()) {
            requireInput(name);
        }
        if (timesteps.length != batch) {
            throw InvalidRequestException.of("timesteps", batch + " values, one per sample", timesteps.length);
        }
        if (c.batch() != batch) {
            throw InvalidRequestException.of("conditioning", "batch " + batch + " like the state", "batch " + c.batch());
        }
        boolean integral = !timestepSpec.isFloatingPoint();
        float[] t = new float[batch];
        for (int i = 0; i < batch; i++) {
            float v = binding.timestepScale() * timesteps[i];
            // integer timestep inputs cannot see fractions: round to the nearest step
            t[i] = integral ? (float) Math.rint(v) : v;
        }
        if (!timestepSpec.isScalar()) {
            return checked(x, once(x, t, c, perCall));
        }
        // a scalar timestep serves one run: run each stretch of equal timesteps on its own
        List<Tensor> parts = new ArrayList<>();
        int from = 0;
        for (int i = 1; i <= batch; i++) {
            if (i == batch || Float.floatToIntBits(t[i]) != Float.floatToIntBits(t[from])) {
                parts.add(from == 0 && i == batch ? once(x, t, c, perCall)
                        : once(x.sliceBatch(from, i), Arrays.copyOfRange(t, from, i), c.slice(from, i), perCall));
                from = i;
            }
        }
        return checked(x, parts.size() == 1 ? parts.get(0) : Tensor.concatBatch(parts));
    }

    private Tensor once(Tensor x, float[] t, Conditioning c, Map<String, Tensor> perCall) {
        OrtInputs in = OrtInputs.create().put(binding.sample(), x).put(binding.timestep(), Tensor.vector(t));
        if (binding.tokens() != null) {
            in.put(binding.tokens(), c.tokens());
        }
        if (binding.pooled() != null) {
            if (c.pooled() == null) {
                throw new InvalidRequestException(model.name() + " takes a pooled embedding on '" + binding.pooled()
                        + "', but the conditioning has none");
            }
            in.put(binding.pooled(), c.pooled());
        }
        if (binding.mask() != null) {
            if (c.mask() == null) {
                throw new InvalidRequestException(model.name() + " takes an attention mask on '" + binding.mask()
                        + "', but the conditioning has none");
            }
            in.put(binding.mask(), c.mask());
        }
        for (Map.Entry<String, Tensor> e : c.extras().entrySet()) {
            if (!model.hasInput(e.getKey())) {
                throw new InvalidRequestException("conditioning extra '" + e.getKey() + "' matches no input of " + model.name()
                        + "; its inputs are " + model.inputs().keySet());
            }
            in.put(e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Tensor> e : perCall.entrySet()) {
            if (in.names().contains(e.getKey())) {
                throw new InvalidRequestException("input '" + e.getKey() + "' of " + model.name()
                        + " is set by the generator itself and must not come as a conditioning extra");
            }
            in.put(e.getKey(), e.getValue());
        }
        for (Map.Entry<String, OrtInputs.Value> e : binding.constants().entrySet()) {
            if (in.names().contains(e.getKey())) {
                throw new InvalidRequestException("input '" + e.getKey() + "' of " + model.name()
                        + " is both a binding constant and a conditioning extra");
            }
            if (e.getValue() instanceof OrtInputs.Floats f) {
                in.put(e.getKey(), f.tensor());
            } else {
                OrtInputs.Ids ids = (OrtInputs.Ids) e.getValue();
                in.putIds(e.getKey(), ids.values(), ids.shape());
            }
        }
        return model.runSingle(in, output);
    }

    private Tensor checked(Tensor x, Tensor out) {
        if (!out.sameShape(x)) {
            throw new BackendException(model.name() + ": output '" + output + "' has shape " + Arrays.toString(out.shape())
                    + ", expected the state's shape " + Arrays.toString(x.shape()));
        }
        return out;
    }
}
