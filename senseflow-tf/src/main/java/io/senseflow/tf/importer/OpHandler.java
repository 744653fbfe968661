package io.senseflow.tf.importer;

/** Maps one ONNX operator to TensorFlow ops: reads the node through its context, returns one value per output. */
@FunctionalInterface
interface OpHandler {
    /**
     * @param c the node, its inputs and a builder for the target graph
     * @return the node's outputs, in order (trailing optional outputs may be left out)
     */
    Value[] apply(NodeContext c);
}
