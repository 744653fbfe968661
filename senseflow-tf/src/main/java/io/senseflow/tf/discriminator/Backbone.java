package io.senseflow.tf.discriminator;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.OnnxModel;
import java.util.ArrayList;
import java.util.List;

/**
 * A frozen vision backbone for the discriminator (docs/algorithm.md §5): an ONNX vision transformer (a DINOv2 export, a
 * PyTorch ViT, a graph built with {@code GraphBuilder}), the taps heads read, how images are preprocessed, and how
 * token outputs become grids. Immutable; build with {@link #builder(OnnxModel)}. Every initializer of the graph is
 * imported frozen (constants, or non-trainable variables when large): the backbone never appears in a gradient list.
 *
 * <p><b>Tokens to grids.</b> A tap of shape {@code [B, T, D]} holds {@code prefix} leading tokens (CLS, registers)
 * and then the {@code (H/p) x (W/p)} patch tokens in row-major order, for the backbone's input size {@code H x W}
 * and patch size {@code p}; {@code prefix = T - (H/p)(W/p)} unless given. The patch tokens become a
 * {@code [B, H/p, W/p, D]} grid; the prefix tokens are dropped, or, with {@link ClsToken#CONCAT}, the first one (CLS)
 * is appended to every grid position's channels ({@code 2D} channels). A tap of shape {@code [B, D, h, w]} (a
 * convolution's output, such as the patch embedding) is used as it is.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class Backbone {
    /** What happens to the CLS token of token-shaped taps. */
    public enum ClsToken {
        /** Drop it (and any register tokens). */
        DROP,
        /** Append the CLS token's features to every patch token's (register tokens are dropped). */
        CONCAT
    }

    private final OnnxModel model;
    private final String input;
    private final Preprocessing preprocessing;
    private final List<Tap> taps;
    private final ClsToken clsToken;
    private final int prefixTokens;
    private final int patchHeight;
    private final int patchWidth;

    private Backbone(Builder b) {
        this.model = b.model;
        this.input = b.input;
        this.preprocessing = b.preprocessing;
        this.taps = List.copyOf(b.taps);
        this.clsToken = b.clsToken;
        this.prefixTokens = b.prefixTokens;
        this.patchHeight = b.patchHeight;
        this.patchWidth = b.patchWidth;
    }

    /** @param model the backbone graph @return a builder with no taps yet, ImageNet preprocessing, CLS dropped */
    public static Builder builder(OnnxModel model) {
        return new Builder(model);
    }

    /** @return the ONNX graph */
    public OnnxModel model() {
        return model;
    }

    /** @return the image input's name, or null for the graph's only input */
    public String input() {
        return input;
    }

    /** @return the preprocessing */
    public Preprocessing preprocessing() {
        return preprocessing;
    }

    /** @return the taps, one head each */
    public List<Tap> taps() {
        return taps;
    }

    /** @return the CLS token's treatment */
    public ClsToken clsToken() {
        return clsToken;
    }

    /** @return leading non-patch tokens of token taps; -1 to infer */
    public int prefixTokens() {
        return prefixTokens;
    }

    /** @return the patch height given explicitly, 0 to detect from the graph */
    public int patchHeight() {
        return patchHeight;
    }

    /** @return the patch width given explicitly, 0 to detect from the graph */
    public int patchWidth() {
        return patchWidth;
    }

    /** Builder of {@link Backbone}. */
    public static final class Builder {
        private final OnnxModel model;
        private String input;
        private Preprocessing preprocessing = Preprocessing.imagenet();
        private final List<Tap> taps = new ArrayList<>();
        private ClsToken clsToken = ClsToken.DROP;
        private int prefixTokens = -1;
        private int patchHeight;
        private int patchWidth;

        private Builder(OnnxModel model) {
            if (model == null) {
                throw InvalidRequestException.of("backbone model", "an ONNX model", "null");
            }
            this.model = model;
        }

        /** @param name the image input (default: the graph's only input) @return this */
        public Builder input(String name) {
            this.input = name;
            return this;
        }

        /** @param p the preprocessing (default {@link Preprocessing#imagenet()}) @return this */
        public Builder preprocessing(Preprocessing p) {
            this.preprocessing = java.util.Objects.requireNonNull(p, "preprocessing");
            return this;
        }

        /** @param tap one more tap (one head) @return this */
        public Builder tap(Tap tap) {
            taps.add(java.util.Objects.requireNonNull(tap, "tap"));
            return this;
        }

        /** @param list more taps, in order @return this */
        public Builder taps(List<Tap> list) {
            list.forEach(this::tap);
            return this;
        }

        /** @param mode the CLS token's treatment (default {@link ClsToken#DROP}) @return this */
        public Builder clsToken(ClsToken mode) {
            this.clsToken = java.util.Objects.requireNonNull(mode, "clsToken");
            return this;
        }

        /** @param n leading non-patch tokens (CLS + registers); default inferred from the token count @return this */
        public Builder prefixTokens(int n) {
            if (n < 0) {
                throw InvalidRequestException.of("backbone prefixTokens", "a count >= 0", n);
            }
            this.prefixTokens = n;
            return this;
        }

        /**
         * @param h patch height
         * @param w patch width
         * @return this, with the patch size given instead of detected from the patchifying convolution
         */
        public Builder patchSize(int h, int w) {
            if (h < 1 || w < 1) {
                throw InvalidRequestException.of("backbone patchSize", "sizes >= 1", h + "x" + w);
            }
            this.patchHeight = h;
            this.patchWidth = w;
            return this;
        }

        /** @return the backbone */
        public Backbone build() {
            if (taps.isEmpty()) {
                throw InvalidRequestException.of("backbone taps", "at least one tap (one head per tap)", "none");
            }
            return new Backbone(this);
        }
    }
}
