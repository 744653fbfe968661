package io.senseflow.tf.run;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.onnx.runtime.OrtFluxGenerator;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.discriminator.Backbone;
import io.senseflow.tf.discriminator.BackboneStructure;
import io.senseflow.tf.discriminator.HeadSpec;
import io.senseflow.tf.discriminator.Preprocessing;
import io.senseflow.tf.discriminator.Tap;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Optimizer;
import io.senseflow.train.ParameterStore;
import io.senseflow.train.Upstream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The parts of the run's VFM discriminator ({@code --backbone}): the check that a file is a vision backbone, the taps
 * and preprocessing the run uses for it, and the teacher's VAE decoder in TensorFlow in front of it, so the
 * discriminator sees decoded images and the generator's GAN gradient passes back through the decoder.
 *
 * <p>Stateless helpers; the decoder module is not thread-safe.
 */
final class VisionDiscriminator {
    /** The backbone's input size when its graph leaves it symbolic (DINOv2's usual 224, a multiple of 14). */
    static final int DEFAULT_SIZE = 224;

    private VisionDiscriminator() {
    }

    /**
     * Reads and checks a vision backbone: an ONNX graph whose image input is float {@code [B, 3, H, W]} and in which
     * a patch embedding and a stack of blocks are found.
     *
     * @param file the ONNX file
     * @return the model
     * @throws InvalidRequestException naming the file, what a backbone is and what was found
     */
    static OnnxModel readBackbone(Path file) {
        String field = "backbone " + file;
        String expected = "a vision backbone (an ONNX vision transformer such as DINOv2 taking float images"
                + " [B, 3, H, W])";
        if (!Files.isRegularFile(file)) {
            throw InvalidRequestException.of(field, expected, Files.exists(file) ? "not a file" : "no such file");
        }
        OnnxModel m;
        try {
            m = OnnxModel.read(file);
        } catch (ModelLoadException | IllegalArgumentException e) {
            throw InvalidRequestException.of(field, expected, "a file that is not an ONNX model (" + e.getMessage()
                    + ")");
        }
        ValueInfo in = imageInput(m);
        if (in == null) {
            throw InvalidRequestException.of(field, expected, "a graph without inputs");
        }
        List<Dim> shape = in.shape();
        boolean floating = in.elementType() == DataType.FLOAT || in.elementType() == DataType.FLOAT16;
        boolean rgb = shape.size() == 4 && !(shape.get(1) instanceof Dim.Fixed f && f.value() != 3);
        if (!floating || !rgb) {
            throw InvalidRequestException.of(field, expected, "input '" + in.name() + "' " + in.elementType() + " "
                    + shape + describe(m));
        }
        BackboneStructure s;
        try {
            s = BackboneStructure.of(m);
        } catch (RuntimeException e) {
            throw InvalidRequestException.of(field, expected, "a graph whose structure is not a vision transformer's ("
                    + e.getMessage() + ")");
        }
        if (s.patchSize().isEmpty() || s.blockCount() < 1) {
            throw InvalidRequestException.of(field, expected, "a graph without " + (s.patchSize().isEmpty()
                    ? "a patch embedding (a Conv whose kernel equals its stride)" : "a stack of blocks"));
        }
        return m;
    }

    private static String describe(OnnxModel m) {
        List<String> names = new ArrayList<>();
        for (ValueInfo v : m.graph().inputs()) {
            if (m.graph().initializer(v.name()).isEmpty()) {
                names.add(v.name());
            }
        }
        return names.size() > 1 ? " (inputs " + names + ")" : "";
    }

    private static ValueInfo imageInput(OnnxModel m) {
        for (ValueInfo v : m.graph().inputs()) {
            if (m.graph().initializer(v.name()).isEmpty()) {
                return v;
            }
        }
        return null;
    }

    /**
     * The block indices the run taps: docs/discriminator.md's ViT-L set (after blocks 2, 5, 8, 10, 14, 19, 23 of 24)
     * scaled to the backbone's depth, distinct.
     */
    static List<Integer> blockTaps(int blocks) {
        TreeSet<Integer> ks = new TreeSet<>();
        for (int k : new int[] {2, 5, 8, 10, 14, 19, 23}) {
            ks.add(Math.min(blocks - 1, (int) Math.round(k * (blocks - 1) / 23.0)));
        }
        return List.copyOf(ks);
    }

    /** The run's backbone: taps after the scaled blocks, ImageNet preprocessing at the graph's size (or 224). */
    static Backbone backbone(OnnxModel m) {
        BackboneStructure s = BackboneStructure.of(m);
        List<Tap> taps = new ArrayList<>();
        for (int k : blockTaps(s.blockCount())) {
            taps.add(Tap.afterBlock(k));
        }
        List<Dim> shape = imageInput(m).shape();
        boolean fixed = shape.get(2) instanceof Dim.Fixed && shape.get(3) instanceof Dim.Fixed;
        Preprocessing p = fixed ? Preprocessing.imagenet() : Preprocessing.imagenet().withSize(DEFAULT_SIZE,
                DEFAULT_SIZE);
        return Backbone.builder(m).taps(taps).preprocessing(p).build();
    }

    /** The heads the run uses: the defaults, conditioned on the pooled text embedding when the teacher has one. */
    static HeadSpec heads(int pooledWidth) {
        HeadSpec h = HeadSpec.defaults();
        return pooledWidth > 0 ? h.withTextConditioning(pooledWidth, 64) : h;
    }

    /** @return the floating-point parameters of a graph (its initializers' elements) */
    static long parameters(OnnxModel m) {
        long n = 0;
        for (TensorValue t : m.graph().initializers()) {
            if (t.dataType().isFloatingPoint()) {
                long k = 1;
                for (long d : t.dims()) {
                    k *= d;
                }
                n += k;
            }
        }
        return n;
    }

    /**
     * An estimate of the heads' trainable parameters before they are built: per tap, 3x3 convolutions from the
     * backbone's width (its patch embedding's output channels) to the heads' width and between them, the 1x1 output
     * and the text projection.
     */
    static long headParameters(OnnxModel m, HeadSpec spec, int pooledWidth) {
        long width = 0;
        for (TensorValue t : m.graph().initializers()) {
            long[] d = t.dims();
            if (d.length == 4 && d[1] == 3 && d[2] == d[3]) {
                width = Math.max(width, d[0]);
            }
        }
        int taps = blockTaps(BackboneStructure.of(m).blockCount()).size();
        long w = spec.width();
        long out = spec.conditioned() ? spec.projection() : 1;
        long per = 9 * width * w + w + (long) Math.max(0, spec.layers() - 1) * (9 * w * w + w) + w * out + out;
        if (spec.conditioned()) {
            per += (long) pooledWidth * spec.projection() + spec.projection();
        }
        return taps * per;
    }

    /**
     * The teacher's VAE decoder as a frozen TensorFlow module taking the generator's samples: FLUX's packed tokens
     * are unpacked to the latent grid, the latents unscaled ({@code z / scale + shift}), then decoded to images in
     * [-1, 1]. Its input gradient is the decoder's, chained back through the unscaling (and packing).
     */
    static final class LatentDecoder implements DifferentiableModule {
        private final TfModule vae;
        private final float scale;
        private final float shift;
        private final int[] grid; // channels, height, width of a packed (FLUX) sample; null when not packed

        LatentDecoder(OnnxModel decoder, String input, int batch, int channels, int lh, int lw, boolean packed,
                      float scale, float shift, TfSessionOptions options) {
            this.scale = scale;
            this.shift = shift;
            this.grid = packed ? new int[] {channels, lh, lw} : null;
            this.vae = TfModule.builder(decoder).name("vae_decoder").sessionOptions(options)
                    .input(InputBinding.of(ModuleInputs.X, input)).importOptions(ImportOptions.builder()
                            .inputShape(input, batch, channels, lh, lw).frozen().build()).build();
        }

        private Tensor latents(Tensor x) {
            Tensor z = grid == null ? x : OrtFluxGenerator.unpack(x, grid[0], grid[1], grid[2]);
            float s = scale;
            float t = shift;
            return z.map(v -> v / s + t);
        }

        @Override
        public Tensor forward(ModuleInputs in) {
            return vae.forward(ModuleInputs.of(latents(in.get(ModuleInputs.X)), null));
        }

        @Override
        public BackwardResult backward(ModuleInputs in, Upstream upstream, GradientMode mode) {
            if (mode != GradientMode.INPUTS) {
                throw InvalidRequestException.of("decoder gradient mode", "INPUTS (the decoder is frozen)", mode);
            }
            BackwardResult r = vae.backward(ModuleInputs.of(latents(in.get(ModuleInputs.X)), null), upstream,
                    GradientMode.INPUTS);
            float inv = 1f / scale;
            Tensor g = r.inputGradient(ModuleInputs.X).map(v -> v * inv);
            if (grid != null) {
                g = OrtFluxGenerator.pack(g);
            }
            return new BackwardResult(r.loss(), r.output(), Map.of(ModuleInputs.X, g));
        }

        @Override
        public ParameterStore parameters() {
            return vae.parameters();
        }

        @Override
        public Optimizer optimizer() {
            return null;
        }

        @Override
        public void close() {
            vae.close();
        }
    }
}
