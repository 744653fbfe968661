package io.senseflow.bench;

import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.importer.OnnxImporter;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.ndarray.Shape;

/**
 * Floating-point operations of one forward pass, counted on the graph's TensorFlow import at given input shapes
 * (a scratch graph: ops only, no session, no weights): 2 per multiply-add of every matrix product and convolution.
 * Element-wise work (norms, activations, softmax, residual adds) is left out; in these transformers it is a few percent
 * of the products' count, but on a CPU it is memory-bound and can take far more than that share of the time. A
 * training step (forward, backward to inputs and weights) is about 3x the forward.
 *
 * @param flops counted floating-point operations
 * @param products matrix products and convolutions counted
 * @param uncounted products whose shapes were not static (specialise the input shapes)
 */
public record GraphFlops(double flops, int products, int uncounted) {
    private static final Set<String> PRODUCTS = Set.of("MatMul", "BatchMatMulV2", "Conv2D", "DepthwiseConv2dNative");

    /**
     * @param model the graph
     * @param options import options with the shapes of interest (e.g. {@code DenoiserSpec.batchShapes})
     * @return the count
     */
    public static GraphFlops of(OnnxModel model, ImportOptions options) {
        double flops = 0;
        int counted = 0;
        int unknown = 0;
        try (Graph g = new Graph()) {
            new OnnxImporter(model, options).importInto(g, "flops");
            var ops = g.operations();
            while (ops.hasNext()) {
                GraphOperation op = ops.next();
                if (!PRODUCTS.contains(op.type())) {
                    continue;
                }
                Shape out = op.output(0).shape();
                Shape a = op.input(0).shape();
                Shape b = op.input(1).shape();
                if (out.hasUnknownDimension() || a.hasUnknownDimension() || b.hasUnknownDimension() || out.isUnknown()) {
                    unknown++;
                    continue;
                }
                long k = switch (op.type()) {
                    case "MatMul" -> op.attributes().getAttrValueProto("transpose_a").getB() ? a.get(0) : a.get(1);
                    case "BatchMatMulV2" -> op.attributes().getAttrValueProto("adj_x").getB()
                            ? a.get(a.numDimensions() - 2) : a.get(a.numDimensions() - 1);
                    case "Conv2D" -> b.get(0) * b.get(1) * b.get(2);          // HWIO kernel
                    default -> b.get(0) * b.get(1);                           // depthwise: per output channel
                };
                flops += 2.0 * out.size() * k;
                counted++;
            }
        }
        return new GraphFlops(flops, counted, unknown);
    }

    /** @return GFLOP */
    public double gflop() {
        return flops / 1e9;
    }
}
