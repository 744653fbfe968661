package io.senseflow.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The named, batch-first inputs of a {@link DifferentiableModule}. Denoisers use the standard names
 * {@link #X}, {@link #SIGMA}, {@link #TOKENS}, {@link #POOLED}, {@link #MASK} (and a conditioning's extras under
 * their own names); backends map these onto their graph's inputs and timestep scales.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param tensors the inputs by name
 */
public record ModuleInputs(Map<String, Tensor> tensors) {
    /** The state or image a module transforms. */
    public static final String X = "x";
    /** Noise level per sample in the flow convention, shape {@code [B]}. */
    public static final String SIGMA = "sigma";
    /** Token embeddings {@code [B, L, D]}. */
    public static final String TOKENS = "tokens";
    /** Pooled text embedding {@code [B, P]}. */
    public static final String POOLED = "pooled";
    /** A DDPM model's timestep per sample, shape {@code [B]} (set by {@link EpsilonFlowModule}). */
    public static final String TIMESTEP = "timestep";
    /** Attention mask {@code [B, L]}. */
    public static final String MASK = "mask";

    public ModuleInputs {
        tensors = Map.copyOf(tensors);
    }

    /**
     * Inputs of a denoiser.
     *
     * @param x the states
     * @param sigmas noise level per sample
     * @param conditioning the conditioning (its components become inputs)
     * @return the inputs
     */
    public static ModuleInputs denoiser(Tensor x, float[] sigmas, Conditioning conditioning) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(X, x);
        m.put(SIGMA, Tensor.of(sigmas, sigmas.length));
        if (conditioning != null) {
            m.put(TOKENS, conditioning.tokens());
            if (conditioning.pooled() != null) {
                m.put(POOLED, conditioning.pooled());
            }
            if (conditioning.mask() != null) {
                m.put(MASK, conditioning.mask());
            }
            m.putAll(conditioning.extras());
        }
        return new ModuleInputs(m);
    }

    /**
     * Inputs of a module that looks at one image or sample batch (a discriminator, a decoder), optionally with a
     * conditioning.
     *
     * @param x the input batch
     * @param conditioning the conditioning, or null
     * @return the inputs
     */
    public static ModuleInputs of(Tensor x, Conditioning conditioning) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(X, x);
        if (conditioning != null) {
            m.put(TOKENS, conditioning.tokens());
            if (conditioning.pooled() != null) {
                m.put(POOLED, conditioning.pooled());
            }
            if (conditioning.mask() != null) {
                m.put(MASK, conditioning.mask());
            }
        }
        return new ModuleInputs(m);
    }

    /** @param name input name @return the tensor, never null */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw InvalidRequestException.of("module input '" + name + "'", "present", "missing (have " + tensors.keySet() + ")");
        }
        return t;
    }

    /** @param name input name @return the tensor or null */
    public Tensor getOrNull(String name) {
        return tensors.get(name);
    }

    /** @return the main input {@link #X} */
    public Tensor x() {
        return get(X);
    }

    /** @return the batch size of {@link #X} */
    public int batch() {
        return x().batch();
    }

    /** @param name input name @param value tensor @return a copy with that input replaced */
    public ModuleInputs with(String name, Tensor value) {
        Map<String, Tensor> m = new LinkedHashMap<>(tensors);
        m.put(name, value);
        return new ModuleInputs(m);
    }
}
