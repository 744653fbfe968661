package io.senseflow.examples.shapes;

import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.ir.ConvOptions;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;

/**
 * The Shapes evaluation classifier: a small convolutional network reading a 32x32 image and predicting every
 * attribute (colour 8, shape 4, size 2, position 9, background 2 — 25 logits) plus a 128-wide penultimate feature
 * vector for Fréchet distances. One ONNX definition: ONNX Runtime evaluates it, TensorFlow trains it. It is never a
 * training signal for the generators.
 *
 * <p>Input {@code image} [batch, 3, 32, 32] in [-1, 1]; outputs {@code logits} [batch, 25] and {@code features}
 * [batch, 128].
 */
public final class AttributeClassifier {
    /** Input name. */
    public static final String INPUT = "image";
    /** Logits output name. */
    public static final String LOGITS = "logits";
    /** Feature output name. */
    public static final String FEATURES = "features";
    /** Logit ranges per attribute, in the order colour, shape, size, position, background. */
    public static final int[] HEADS = {8, 4, 2, 9, 2};
    /** Width of the feature vector. */
    public static final int FEATURE_WIDTH = 128;

    private static final int[] CHANNELS = {32, 64, 64, FEATURE_WIDTH};

    private AttributeClassifier() {
    }

    /** The value of the {@code senseflow.architecture} metadata property of the classifier's graph. */
    public static final String ARCHITECTURE = "shapes-attribute-classifier";

    /**
     * @param model a graph
     * @throws io.senseflow.ModelLoadException if it is not an attribute classifier (metadata {@code senseflow.architecture}
     *     names another architecture or is missing)
     */
    public static void requireClassifier(OnnxModel model) {
        String found = model.metadata().get("senseflow.architecture");
        if (!ARCHITECTURE.equals(found)) {
            throw new io.senseflow.ModelLoadException("model '" + model.graph().name() + "'"
                    + ": metadata senseflow.architecture: expected " + ARCHITECTURE + ", got " + found);
        }
    }

    /** @return the total number of logits */
    public static int logitCount() {
        int n = 0;
        for (int h : HEADS) {
            n += h;
        }
        return n;
    }

    /**
     * @param seed initialisation seed (weights N(0, 1/fan_in), biases 0)
     * @return the untrained classifier
     */
    public static OnnxModel build(long seed) {
        GraphBuilder g = GraphBuilder.create("shapes_attribute_classifier");
        String x = g.input(INPUT, DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3), Dim.of(32), Dim.of(32));
        int in = 3;
        int index = 0;
        for (int i = 0; i < CHANNELS.length; i++) {
            int out = CHANNELS[i];
            long stride = i == 0 ? 1 : 2;
            String w = g.initializer("conv" + i + ".weight", normal(seed, index++, out * in * 9, in * 9), out, in, 3, 3);
            String b = g.initializer("conv" + i + ".bias", new float[out], out);
            x = g.silu(g.conv(x, w, b, ConvOptions.of2d(stride, 1)));
            in = out;
        }
        String features = g.reduceMean(x, false, 2, 3);
        String w = g.initializer("head.weight", normal(seed, index, logitCount() * FEATURE_WIDTH, FEATURE_WIDTH),
                logitCount(), FEATURE_WIDTH);
        String b = g.initializer("head.bias", new float[logitCount()], logitCount());
        String logits = g.gemm(features, w, b, 1f, 1f, false, true);
        g.output(logits, LOGITS, DataType.FLOAT, Dim.symbolic("batch"), Dim.of(logitCount()));
        g.output(features, FEATURES, DataType.FLOAT, Dim.symbolic("batch"), Dim.of(FEATURE_WIDTH));
        g.metadata("senseflow.architecture", ARCHITECTURE);
        return g.build();
    }

    private static float[] normal(long seed, int index, int count, int fanIn) {
        float[] v = GaussianNoise.sample(seed, index, 0x636c73, 1, count).toArray();
        float scale = (float) Math.sqrt(2.0 / fanIn);
        for (int i = 0; i < v.length; i++) {
            v[i] *= scale;
        }
        return v;
    }

    /**
     * @param logits {@code [B, 25]} logits
     * @param sample a sample
     * @return the predicted attributes
     */
    public static ShapeAttributes decode(Tensor logits, int sample) {
        int[] arg = new int[HEADS.length];
        int offset = 0;
        for (int h = 0; h < HEADS.length; h++) {
            int best = 0;
            for (int k = 1; k < HEADS[h]; k++) {
                if (logits.at(sample, offset + k) > logits.at(sample, offset + best)) {
                    best = k;
                }
            }
            arg[h] = best;
            offset += HEADS[h];
        }
        return new ShapeAttributes(ShapeAttributes.Color.values()[arg[0]], ShapeAttributes.Shape.values()[arg[1]],
                ShapeAttributes.Size.values()[arg[2]], ShapeAttributes.Position.values()[arg[3]],
                ShapeAttributes.Background.values()[arg[4]]);
    }

    /** @param a attributes @return the class index per head */
    public static int[] labels(ShapeAttributes a) {
        return new int[] {a.color().ordinal(), a.shape().ordinal(), a.size().ordinal(), a.position().ordinal(),
            a.background().ordinal()};
    }

    /**
     * Mean softmax cross-entropy over heads and samples, and its gradient with respect to the logits.
     *
     * @param logits {@code [B, 25]}
     * @param labels per sample, one class index per head
     * @return {loss, gradient}: the loss as a 1-element tensor and {@code dL/dlogits}
     */
    public static Tensor[] crossEntropy(Tensor logits, int[][] labels) {
        int batch = logits.batch();
        int n = logitCount();
        float[] z = logits.toArray();
        float[] grad = new float[z.length];
        double loss = 0;
        for (int b = 0; b < batch; b++) {
            int offset = 0;
            for (int h = 0; h < HEADS.length; h++) {
                int k = HEADS[h];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < k; j++) {
                    max = Math.max(max, z[b * n + offset + j]);
                }
                double sum = 0;
                for (int j = 0; j < k; j++) {
                    sum += Math.exp(z[b * n + offset + j] - max);
                }
                int y = labels[b][h];
                loss += -(z[b * n + offset + y] - max - Math.log(sum));
                for (int j = 0; j < k; j++) {
                    double p = Math.exp(z[b * n + offset + j] - max) / sum;
                    grad[b * n + offset + j] = (float) ((p - (j == y ? 1 : 0)) / (batch * HEADS.length));
                }
                offset += k;
            }
        }
        return new Tensor[] {Tensor.vector((float) (loss / (batch * HEADS.length))), Tensor.wrap(grad, batch, n)};
    }
}
