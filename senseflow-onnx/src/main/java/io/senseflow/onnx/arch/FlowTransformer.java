package io.senseflow.onnx.arch;

import io.senseflow.train.ParameterSpec;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The in-house flow transformer: an MMDiT in the style of Stable Diffusion 3 that predicts the flow velocity
 * {@code v = eps - x0} (DESIGN.md, "Conventions").
 *
 * <p>Inputs and outputs are named like diffusers' SD3 transformer export: {@code hidden_states [batch, C, H, W]},
 * {@code encoder_hidden_states [batch, L, textWidth]}, {@code pooled_projections [batch, pooledWidth]} and
 * {@code timestep [batch]} in, {@code out_hidden_states [batch, C, H, W]} out. Unlike SD3, whose timestep input is
 * {@code 1000 s}, in-house models take the noise level {@code s} in [0, 1] (docs/algorithm.md §1) and embed {@code 1000 s}.
 *
 * <p>Structure (parameter names are diffusers' {@code SD3Transformer2DModel} names):
 * <ul>
 *   <li>{@code pos_embed.proj}: patchify with a Conv of kernel = stride = patch, plus {@code pos_embed.pos_embed}
 *       {@code [1, tokens, width]} initialised with the 2-D sin-cos table;</li>
 *   <li>{@code time_text_embed}: the sinusoidal embedding of {@code 1000 s} (256 features, cos first) through
 *       {@code timestep_embedder} (Linear-SiLU-Linear), plus {@code text_embedder} (Linear-SiLU-Linear) of the pooled
 *       projections, summed into the conditioning vector {@code c};</li>
 *   <li>{@code context_embedder}: Linear(textWidth, width) of the text tokens;</li>
 *   <li>{@code transformer_blocks.i}: adaLN-Zero modulation of {@code SiLU(c)} per stream ({@code norm1},
 *       {@code norm1_context}: shift, scale, gate for attention and for the MLP), LayerNorm without affine
 *       (eps 1e-6), joint attention over {@code [text tokens; image tokens]} with separate projections per stream
 *       ({@code attn.to_q/to_k/to_v/to_out.0} for the image, {@code attn.add_q_proj/add_k_proj/add_v_proj/to_add_out}
 *       for the text), gated residuals and a GELU MLP per stream ({@code ff}, {@code ff_context}). As in SD3, the last
 *       block only lets the text stream feed the attention (its {@code norm1_context} gives shift and scale, and it
 *       has no text output projection or text MLP), because nothing reads the text stream after it;</li>
 *   <li>{@code norm_out}: adaptive LayerNorm (scale, shift from {@code SiLU(c)}), {@code proj_out}: Linear to
 *       {@code patch² C}, then unpatchify.</li>
 * </ul>
 * Under {@link Init#DEFAULT} the modulation linears and {@code proj_out} are zero (adaLN-Zero), so a fresh model
 * outputs exactly 0.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class FlowTransformer {
    /** The value of {@link ArchitectureMetadata#ARCHITECTURE}. */
    public static final String ARCHITECTURE = "flow_transformer";
    /** Input: the noisy latents {@code [batch, C, H, W]}. */
    public static final String HIDDEN_STATES = "hidden_states";
    /** Input: the text tokens {@code [batch, L, textWidth]}. */
    public static final String ENCODER_HIDDEN_STATES = "encoder_hidden_states";
    /** Input: the pooled text embedding {@code [batch, pooledWidth]}. */
    public static final String POOLED_PROJECTIONS = "pooled_projections";
    /** Input: the noise level {@code s} in [0, 1], {@code [batch]}. */
    public static final String TIMESTEP = "timestep";
    /** Output: the velocity {@code [batch, C, H, W]}. */
    public static final String OUT_HIDDEN_STATES = "out_hidden_states";
    /** Features of the sinusoidal timestep embedding (SD3's value). */
    public static final int TIMESTEP_FEATURES = 256;
    /** The timestep input {@code s} is embedded as {@code TIMESTEP_SCALE * s}. */
    public static final float TIMESTEP_SCALE = 1000f;
    /** Epsilon of the LayerNorms. */
    public static final float NORM_EPS = 1e-6f;

    private FlowTransformer() {
    }

    /**
     * Builds the model with {@link Init#DEFAULT} initialisation.
     *
     * @param config the architecture
     * @param seed the initialisation seed
     * @return the model, with its configuration in the metadata properties
     */
    public static OnnxModel build(Config config, long seed) {
        return build(config, seed, Init.DEFAULT);
    }

    /**
     * Builds the model.
     *
     * @param config the architecture
     * @param seed the initialisation seed
     * @param init the initialisation mode
     * @return the model, with its configuration in the metadata properties ({@link ArchitectureMetadata})
     * @throws io.senseflow.InvalidRequestException if config or init is null, or a parameter would have 2^31 elements
     *     or more
     */
    public static OnnxModel build(Config config, long seed, Init init) {
        Checks.notNull("config", config);
        GraphBuilder g = GraphBuilder.create(ARCHITECTURE);
        Params p = Params.values(g, seed, init);
        FlowTransformerGraph.define(new Layers(g, p), config);
        ArchitectureMetadata.write(g, ARCHITECTURE, config.toJson(), seed, init, ParameterSpec.totalSize(p.specs()));
        g.docString("SenseFlow flow transformer (SD3-style MMDiT), " + config);
        return g.build();
    }

    /**
     * Lists the parameters without creating any weights.
     *
     * @param config the architecture
     * @return name and shape of every parameter, in graph order
     */
    public static List<ParameterSpec> parameters(Config config) {
        Checks.notNull("config", config);
        GraphBuilder g = GraphBuilder.create(ARCHITECTURE);
        Params p = Params.shapesOnly(g);
        FlowTransformerGraph.define(new Layers(g, p), config);
        return p.specs();
    }

    /** @param config the architecture @return the number of parameter elements */
    public static long parameterCount(Config config) {
        return ParameterSpec.totalSize(parameters(config));
    }

    /**
     * The architecture of a flow transformer. Sizes are fixed at build time except the batch.
     *
     * @param latentChannels channels C of the latents
     * @param latentHeight latent height H, a multiple of patchSize
     * @param latentWidth latent width W, a multiple of patchSize
     * @param patchSize side of a square patch (one token)
     * @param width the model width, a multiple of heads and of 4 (the 2-D sin-cos table)
     * @param depth the number of joint blocks
     * @param heads attention heads
     * @param textWidth width of the text tokens
     * @param textLength number of text tokens L
     * @param pooledWidth width of the pooled text embedding
     * @param mlpRatio MLP hidden width over the model width (hidden = floor(width * mlpRatio), at least 1)
     */
    public record Config(int latentChannels, int latentHeight, int latentWidth, int patchSize, int width, int depth,
                         int heads, int textWidth, int textLength, int pooledWidth, double mlpRatio) {
        private static final String OWNER = "FlowTransformer.Config";
        private static final Set<String> KEYS = Set.of("latent_channels", "latent_height", "latent_width", "patch_size",
                "width", "depth", "heads", "text_width", "text_length", "pooled_width", "mlp_ratio");

        /** Validates the sizes. */
        public Config {
            Checks.positive(OWNER, "latentChannels", latentChannels);
            Checks.positive(OWNER, "latentHeight", latentHeight);
            Checks.positive(OWNER, "latentWidth", latentWidth);
            Checks.positive(OWNER, "patchSize", patchSize);
            Checks.positive(OWNER, "width", width);
            Checks.positive(OWNER, "depth", depth);
            Checks.positive(OWNER, "heads", heads);
            Checks.positive(OWNER, "textWidth", textWidth);
            Checks.positive(OWNER, "textLength", textLength);
            Checks.positive(OWNER, "pooledWidth", pooledWidth);
            if (!(mlpRatio > 0) || Double.isInfinite(mlpRatio) || Math.floor(width * mlpRatio) < 1
                    || width * mlpRatio > Integer.MAX_VALUE) {
                throw Checks.invalid(OWNER, "mlpRatio", "a finite positive ratio with 1 <= width * mlpRatio < 2^31",
                        mlpRatio);
            }
            Checks.multipleOf(OWNER, "latentHeight", latentHeight, "patchSize", patchSize);
            Checks.multipleOf(OWNER, "latentWidth", latentWidth, "patchSize", patchSize);
            Checks.multipleOf(OWNER, "width", width, "heads", heads);
            Checks.multipleOf(OWNER, "width", width, "4 (the 2-D sin-cos position table)", 4);
        }

        /**
         * Small defaults for the demo task: 4 x 8 x 8 latents, patch 2 (16 tokens), width 128, 4 blocks, 4 heads,
         * 16 text tokens of width 128, pooled width 128, MLP ratio 4.
         *
         * @return the defaults
         */
        public static Config defaults() {
            return new Config(4, 8, 8, 2, 128, 4, 4, 128, 16, 128, 4.0);
        }

        /** @return a builder starting from {@link #defaults()} */
        public static Builder builder() {
            return new Builder(defaults());
        }

        /** @return a builder starting from this configuration */
        public Builder toBuilder() {
            return new Builder(this);
        }

        /** @return patch rows, {@code latentHeight / patchSize} */
        public int gridHeight() {
            return latentHeight / patchSize;
        }

        /** @return patch columns, {@code latentWidth / patchSize} */
        public int gridWidth() {
            return latentWidth / patchSize;
        }

        /** @return the number of image tokens */
        public int imageTokens() {
            return gridHeight() * gridWidth();
        }

        /** @return the width of one attention head */
        public int headDim() {
            return width / heads;
        }

        /** @return the MLP hidden width */
        public int mlpHidden() {
            return (int) Math.floor(width * mlpRatio);
        }

        /** @return the JSON form (snake_case keys), as stored in {@link ArchitectureMetadata#CONFIG} */
        public String toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("latent_channels", (long) latentChannels);
            m.put("latent_height", (long) latentHeight);
            m.put("latent_width", (long) latentWidth);
            m.put("patch_size", (long) patchSize);
            m.put("width", (long) width);
            m.put("depth", (long) depth);
            m.put("heads", (long) heads);
            m.put("text_width", (long) textWidth);
            m.put("text_length", (long) textLength);
            m.put("pooled_width", (long) pooledWidth);
            m.put("mlp_ratio", mlpRatio);
            return Json.write(m);
        }

        /**
         * @param json the form {@link #toJson()} writes; every field is required and unknown fields are refused
         * @return the configuration
         * @throws io.senseflow.json.JsonException if the JSON is malformed or a field is missing, unknown or mistyped
         * @throws io.senseflow.InvalidRequestException if the sizes are invalid
         */
        public static Config fromJson(String json) {
            return fromJson(Json.parseObject(json));
        }

        static Config fromJson(JsonObject o) {
            o.requireOnly(KEYS);
            return new Config(o.getInt("latent_channels"), o.getInt("latent_height"), o.getInt("latent_width"),
                    o.getInt("patch_size"), o.getInt("width"), o.getInt("depth"), o.getInt("heads"),
                    o.getInt("text_width"), o.getInt("text_length"), o.getInt("pooled_width"), o.getDouble("mlp_ratio"));
        }

        /**
         * @param model a model built by {@link FlowTransformer#build}
         * @return its configuration
         * @throws io.senseflow.ModelLoadException if the metadata is missing, names another architecture, or holds
         *     an invalid configuration; the message names the graph and the property
         */
        public static Config fromMetadata(OnnxModel model) {
            return fromMetadata(model.metadata(), ArchitectureMetadata.sourceOf(model));
        }

        /**
         * @param metadata the model's metadata properties
         * @param source the model's name for messages, such as its path
         * @return the configuration
         * @throws io.senseflow.ModelLoadException as {@link #fromMetadata(OnnxModel)}
         */
        public static Config fromMetadata(Map<String, String> metadata, String source) {
            return ArchitectureMetadata.readConfig(metadata, source, ARCHITECTURE, Config::fromJson);
        }
    }

    /** Builds a {@link Config}; every setter starts from the defaults or the configuration it was made from. */
    public static final class Builder {
        private int latentChannels;
        private int latentHeight;
        private int latentWidth;
        private int patchSize;
        private int width;
        private int depth;
        private int heads;
        private int textWidth;
        private int textLength;
        private int pooledWidth;
        private double mlpRatio;

        private Builder(Config c) {
            latentChannels = c.latentChannels;
            latentHeight = c.latentHeight;
            latentWidth = c.latentWidth;
            patchSize = c.patchSize;
            width = c.width;
            depth = c.depth;
            heads = c.heads;
            textWidth = c.textWidth;
            textLength = c.textLength;
            pooledWidth = c.pooledWidth;
            mlpRatio = c.mlpRatio;
        }

        /** @param v latent channels @return this builder */
        public Builder latentChannels(int v) {
            latentChannels = v;
            return this;
        }

        /** @param height latent height @param w latent width @return this builder */
        public Builder latentSize(int height, int w) {
            latentHeight = height;
            latentWidth = w;
            return this;
        }

        /** @param v patch side @return this builder */
        public Builder patchSize(int v) {
            patchSize = v;
            return this;
        }

        /** @param v model width @return this builder */
        public Builder width(int v) {
            width = v;
            return this;
        }

        /** @param v number of joint blocks @return this builder */
        public Builder depth(int v) {
            depth = v;
            return this;
        }

        /** @param v attention heads @return this builder */
        public Builder heads(int v) {
            heads = v;
            return this;
        }

        /** @param v text token width @return this builder */
        public Builder textWidth(int v) {
            textWidth = v;
            return this;
        }

        /** @param v number of text tokens @return this builder */
        public Builder textLength(int v) {
            textLength = v;
            return this;
        }

        /** @param v pooled text embedding width @return this builder */
        public Builder pooledWidth(int v) {
            pooledWidth = v;
            return this;
        }

        /** @param v MLP ratio @return this builder */
        public Builder mlpRatio(double v) {
            mlpRatio = v;
            return this;
        }

        /**
         * @return the configuration
         * @throws io.senseflow.InvalidRequestException naming the first invalid field
         */
        public Config build() {
            return new Config(latentChannels, latentHeight, latentWidth, patchSize, width, depth, heads, textWidth,
                    textLength, pooledWidth, mlpRatio);
        }
    }
}
