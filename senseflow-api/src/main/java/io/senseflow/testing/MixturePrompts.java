package io.senseflow.testing;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.PromptEncoder;
import io.senseflow.tensor.Tensor;
import java.util.List;

/**
 * The "text encoder" of the mixture test models: a prompt names the mixture components it allows, e.g.
 * {@code "modes 0,3"}; an empty prompt (or {@code "all"}) allows every component. The conditioning is the
 * allow-mask as token states {@code [B, 1, K]} and as the pooled vector {@code [B, K]}.
 *
 * <p>Stateless: safe to share between threads.
 */
public final class MixturePrompts implements PromptEncoder {
    private final int components;

    /** @param components number of mixture components K */
    public MixturePrompts(int components) {
        this.components = components;
    }

    @Override
    public Conditioning encode(List<String> prompts) {
        float[] mask = new float[prompts.size() * components];
        for (int b = 0; b < prompts.size(); b++) {
            boolean[] allowed = parse(prompts.get(b));
            for (int k = 0; k < components; k++) {
                mask[b * components + k] = allowed[k] ? 1f : 0f;
            }
        }
        Tensor pooled = Tensor.wrap(mask, prompts.size(), components);
        return Conditioning.of(pooled.reshape(prompts.size(), 1, components), pooled);
    }

    /**
     * @param prompt {@code "modes i,j,..."}, {@code "all"} or empty
     * @return the allowed components
     */
    public boolean[] parse(String prompt) {
        boolean[] allowed = new boolean[components];
        String p = prompt.trim();
        if (p.isEmpty() || p.equals("all")) {
            java.util.Arrays.fill(allowed, true);
            return allowed;
        }
        if (!p.startsWith("modes ")) {
            throw InvalidRequestException.of("prompt", "\"modes i,j,...\", \"all\" or empty", "\"" + prompt + "\"");
        }
        for (String part : p.substring(6).split(",")) {
            int k;
            try {
                k = Integer.parseInt(part.trim());
            } catch (NumberFormatException e) {
                throw InvalidRequestException.of("prompt", "comma-separated component indices", "\"" + prompt + "\"");
            }
            if (k < 0 || k >= components) {
                throw InvalidRequestException.of("prompt", "component indices in [0, " + components + ")", k);
            }
            allowed[k] = true;
        }
        return allowed;
    }

    /**
     * @param conditioning a conditioning this encoder produced
     * @param sample the sample
     * @return the allowed components of that sample
     */
    public static boolean[] allowed(Conditioning conditioning, int sample) {
        Tensor pooled = conditioning.pooled();
        int k = pooled.dim(1);
        boolean[] a = new boolean[k];
        for (int i = 0; i < k; i++) {
            a[i] = pooled.at(sample, i) > 0.5f;
        }
        return a;
    }
}
