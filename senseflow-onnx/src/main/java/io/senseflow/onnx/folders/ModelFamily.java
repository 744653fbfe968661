package io.senseflow.onnx.folders;

import io.senseflow.InvalidRequestException;
import java.util.Arrays;
import java.util.Locale;

/**
 * The model folder layouts the SDK loads (see {@code docs/models.md}, "Model folder layouts").
 *
 * <p>Immutable: safe to share between threads.
 */
public enum ModelFamily {
    /** Stable Diffusion 3 / 3.5: CLIP-L + CLIP-G + T5, MMDiT transformer taking {@code 1000 s}, CFG. */
    SD3("sd3"),
    /** FLUX.1: CLIP-L pooled + T5, packed 2 x 2 latents with position ids, timestep {@code s}, embedded guidance. */
    FLUX("flux"),
    /** Stable Diffusion XL: two CLIP encoders, an epsilon UNet on the DDPM table, {@code time_ids}, CFG. */
    SDXL("sdxl"),
    /** The SDK's own layout for in-house models built by {@code io.senseflow.onnx.arch}. */
    SENSEFLOW("senseflow");

    private final String id;

    ModelFamily(String id) {
        this.id = id;
    }

    /** @return the lower-case name used in {@code model_index.json}, on the command line and in messages */
    public String id() {
        return id;
    }

    /**
     * @param id a family name, case-insensitive ({@code sd3}, {@code sd35} and {@code sd3.5} mean {@link #SD3})
     * @return the family
     * @throws InvalidRequestException naming the known families
     */
    public static ModelFamily fromId(String id) {
        String key = id == null ? "" : id.trim().toLowerCase(Locale.ROOT);
        if (key.equals("sd35") || key.equals("sd3.5")) {
            return SD3;
        }
        for (ModelFamily f : values()) {
            if (f.id.equals(key)) {
                return f;
            }
        }
        throw InvalidRequestException.of("family", "one of " + Arrays.stream(values()).map(ModelFamily::id).toList(), id);
    }
}
