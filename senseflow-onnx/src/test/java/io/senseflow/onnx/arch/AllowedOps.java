package io.senseflow.onnx.arch;

import java.util.Set;

/** The operators the in-house graphs may use: those the TensorFlow importer and ONNX Runtime both handle. */
final class AllowedOps {
    static final Set<String> LIST = Set.of("MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal",
            "Neg", "Exp", "Log", "Erf", "Tanh", "Sigmoid", "Relu", "Sin", "Cos", "ReduceMean", "ReduceSum", "Softmax",
            "LayerNormalization", "Transpose", "Reshape", "Concat", "Split", "Slice", "Gather", "Unsqueeze", "Squeeze",
            "Cast", "Where", "Expand", "Conv", "InstanceNormalization", "Resize", "Identity", "Constant");

    private AllowedOps() {
    }
}
