package io.senseflow.tf.discriminator;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.graph.DataTypes;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfVariable;
import io.senseflow.tf.graph.VariableInitializer;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.importer.ImportedGraph;
import io.senseflow.tf.importer.OnnxImporter;
import io.senseflow.train.ModuleInputs;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Output;
import org.tensorflow.proto.DataType;

/**
 * Features from a frozen vision backbone: images {@code [B, C, H, W]} are resized, mapped and normalised in the
 * graph, fed to the imported backbone (every initializer frozen), and each tap is folded into a grid.
 */
final class BackboneFeatures implements FeatureSource {
    private final Backbone backbone;
    private final TfWorkspace workspace;
    private final String input;
    private final ValueInfo inputInfo;
    private final int channels;
    private final int height;
    private final int width;
    private final long gridH;
    private final long gridW;
    private final List<String> tapValues;
    private final Map<String, TfVariable> constants = new LinkedHashMap<>();

    BackboneFeatures(Backbone backbone, TfWorkspace workspace) {
        this.backbone = backbone;
        this.workspace = workspace;
        OnnxImporter probe = new OnnxImporter(backbone.model(), ImportOptions.builder().frozen().build());
        Map<String, ValueInfo> declared = probe.declaredInputs();
        if (backbone.input() != null) {
            this.input = backbone.input();
            if (!declared.containsKey(input)) {
                throw InvalidRequestException.of("backbone input", "one of the graph's inputs " + declared.keySet(),
                        input);
            }
        } else {
            if (declared.size() != 1) {
                throw InvalidRequestException.of("backbone input", "a name (the graph has inputs " + declared.keySet()
                        + ")", "none");
            }
            this.input = declared.keySet().iterator().next();
        }
        this.inputInfo = declared.get(input);
        List<Dim> shape = inputInfo.shape();
        if (shape == null || shape.size() != 4) {
            throw InvalidRequestException.of("backbone input '" + input + "'", "images [batch, channels, height, width]",
                    shape == null ? "unknown rank" : shape.size() + " dimensions");
        }
        this.channels = fixed(shape.get(1));
        Preprocessing p = backbone.preprocessing();
        int h = p.height() > 0 ? p.height() : fixed(shape.get(2));
        int w = p.width() > 0 ? p.width() : fixed(shape.get(3));
        if (h <= 0 || w <= 0) {
            throw InvalidRequestException.of("preprocessing size", "a size (the backbone's input '" + input
                    + "' has no fixed height and width; use Preprocessing.withSize)", shape);
        }
        if ((fixed(shape.get(2)) > 0 && fixed(shape.get(2)) != h) || (fixed(shape.get(3)) > 0 && fixed(shape.get(3)) != w)) {
            throw InvalidRequestException.of("preprocessing size", "the backbone input's fixed size " + shape.get(2)
                    + "x" + shape.get(3), h + "x" + w);
        }
        if (channels > 0 && p.mean().length != channels) {
            throw InvalidRequestException.of("preprocessing mean/std", channels + " values (the backbone's channels)",
                    p.mean().length);
        }
        this.height = h;
        this.width = w;
        BackboneStructure structure = BackboneStructure.of(backbone.model());
        int ph = backbone.patchHeight();
        int pw = backbone.patchWidth();
        if (ph == 0 && structure.patchSize().isPresent()) {
            ph = structure.patchSize().get().height();
            pw = structure.patchSize().get().width();
        }
        if (ph > 0 && (h % ph != 0 || w % pw != 0)) {
            throw InvalidRequestException.of("backbone input size after preprocessing", "a multiple of the patch size "
                    + ph + "x" + pw + " (set Preprocessing.withSize to one)", h + "x" + w);
        }
        this.gridH = ph > 0 ? h / ph : 0;
        this.gridW = pw > 0 ? w / pw : 0;
        this.tapValues = structure.resolveAll(backbone.taps());
    }

    private static int fixed(Dim d) {
        return d instanceof Dim.Fixed f ? (int) f.value() : -1;
    }

    @Override
    public List<String> inputs() {
        return List.of(ModuleInputs.X);
    }

    @Override
    public int[] shapeFor(String in, int[] x) {
        return null;
    }

    @Override
    public List<String> tapValues() {
        return tapValues;
    }

    @Override
    public ModuleInputs randomize(ModuleInputs in, RandomStream rng) {
        return in;
    }

    @Override
    public String describe() {
        return "backbone '" + input + "' " + height + "x" + width + ", taps " + tapValues;
    }

    /** @return the backbone's input height after preprocessing */
    int height() {
        return height;
    }

    /** @return the backbone's input width after preprocessing */
    int width() {
        return width;
    }

    @Override
    public List<Output<?>> build(GraphOps scope, Map<String, Output<?>> in) {
        Output<?> x = in.get(ModuleInputs.X);
        long[] xs = FeatureSource.staticShape(x, "discriminator input x");
        if (xs.length != 4 || (channels > 0 && xs[1] != channels)) {
            throw InvalidRequestException.of("discriminator input x", "images [B, " + (channels > 0 ? channels : "C")
                    + ", H, W]", java.util.Arrays.toString(xs));
        }
        GraphOps g = scope.scoped("preprocess");
        Preprocessing p = backbone.preprocessing();
        Output<?> img = resize(g, x, xs, height, width, p.antialias());
        int c = (int) xs[1];
        double[] a = p.scales();
        double[] b = p.offsets();
        float[] af = new float[c];
        float[] bf = new float[c];
        for (int i = 0; i < c; i++) {
            af[i] = (float) a[i];
            bf[i] = (float) b[i];
        }
        img = g.binary("AddV2", g.binary("Mul", img, g.constant(TensorValue.ofFloats("scale", af, 1, c, 1, 1))),
                g.constant(TensorValue.ofFloats("offset", bf, 1, c, 1, 1)));
        DataType want = DataTypes.toTf(inputInfo.elementType(), "backbone input '" + input + "'");
        Map<String, Output<?>> provided = Map.of(input, g.cast(img, want));
        ImportOptions opts = ImportOptions.builder().frozen().inputShape(input, xs[0], c, height, width)
                .outputs(tapValues.toArray(new String[0])).build();
        Set<String> before = new HashSet<>(constants.keySet());
        ImportedGraph ig = new OnnxImporter(backbone.model(), opts).importInto(scope.graph(), scope.scope() + "/backbone",
                provided, constants);
        List<TfVariable> fresh = new ArrayList<>();
        constants.forEach((k, v) -> {
            if (!before.contains(k)) {
                fresh.add(v);
            }
        });
        VariableInitializer.run(workspace.session(), fresh);
        if (!ig.trainableVariables().isEmpty()) {
            throw new IllegalStateException("backbone import produced trainable variables " + ig.trainableVariables());
        }
        List<Output<?>> grids = new ArrayList<>();
        GraphOps t = scope.scoped("taps");
        for (int i = 0; i < tapValues.size(); i++) {
            grids.add(FeatureSource.toGrid(t, ig.output(tapValues.get(i)), gridH, gridW, backbone.prefixTokens(),
                    backbone.clsToken(), backbone.taps().get(i) + " ('" + tapValues.get(i) + "')"));
        }
        return grids;
    }

    /** {@code [B, C, H, W] -> [B, C, h, w]}: two products with constant interpolation matrices. */
    static Output<?> resize(GraphOps g, Output<?> x, long[] xs, int h, int w, boolean antialias) {
        if (xs[2] == h && xs[3] == w) {
            return x;
        }
        long bc = xs[0] * xs[1];
        Output<?> y = x;
        // along W: [B C H, W] x [W, w]
        Output<?> rw = g.constant(TensorValue.ofFloats("resize_w", transposed(Preprocessing.resizeMatrix((int) xs[3], w,
                antialias)), xs[3], w));
        y = g.op("MatMul").in(g.reshape(y, bc * xs[2], xs[3])).in(rw).out();
        // along H: [B C w, H] x [H, h]
        y = g.transpose(g.reshape(y, bc, xs[2], w), 0, 2, 1);
        Output<?> rh = g.constant(TensorValue.ofFloats("resize_h", transposed(Preprocessing.resizeMatrix((int) xs[2], h,
                antialias)), xs[2], h));
        y = g.op("MatMul").in(g.reshape(y, bc * w, xs[2])).in(rh).out();
        return g.reshape(g.transpose(g.reshape(y, bc, w, h), 0, 2, 1), xs[0], xs[1], h, w);
    }

    /** {@code m[out][in]} as a row-major {@code [in, out]} float array. */
    private static float[] transposed(double[][] m) {
        int out = m.length;
        int in = m[0].length;
        float[] t = new float[in * out];
        for (int i = 0; i < out; i++) {
            for (int j = 0; j < in; j++) {
                t[j * out + i] = (float) m[i][j];
            }
        }
        return t;
    }
}
