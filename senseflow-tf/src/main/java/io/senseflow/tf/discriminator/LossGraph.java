package io.senseflow.tf.discriminator;

import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.train.Upstream;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * The upstream gradient (and loss) at the discriminator's concatenated logits for one {@link Upstream} form, built
 * from the same operations as {@link MultiHeadLoss}: coefficients in float64, gradient cast to float32, loss summed
 * in float64.
 */
final class LossGraph {
    /** The forms; the in-graph ones differ only in how the gradient and loss are computed. */
    enum Form {
        EXPLICIT, LINEAR, MSE, HINGE;

        static Form of(Upstream u) {
            if (u instanceof Upstream.Explicit) {
                return EXPLICIT;
            }
            if (u instanceof Upstream.Linear) {
                return LINEAR;
            }
            return u instanceof Upstream.Mse ? MSE : HINGE;
        }
    }

    final Output<?> dy;
    final Output<?> loss;
    final Output<?> upstream;
    final Output<?> weights;
    final Output<?> scale;
    final Output<?> sign;
    final Output<?> target;

    private LossGraph(Output<?> dy, Output<?> loss, Output<?> upstream, Output<?> weights, Output<?> scale,
                      Output<?> sign, Output<?> target) {
        this.dy = dy;
        this.loss = loss;
        this.upstream = upstream;
        this.weights = weights;
        this.scale = scale;
        this.sign = sign;
        this.target = target;
    }

    /**
     * @param g where to build
     * @param y the logits {@code [B, N]}, float32, static shape
     * @param columns {@code c_j} of {@link MultiHeadLoss#columnWeights}
     * @param form the form
     * @return the graph pieces; feeds: {@code upstream} (explicit) or {@code weights} plus {@code scale} (linear,
     *     float64), {@code sign} (hinge, float32 and its negation as float64 through {@code scale}) or
     *     {@code target} (MSE)
     */
    static LossGraph build(GraphOps g, Output<?> y, double[] columns, Form form) {
        long[] ys = FeatureSource.staticShape(y, "discriminator logits");
        if (form == Form.EXPLICIT) {
            Output<?> up = g.placeholder(DataType.DT_FLOAT, Shape.of(ys), "upstream");
            return new LossGraph(up, null, up, null, null, null, null);
        }
        Output<?> weights = g.placeholder(DataType.DT_FLOAT, Shape.of(ys[0]), "weights");
        Output<?> w64 = g.reshape(g.cast(weights, DataType.DT_DOUBLE), ys[0], 1);
        Output<?> c = g.constant(TensorValue.ofDoubles("columns", columns, 1, columns.length));
        Output<?> k = g.binary("RealDiv", g.binary("Mul", w64, c), g.scalar((double) ys[0]));
        Output<?> y64 = g.cast(y, DataType.DT_DOUBLE);
        switch (form) {
            case LINEAR -> {
                Output<?> scale = g.placeholder(DataType.DT_DOUBLE, Shape.scalar(), "scale");
                Output<?> sk = g.binary("Mul", scale, k);
                Output<?> loss = g.reduce("Sum", g.binary("Mul", sk, y64), false, 0, 1);
                return new LossGraph(g.cast(sk, DataType.DT_FLOAT), loss, null, weights, scale, null, null);
            }
            case MSE -> {
                Output<?> target = g.placeholder(DataType.DT_FLOAT, Shape.of(ys), "target");
                Output<?> d64 = g.cast(g.binary("Sub", y, target), DataType.DT_DOUBLE);
                Output<?> dy = g.cast(g.binary("Mul", g.binary("Mul", g.scalar(2.0), k), d64), DataType.DT_FLOAT);
                Output<?> loss = g.reduce("Sum", g.binary("Mul", g.binary("Mul", k, d64), d64), false, 0, 1);
                return new LossGraph(dy, loss, null, weights, null, null, target);
            }
            default -> {
                Output<?> sign = g.placeholder(DataType.DT_FLOAT, Shape.scalar(), "sign");
                Output<?> negSign = g.placeholder(DataType.DT_DOUBLE, Shape.scalar(), "neg_sign");
                Output<?> margin = g.binary("Sub", g.scalar(1f), g.binary("Mul", sign, y));
                Output<?> active = g.binary("Greater", margin, g.scalar(0f));
                Output<?> dy = g.select(active, g.cast(g.binary("Mul", negSign, k), DataType.DT_FLOAT), g.scalar(0f));
                Output<?> per = g.select(active, g.binary("Mul", k, g.cast(margin, DataType.DT_DOUBLE)), g.scalar(0.0));
                Output<?> loss = g.reduce("Sum", per, false, 0, 1);
                return new LossGraph(dy, loss, null, weights, negSign, sign, null);
            }
        }
    }
}
