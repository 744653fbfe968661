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
 * The in-house text encoder: a small bidirectional pre-LN transformer with CLIP-style parameter names.
 *
 * <p>Inputs {@code input_ids [batch, length]} and {@code attention_mask [batch, length]} (both INT64; a non-zero mask
 * entry marks a real token); outputs {@code last_hidden_state [batch, length, width]} and
 * {@code pooler_output [batch, width]}, the mean of {@code last_hidden_state} over the unmasked tokens (0 for a sample
 * without any).
 *
 * <p>Structure: {@code embeddings.token_embedding} (Gather, N(0, 0.02²)) plus {@code embeddings.position_embedding}
 * (learned, N(0, 0.01²)); {@code encoder.layers.i}: {@code layer_norm1}, self-attention ({@code self_attn.q_proj,
 * k_proj, v_proj, out_proj}) whose scores get −1e9 at masked keys, residual, {@code layer_norm2}, GELU MLP
 * ({@code mlp.fc1}, {@code mlp.fc2}), residual; then {@code final_layer_norm}. LayerNorm epsilon 1e-5.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class TextTransformer {
    /** The value of {@link ArchitectureMetadata#ARCHITECTURE}. */
    public static final String ARCHITECTURE = "text_encoder";
    /** Input: token ids, INT64 {@code [batch, length]}. */
    public static final String INPUT_IDS = "input_ids";
    /** Input: 1 for real tokens, 0 for padding, INT64 {@code [batch, length]}. */
    public static final String ATTENTION_MASK = "attention_mask";
    /** Output: per-token features {@code [batch, length, width]}. */
    public static final String LAST_HIDDEN_STATE = "last_hidden_state";
    /** Output: masked mean of the token features {@code [batch, width]}. */
    public static final String POOLER_OUTPUT = "pooler_output";
    /** Epsilon of the LayerNorms. */
    public static final float NORM_EPS = 1e-5f;
    /** The score bias of a masked key: large enough that its softmax weight is exactly 0, finite so no NaN appears. */
    public static final float MASKED_SCORE = -1e9f;

    private TextTransformer() {
    }

    /**
     * @param config the architecture
     * @param seed the initialisation seed
     * @return the model with {@link Init#DEFAULT} initialisation
     */
    public static OnnxModel build(Config config, long seed) {
        return build(config, seed, Init.DEFAULT);
    }

    /**
     * @param config the architecture
     * @param seed the initialisation seed
     * @param init the initialisation mode
     * @return the model, with its configuration in the metadata properties ({@link ArchitectureMetadata})
     */
    public static OnnxModel build(Config config, long seed, Init init) {
        Checks.notNull("config", config);
        GraphBuilder g = GraphBuilder.create(ARCHITECTURE);
        Params p = Params.values(g, seed, init);
        TextTransformerGraph.define(new Layers(g, p), config);
        ArchitectureMetadata.write(g, ARCHITECTURE, config.toJson(), seed, init, ParameterSpec.totalSize(p.specs()));
        g.docString("SenseFlow text encoder, " + config);
        return g.build();
    }

    /** @param config the architecture @return name and shape of every parameter, in graph order, without weights */
    public static List<ParameterSpec> parameters(Config config) {
        Checks.notNull("config", config);
        GraphBuilder g = GraphBuilder.create(ARCHITECTURE);
        Params p = Params.shapesOnly(g);
        TextTransformerGraph.define(new Layers(g, p), config);
        return p.specs();
    }

    /** @param config the architecture @return the number of parameter elements */
    public static long parameterCount(Config config) {
        return ParameterSpec.totalSize(parameters(config));
    }

    /**
     * The architecture of a text encoder.
     *
     * @param vocab vocabulary size (ids must be in [0, vocab))
     * @param length number of tokens, fixed
     * @param width model width, a multiple of heads
     * @param depth number of encoder layers
     * @param heads attention heads
     * @param mlpRatio MLP hidden width over the model width (hidden = floor(width * mlpRatio), at least 1)
     */
    public record Config(int vocab, int length, int width, int depth, int heads, double mlpRatio) {
        private static final String OWNER = "TextTransformer.Config";
        private static final Set<String> KEYS = Set.of("vocab", "length", "width", "depth", "heads", "mlp_ratio");

        /** Validates the sizes. */
        public Config {
            Checks.positive(OWNER, "vocab", vocab);
            Checks.positive(OWNER, "length", length);
            Checks.positive(OWNER, "width", width);
            Checks.positive(OWNER, "depth", depth);
            Checks.positive(OWNER, "heads", heads);
            if (!(mlpRatio > 0) || Double.isInfinite(mlpRatio) || Math.floor(width * mlpRatio) < 1
                    || width * mlpRatio > Integer.MAX_VALUE) {
                throw Checks.invalid(OWNER, "mlpRatio", "a finite positive ratio with 1 <= width * mlpRatio < 2^31",
                        mlpRatio);
            }
            Checks.multipleOf(OWNER, "width", width, "heads", heads);
        }

        /** @return vocabulary 4096, 16 tokens, width 128, 2 layers, 4 heads, MLP ratio 4 */
        public static Config defaults() {
            return new Config(4096, 16, 128, 2, 4, 4.0);
        }

        /** @return a builder starting from {@link #defaults()} */
        public static Builder builder() {
            return new Builder(defaults());
        }

        /** @return a builder starting from this configuration */
        public Builder toBuilder() {
            return new Builder(this);
        }

        /** @return the MLP hidden width */
        public int mlpHidden() {
            return (int) Math.floor(width * mlpRatio);
        }

        /** @return the JSON form, as stored in {@link ArchitectureMetadata#CONFIG} */
        public String toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("vocab", (long) vocab);
            m.put("length", (long) length);
            m.put("width", (long) width);
            m.put("depth", (long) depth);
            m.put("heads", (long) heads);
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
            return new Config(o.getInt("vocab"), o.getInt("length"), o.getInt("width"), o.getInt("depth"),
                    o.getInt("heads"), o.getDouble("mlp_ratio"));
        }

        /**
         * @param model a model built by {@link TextTransformer#build}
         * @return its configuration
         * @throws io.senseflow.ModelLoadException if the metadata is missing, names another architecture or holds an
         *     invalid configuration
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

    /** Builds a {@link Config}. */
    public static final class Builder {
        private int vocab;
        private int length;
        private int width;
        private int depth;
        private int heads;
        private double mlpRatio;

        private Builder(Config c) {
            vocab = c.vocab;
            length = c.length;
            width = c.width;
            depth = c.depth;
            heads = c.heads;
            mlpRatio = c.mlpRatio;
        }

        /** @param v vocabulary size @return this builder */
        public Builder vocab(int v) {
            vocab = v;
            return this;
        }

        /** @param v number of tokens @return this builder */
        public Builder length(int v) {
            length = v;
            return this;
        }

        /** @param v model width @return this builder */
        public Builder width(int v) {
            width = v;
            return this;
        }

        /** @param v number of layers @return this builder */
        public Builder depth(int v) {
            depth = v;
            return this;
        }

        /** @param v attention heads @return this builder */
        public Builder heads(int v) {
            heads = v;
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
            return new Config(vocab, length, width, depth, heads, mlpRatio);
        }
    }
}
