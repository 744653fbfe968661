package io.senseflow.tf.train;

import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.importer.OnnxImporter;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * The size of a graph's intermediate tensors at given input shapes, from its TensorFlow import: the graph is imported
 * into a scratch graph (ops only, no session, no weights fed) and the statically known output sizes of the computing
 * operations are added up. Weights, their reads, constants and placeholders are not counted (they are counted as
 * parameters). This is the memory a forward pass would need if it kept every intermediate, which is what a backward pass
 * keeps.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param bytes bytes of the intermediate tensors with a static shape
 * @param tensors how many were counted
 * @param unknownTensors how many had a dynamic shape and were not counted (specialise the input shapes to count them)
 */
public record GraphActivations(long bytes, int tensors, int unknownTensors) {
    private static final Set<String> NOT_ACTIVATIONS = Set.of("Const", "VarHandleOp", "ReadVariableOp", "Placeholder",
            "AssignVariableOp", "NoOp", "Identity", "Shape", "Reshape", "Squeeze", "ExpandDims");

    /**
     * @param model the graph
     * @param options import options with the input shapes of interest (e.g. {@link DenoiserSpec#batchShapes})
     * @return the estimate
     */
    public static GraphActivations of(OnnxModel model, ImportOptions options) {
        long bytes = 0;
        int counted = 0;
        int unknown = 0;
        try (Graph g = new Graph()) {
            new OnnxImporter(model, options).importInto(g, "estimate");
            var ops = g.operations();
            while (ops.hasNext()) {
                GraphOperation op = ops.next();
                if (NOT_ACTIVATIONS.contains(op.type())) {
                    continue; // views, weights and inputs: no new memory of their own
                }
                for (int i = 0; i < op.numOutputs(); i++) {
                    DataType dt = op.output(i).dataType();
                    int width = width(dt);
                    if (width == 0) {
                        continue;
                    }
                    Shape s = op.output(i).shape();
                    if (s.isUnknown() || s.hasUnknownDimension()) {
                        unknown++;
                        continue;
                    }
                    bytes += s.size() * width;
                    counted++;
                }
            }
        }
        return new GraphActivations(bytes, counted, unknown);
    }

    private static int width(DataType dt) {
        return switch (dt) {
            case DT_FLOAT, DT_INT32 -> 4;
            case DT_DOUBLE, DT_INT64 -> 8;
            case DT_HALF, DT_BFLOAT16 -> 2;
            case DT_BOOL, DT_UINT8, DT_INT8 -> 1;
            default -> 0;
        };
    }
}
