package io.senseflow.onnx.arch;

import io.senseflow.train.ParameterSpec;
import io.senseflow.ModelLoadException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The in-house convolutional autoencoder (the VAE of a demo task, such as 3 x 32 x 32 images and 4 x 8 x 8 latents):
 * two graphs built from one {@link Config}.
 *
 * <ul>
 *   <li>Encoder: {@code sample [batch, imageChannels, H, W]} in [-1, 1] to {@code latent [batch, latentChannels, h, w]}.
 *       {@code encoder.conv_in} (3x3), then per level {@code i} a residual block {@code down_blocks.i.resnets.0}
 *       and, except at the last level, a stride-2 3x3 conv {@code down_blocks.i.downsamplers.0.conv}; then
 *       {@code mid_block.resnets.0}, {@code conv_norm_out} (GroupNorm), SiLU and {@code conv_out} (3x3).</li>
 *   <li>Decoder: {@code latent} to {@code sample} in [-1, 1]. {@code decoder.conv_in}, {@code mid_block.resnets.0},
 *       per level (lowest resolution first) {@code up_blocks.j.resnets.0} and, except at the last, nearest-neighbour
 *       upsampling by 2 (Resize) followed by the 3x3 conv {@code up_blocks.j.upsamplers.0.conv}; then
 *       {@code conv_norm_out}, SiLU, {@code conv_out} and tanh.</li>
 * </ul>
 * A residual block is diffusers' {@code ResnetBlock2D}: GroupNorm, SiLU, 3x3 conv ({@code norm1}, {@code conv1}),
 * GroupNorm, SiLU, 3x3 conv ({@code norm2}, {@code conv2}), plus the input (through a 1x1 {@code conv_shortcut} when
 * the channel count changes). GroupNorm is written as PyTorch exports it (Reshape, InstanceNormalization with unit
 * scale and zero shift, Reshape, per-channel affine), epsilon 1e-6. The encoder is deterministic (no KL sampling):
 * its output is the latent itself. The latent scaling and shift factors travel in the configuration and in the
 * metadata properties ({@link ArchitectureMetadata#SCALING_FACTOR}, {@link ArchitectureMetadata#SHIFT_FACTOR}), not
 * in the graphs.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class Autoencoder {
    /** The value of {@link ArchitectureMetadata#ARCHITECTURE}. */
    public static final String ARCHITECTURE = "autoencoder";
    /** The image tensor: the encoder's input and the decoder's output. */
    public static final String SAMPLE = "sample";
    /** The latent tensor: the encoder's output and the decoder's input. */
    public static final String LATENT = "latent";
    /** Epsilon of the GroupNorms. */
    public static final float NORM_EPS = 1e-6f;

    /** Which of the two graphs. */
    public enum Part {
        /** Images to latents. */
        ENCODER,
        /** Latents to images. */
        DECODER;

        /** @return the name in metadata and parameter names: {@code encoder} or {@code decoder} */
        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private Autoencoder() {
    }

    /**
     * @param config the architecture
     * @param seed the initialisation seed
     * @return the encoder with {@link Init#DEFAULT} initialisation
     */
    public static OnnxModel buildEncoder(Config config, long seed) {
        return build(config, Part.ENCODER, seed, Init.DEFAULT);
    }

    /**
     * @param config the architecture
     * @param seed the initialisation seed
     * @return the decoder with {@link Init#DEFAULT} initialisation
     */
    public static OnnxModel buildDecoder(Config config, long seed) {
        return build(config, Part.DECODER, seed, Init.DEFAULT);
    }

    /**
     * Builds one of the two graphs. Encoder and decoder parameters have distinct names ({@code encoder.*},
     * {@code decoder.*}), so one seed initialises both independently.
     *
     * @param config the architecture
     * @param part which graph
     * @param seed the initialisation seed
     * @param init the initialisation mode
     * @return the model, with the configuration and {@link ArchitectureMetadata#COMPONENT} in its metadata
     */
    public static OnnxModel build(Config config, Part part, long seed, Init init) {
        Checks.notNull("config", config);
        Checks.notNull("part", part);
        GraphBuilder g = GraphBuilder.create(ARCHITECTURE + "_" + part.id());
        Params p = Params.values(g, seed, init);
        AutoencoderGraph.define(new Layers(g, p), config, part);
        ArchitectureMetadata.write(g, ARCHITECTURE, config.toJson(), seed, init, ParameterSpec.totalSize(p.specs()));
        g.metadata(ArchitectureMetadata.COMPONENT, part.id());
        g.metadata(ArchitectureMetadata.SCALING_FACTOR, Double.toString(config.scalingFactor()));
        g.metadata(ArchitectureMetadata.SHIFT_FACTOR, Double.toString(config.shiftFactor()));
        g.docString("SenseFlow autoencoder " + part.id() + ", " + config);
        return g.build();
    }

    /**
     * @param config the architecture
     * @param part which graph
     * @return name and shape of every parameter of that graph, in order, without creating weights
     */
    public static List<ParameterSpec> parameters(Config config, Part part) {
        Checks.notNull("config", config);
        Checks.notNull("part", part);
        GraphBuilder g = GraphBuilder.create(ARCHITECTURE + "_" + part.id());
        Params p = Params.shapesOnly(g);
        AutoencoderGraph.define(new Layers(g, p), config, part);
        return p.specs();
    }

    /** @param config the architecture @param part which graph @return its number of parameter elements */
    public static long parameterCount(Config config, Part part) {
        return ParameterSpec.totalSize(parameters(config, part));
    }

    /**
     * @param model a model built by {@link #build}
     * @return which graph it is
     * @throws ModelLoadException if it is not an autoencoder graph or its component property is missing or unknown
     */
    public static Part partOf(OnnxModel model) {
        String source = ArchitectureMetadata.sourceOf(model);
        Config.fromMetadata(model);
        String id = ArchitectureMetadata.require(model.metadata(), source, ArchitectureMetadata.COMPONENT);
        for (Part p : Part.values()) {
            if (p.id().equals(id)) {
                return p;
            }
        }
        throw new ModelLoadException(source + ": metadata " + ArchitectureMetadata.COMPONENT
                + ": expected encoder or decoder, got " + id);
    }

    /**
     * The architecture of an autoencoder.
     *
     * @param imageChannels channels of the images (3 for RGB)
     * @param imageHeight image height, a multiple of the downsampling factor
     * @param imageWidth image width, a multiple of the downsampling factor
     * @param latentChannels channels of the latents
     * @param channels feature channels per resolution level, highest resolution first; each level after the first
     *     halves the resolution, so the downsampling factor is {@code 2^(channels.size() - 1)}; each a multiple of
     *     groups
     * @param groups GroupNorm groups
     * @param scalingFactor latents are fed to flow models as {@code (z - shiftFactor) * scalingFactor}
     * @param shiftFactor see scalingFactor
     */
    public record Config(int imageChannels, int imageHeight, int imageWidth, int latentChannels, List<Integer> channels,
                         int groups, double scalingFactor, double shiftFactor) {
        private static final String OWNER = "Autoencoder.Config";
        private static final Set<String> KEYS = Set.of("image_channels", "image_height", "image_width",
                "latent_channels", "channels", "groups", "scaling_factor", "shift_factor");

        /** Validates the sizes and copies the channel list. */
        public Config {
            Checks.positive(OWNER, "imageChannels", imageChannels);
            Checks.positive(OWNER, "imageHeight", imageHeight);
            Checks.positive(OWNER, "imageWidth", imageWidth);
            Checks.positive(OWNER, "latentChannels", latentChannels);
            Checks.positive(OWNER, "groups", groups);
            if (channels == null || channels.isEmpty() || channels.size() > 16
                    || channels.stream().anyMatch(Objects::isNull)) { // List.of(...).contains(null) would throw
                throw Checks.invalid(OWNER, "channels", "1 to 16 channel counts, one per resolution level", channels);
            }
            channels = List.copyOf(channels);
            for (int i = 0; i < channels.size(); i++) {
                Checks.positive(OWNER, "channels[" + i + "]", channels.get(i));
                Checks.multipleOf(OWNER, "channels[" + i + "]", channels.get(i), "groups", groups);
            }
            long factor = 1L << (channels.size() - 1);
            Checks.multipleOf(OWNER, "imageHeight", imageHeight,
                    "the downsampling factor 2^(channels.size() - 1)", factor);
            Checks.multipleOf(OWNER, "imageWidth", imageWidth,
                    "the downsampling factor 2^(channels.size() - 1)", factor);
            if (!Double.isFinite(scalingFactor) || scalingFactor == 0) {
                throw Checks.invalid(OWNER, "scalingFactor", "a finite non-zero number", scalingFactor);
            }
            if (!Double.isFinite(shiftFactor)) {
                throw Checks.invalid(OWNER, "shiftFactor", "a finite number", shiftFactor);
            }
        }

        /**
         * @return 3 x 32 x 32 images, 4 x 8 x 8 latents, channels [32, 64, 64], 8 groups, scaling 1, shift 0
         */
        public static Config defaults() {
            return new Config(3, 32, 32, 4, List.of(32, 64, 64), 8, 1.0, 0.0);
        }

        /** @return a builder starting from {@link #defaults()} */
        public static Builder builder() {
            return new Builder(defaults());
        }

        /** @return a builder starting from this configuration */
        public Builder toBuilder() {
            return new Builder(this);
        }

        /** @return how much smaller the latent grid is than the image: {@code 2^(channels.size() - 1)} */
        public int downsamplingFactor() {
            return 1 << (channels.size() - 1);
        }

        /** @return latent height */
        public int latentHeight() {
            return imageHeight / downsamplingFactor();
        }

        /** @return latent width */
        public int latentWidth() {
            return imageWidth / downsamplingFactor();
        }

        /** @return the JSON form, as stored in {@link ArchitectureMetadata#CONFIG} */
        public String toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("image_channels", (long) imageChannels);
            m.put("image_height", (long) imageHeight);
            m.put("image_width", (long) imageWidth);
            m.put("latent_channels", (long) latentChannels);
            List<Object> ch = new ArrayList<>();
            for (int c : channels) {
                ch.add((long) c);
            }
            m.put("channels", ch);
            m.put("groups", (long) groups);
            m.put("scaling_factor", scalingFactor);
            m.put("shift_factor", shiftFactor);
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
            long[] raw = o.getLongArray("channels");
            List<Integer> ch = new ArrayList<>();
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] < Integer.MIN_VALUE || raw[i] > Integer.MAX_VALUE) {
                    throw Checks.invalid(OWNER, "channels[" + i + "]", "a 32-bit integer", raw[i]);
                }
                ch.add((int) raw[i]);
            }
            return new Config(o.getInt("image_channels"), o.getInt("image_height"), o.getInt("image_width"),
                    o.getInt("latent_channels"), ch, o.getInt("groups"), o.getDouble("scaling_factor"),
                    o.getDouble("shift_factor"));
        }

        /**
         * @param model an encoder or decoder built by {@link Autoencoder#build}
         * @return its configuration
         * @throws ModelLoadException if the metadata is missing, names another architecture or holds an invalid
         *     configuration
         */
        public static Config fromMetadata(OnnxModel model) {
            return fromMetadata(model.metadata(), ArchitectureMetadata.sourceOf(model));
        }

        /**
         * @param metadata the model's metadata properties
         * @param source the model's name for messages, such as its path
         * @return the configuration
         * @throws ModelLoadException as {@link #fromMetadata(OnnxModel)}
         */
        public static Config fromMetadata(Map<String, String> metadata, String source) {
            return ArchitectureMetadata.readConfig(metadata, source, ARCHITECTURE, Config::fromJson);
        }
    }

    /** Builds a {@link Config}. */
    public static final class Builder {
        private int imageChannels;
        private int imageHeight;
        private int imageWidth;
        private int latentChannels;
        private List<Integer> channels;
        private int groups;
        private double scalingFactor;
        private double shiftFactor;

        private Builder(Config c) {
            imageChannels = c.imageChannels;
            imageHeight = c.imageHeight;
            imageWidth = c.imageWidth;
            latentChannels = c.latentChannels;
            channels = c.channels;
            groups = c.groups;
            scalingFactor = c.scalingFactor;
            shiftFactor = c.shiftFactor;
        }

        /** @param v image channels @return this builder */
        public Builder imageChannels(int v) {
            imageChannels = v;
            return this;
        }

        /** @param height image height @param width image width @return this builder */
        public Builder imageSize(int height, int width) {
            imageHeight = height;
            imageWidth = width;
            return this;
        }

        /** @param v latent channels @return this builder */
        public Builder latentChannels(int v) {
            latentChannels = v;
            return this;
        }

        /** @param v channels per resolution level, highest resolution first @return this builder */
        public Builder channels(Integer... v) {
            channels = List.of(v);
            return this;
        }

        /** @param v GroupNorm groups @return this builder */
        public Builder groups(int v) {
            groups = v;
            return this;
        }

        /** @param v latent scaling factor @return this builder */
        public Builder scalingFactor(double v) {
            scalingFactor = v;
            return this;
        }

        /** @param v latent shift factor @return this builder */
        public Builder shiftFactor(double v) {
            shiftFactor = v;
            return this;
        }

        /**
         * @return the configuration
         * @throws io.senseflow.InvalidRequestException naming the first invalid field
         */
        public Config build() {
            return new Config(imageChannels, imageHeight, imageWidth, latentChannels, channels, groups, scalingFactor,
                    shiftFactor);
        }
    }
}
