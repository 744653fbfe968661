package io.senseflow.tf.importer;

import static io.senseflow.tf.testing.OpCase.d;
import static io.senseflow.tf.testing.OpCase.out;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.tf.testing.Compare;
import io.senseflow.tf.testing.GradCheck;
import io.senseflow.tf.testing.OpCase;
import io.senseflow.tf.testing.OrtOracle;
import io.senseflow.tf.testing.TfRun;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every handler against ONNX Runtime (single-operator models, random inputs, broadcasting and negative axes), and
 * TensorFlow's gradients through it against finite differences in float64.
 */
class OpHandlersTest {

    static Stream<OpCase> cases() {
        List<OpCase> c = new ArrayList<>();
        OpCase.Gen positive = (r, i) -> 0.2 + r.nextDouble() * 2;
        OpCase.Gen awayFromZero = (r, i) -> (r.nextBoolean() ? 1 : -1) * (0.3 + r.nextDouble() * 2);
        // element-wise binary with broadcasting
        c.add(OpCase.of("Add [2,3,4]+[4]", (g, f) -> out(g.add(g.input("a", f, d(2, 3, 4)), g.input("b", f, d(4))))));
        c.add(OpCase.of("Sub [2,3,1]-[1,4]", (g, f) -> out(g.sub(g.input("a", f, d(2, 3, 1)), g.input("b", f, d(1, 4))))));
        c.add(OpCase.of("Mul [3,4]*[2,1,4]", (g, f) -> out(g.mul(g.input("a", f, d(3, 4)), g.input("b", f, d(2, 1, 4))))));
        c.add(OpCase.of("Div [2,3]/[3]", (g, f) -> out(g.div(g.input("a", f, d(2, 3)), g.input("b", f, d(3)))))
                .gen("b", awayFromZero));
        c.add(OpCase.of("Pow [2,3]^[3]", (g, f) -> out(g.pow(g.input("a", f, d(2, 3)), g.input("b", f, d(3)))))
                .gen("a", positive));
        c.add(OpCase.of("Pow int64 exponent", (g, f) -> out(g.pow(g.input("a", f, d(2, 3)), g.longScalar(3)))));
        c.add(OpCase.of("Max variadic", (g, f) -> out(g.op("Max").input(g.input("a", f, d(2, 3)), g.input("b", f, d(3)),
                g.input("c", f, d(1, 1))).output())));
        c.add(OpCase.of("Min variadic", (g, f) -> out(g.op("Min").input(g.input("a", f, d(2, 3)), g.input("b", f, d(2, 1)))
                .output())));
        c.add(OpCase.of("Sum variadic", (g, f) -> out(g.op("Sum").input(g.input("a", f, d(2, 3)), g.input("b", f, d(3)),
                g.input("c", f, d(2, 3))).output())));
        c.add(OpCase.of("Mean variadic", (g, f) -> out(g.op("Mean").input(g.input("a", f, d(2, 3)), g.input("b", f, d(3)))
                .output())));
        c.add(OpCase.of("Div int64 truncates", (g, f) -> out(g.div(g.input("a", DataType.INT64, d(6)),
                g.input("b", DataType.INT64, d(6))), DataType.INT64)).gen("a", (r, i) -> r.nextInt(21) - 10)
                .gen("b", (r, i) -> (r.nextBoolean() ? 1 : -1) * (1 + r.nextInt(4))).noGrad());
        c.add(OpCase.of("Mod fmod=1", (g, f) -> out(g.op("Mod").input(g.input("a", f, d(6)), g.input("b", f, d(6)))
                .attr("fmod", 1).output())).gen("a", (r, i) -> r.nextDouble() * 10 - 5).gen("b", awayFromZero));
        c.add(OpCase.of("Ceil and Round on a gradient path", (g, f) -> {
            String a = g.input("a", f, d(2, 3));
            String b = g.input("b", f, d(2, 3));
            String k = g.add(g.op("Ceil").input(b).output(), g.op("Round").input(a).output());
            return out(g.add(g.mul(a, k), b));
        }).gen("a", (r, i) -> r.nextInt(5) - 2 + 0.1 + 0.3 * r.nextDouble()).gen("b", (r, i) -> r.nextInt(5) + 0.2 + 0.6 * r.nextDouble()));
        c.add(OpCase.of("Mod int64", (g, f) -> out(g.op("Mod").input(g.input("a", DataType.INT64, d(6)),
                g.input("b", DataType.INT64, d(6))).output(), DataType.INT64)).gen("a", (r, i) -> r.nextInt(21) - 10)
                .gen("b", (r, i) -> (r.nextBoolean() ? 1 : -1) * (1 + r.nextInt(4))).noGrad());
        // element-wise unary
        unary(c, "Sqrt", positive, true);
        unary(c, "Reciprocal", awayFromZero, true);
        unary(c, "Neg", null, true);
        unary(c, "Abs", awayFromZero, true);
        unary(c, "Exp", null, true);
        unary(c, "Log", positive, true);
        unary(c, "Erf", null, true);
        unary(c, "Tanh", null, true);
        unary(c, "Sigmoid", null, true);
        unary(c, "Relu", awayFromZero, true);
        unary(c, "Sin", null, true);
        unary(c, "Cos", null, true);
        unary(c, "Tan", (r, i) -> r.nextDouble() * 2 - 1, true);
        unary(c, "Atan", null, true);
        unary(c, "Sinh", null, true);
        unary(c, "Cosh", null, true);
        unary(c, "Floor", null, false);
        unary(c, "Ceil", null, false);
        unary(c, "Round", (r, i) -> (r.nextInt(9) - 4) * 0.5 + (r.nextInt(3) == 0 ? 0 : r.nextDouble() * 0.4 - 0.2), false);
        unary(c, "Sign", null, false);
        unary(c, "Softplus", null, true);
        unary(c, "Softsign", null, true);
        unary(c, "Identity", null, true);
        c.add(OpCase.of("LeakyRelu alpha", (g, f) -> out(g.op("LeakyRelu").input(g.input("x", f, d(2, 5)))
                .attr("alpha", 0.1f).output())).gen("x", awayFromZero));
        c.add(OpCase.of("Elu alpha", (g, f) -> out(g.op("Elu").input(g.input("x", f, d(2, 5))).attr("alpha", 0.5f)
                .output())).gen("x", awayFromZero));
        c.add(OpCase.of("Selu", (g, f) -> out(g.op("Selu").input(g.input("x", f, d(2, 5))).output())).gen("x", awayFromZero));
        c.add(OpCase.of("HardSigmoid", (g, f) -> out(g.op("HardSigmoid").input(g.input("x", f, d(2, 5))).output()))
                .gen("x", (r, i) -> r.nextDouble() * 4 - 2));
        c.add(OpCase.of("Gelu exact (opset 20)", (g, f) -> out(g.op("Gelu").input(g.input("x", f, d(2, 5))).output()))
                .opset(20));
        c.add(OpCase.of("Gelu tanh (opset 20)", (g, f) -> out(g.op("Gelu").input(g.input("x", f, d(2, 5)))
                .attr("approximate", "tanh").output())).opset(20));
        c.add(OpCase.of("Clip min/max inputs", (g, f) -> out(g.op("Clip").input(g.input("x", f, d(3, 4)),
                g.input("lo", f), g.input("hi", f)).output())).gen("lo", (r, i) -> -0.5).gen("hi", (r, i) -> 0.75)
                .noGradFor("lo", "hi"));
        c.add(OpCase.of("IsNaN", (g, f) -> out(g.op("IsNaN").input(g.input("x", f, d(2, 4))).output(), DataType.BOOL))
                .gen("x", (r, i) -> i % 3 == 0 ? Double.NaN : r.nextDouble()).noGrad());
        c.add(OpCase.of("IsInf negative only", (g, f) -> out(g.op("IsInf").input(g.input("x", f, d(2, 4)))
                .attr("detect_positive", 0).output(), DataType.BOOL))
                .gen("x", (r, i) -> i % 3 == 0 ? Double.NEGATIVE_INFINITY : i % 3 == 1 ? Double.POSITIVE_INFINITY : 1).noGrad());
        c.add(OpCase.of("Not", (g, f) -> out(g.not(g.input("x", DataType.BOOL, d(2, 3))), DataType.BOOL)).noGrad());
        // comparisons and logic
        c.add(OpCase.of("Equal int64 broadcast", (g, f) -> out(g.equal(g.input("a", DataType.INT64, d(2, 3)),
                g.input("b", DataType.INT64, d(3))), DataType.BOOL)).noGrad());
        for (String op : List.of("Greater", "Less", "GreaterOrEqual", "LessOrEqual")) {
            c.add(OpCase.of(op + " broadcast", (g, f) -> out(g.op(op).input(g.input("a", f, d(2, 3)), g.input("b", f, d(1, 3)))
                    .output(), DataType.BOOL)).gen("a", (r, i) -> r.nextInt(3)).gen("b", (r, i) -> r.nextInt(3)).noGrad());
        }
        for (String op : List.of("And", "Or", "Xor")) {
            c.add(OpCase.of(op, (g, f) -> out(g.op(op).input(g.input("a", DataType.BOOL, d(2, 3)),
                    g.input("b", DataType.BOOL, d(3))).output(), DataType.BOOL)).noGrad());
        }
        c.add(OpCase.of("Where broadcast", (g, f) -> out(g.where(g.input("c", DataType.BOOL, d(2, 1, 4)),
                g.input("a", f, d(3, 4)), g.input("b", f, d(2, 3, 1))))));
        c.add(OpCase.of("Cast float->int64", (g, f) -> out(g.cast(g.input("x", f, d(2, 3)), DataType.INT64), DataType.INT64))
                .gen("x", (r, i) -> r.nextDouble() * 10 - 5).noGrad());
        c.add(OpCase.of("Cast float->bool", (g, f) -> out(g.cast(g.input("x", f, d(2, 3)), DataType.BOOL), DataType.BOOL))
                .gen("x", (r, i) -> r.nextInt(3) - 1).noGrad());
        c.add(OpCase.of("Cast int64->float", (g, f) -> out(g.cast(g.input("x", DataType.INT64, d(2, 3)), f))).noGrad());
        // reductions
        c.add(OpCase.of("ReduceMean axis -1 keepdims", (g, f) -> out(g.reduceMean(g.input("x", f, d(2, 3, 4)), true, -1))));
        c.add(OpCase.of("ReduceSum axes input [0,-1]", (g, f) -> out(g.reduceSum(g.input("x", f, d(2, 3, 4)), false, 0, -1))));
        c.add(OpCase.of("ReduceSum all", (g, f) -> out(g.op("ReduceSum").input(g.input("x", f, d(2, 3, 4)))
                .attr("keepdims", 0).output())));
        c.add(OpCase.of("ReduceMax axis 1", (g, f) -> out(g.reduceMax(g.input("x", f, d(2, 3, 4)), false, 1))));
        c.add(OpCase.of("ReduceMin axis -2", (g, f) -> out(g.op("ReduceMin").input(g.input("x", f, d(2, 3, 4)))
                .ints("axes", -2).output())));
        c.add(OpCase.of("ReduceProd axis 2", (g, f) -> out(g.op("ReduceProd").input(g.input("x", f, d(2, 3, 4)))
                .ints("axes", 2).attr("keepdims", 0).output())).gen("x", (r, i) -> 0.5 + r.nextDouble()));
        c.add(OpCase.of("ReduceSumSquare", (g, f) -> out(g.op("ReduceSumSquare").input(g.input("x", f, d(2, 3, 4)))
                .ints("axes", 1).output())));
        c.add(OpCase.of("ReduceL2", (g, f) -> out(g.op("ReduceL2").input(g.input("x", f, d(2, 3, 4))).ints("axes", -1)
                .output())));
        c.add(OpCase.of("ReduceL1", (g, f) -> out(g.op("ReduceL1").input(g.input("x", f, d(2, 3, 4))).ints("axes", 0)
                .output())).gen("x", awayFromZero));
        c.add(OpCase.of("ReduceLogSumExp", (g, f) -> out(g.op("ReduceLogSumExp").input(g.input("x", f, d(2, 3, 4)))
                .ints("axes", 1).attr("keepdims", 0).output())));
        c.add(OpCase.of("ReduceMean opset 18 axes input", (g, f) -> out(g.reduceMean(g.input("x", f, d(2, 3, 4)), false, 1, 2)))
                .opset(18));
        // softmax and normalisation
        c.add(OpCase.of("Softmax axis -1", (g, f) -> out(g.softmax(g.input("x", f, d(2, 3, 5)), -1))));
        c.add(OpCase.of("Softmax axis 1", (g, f) -> out(g.softmax(g.input("x", f, d(2, 3, 5)), 1))));
        c.add(OpCase.of("LogSoftmax axis 0", (g, f) -> out(g.op("LogSoftmax").input(g.input("x", f, d(2, 3, 5)))
                .attr("axis", 0).output())));
        c.add(OpCase.of("LogSoftmax axis -1 rank 3", (g, f) -> out(g.op("LogSoftmax").input(g.input("x", f, d(2, 3, 5)))
                .output())));
        c.add(OpCase.of("LayerNormalization axis -1", (g, f) -> out(g.layerNormalization(g.input("x", f, d(2, 3, 8)),
                g.input("s", f, d(8)), g.input("b", f, d(8)), -1, 1e-5f))));
        c.add(OpCase.of("LayerNormalization axis 1 no bias", (g, f) -> out(g.op("LayerNormalization")
                .input(g.input("x", f, d(2, 3, 4)), g.input("s", f, d(3, 4))).attr("axis", 1).attr("epsilon", 1e-3f)
                .output())));
        c.add(OpCase.of("InstanceNormalization", (g, f) -> out(g.op("InstanceNormalization").input(
                g.input("x", f, d(2, 3, 4, 5)), g.input("s", f, d(3)), g.input("b", f, d(3))).output())));
        c.add(OpCase.of("BatchNormalization inference", (g, f) -> out(g.op("BatchNormalization").input(
                g.input("x", f, d(2, 3, 4)), g.input("s", f, d(3)), g.input("b", f, d(3)), g.input("m", f, d(3)),
                g.input("v", f, d(3))).output())).gen("v", positive));
        c.add(OpCase.of("GlobalMaxPool", (g, f) -> out(g.op("GlobalMaxPool").input(g.input("x", f, d(2, 3, 4, 5))).output())));
        c.add(OpCase.of("CastLike int64 to float", (g, f) -> out(g.op("CastLike").input(g.input("x", DataType.INT64, d(2, 3)),
                g.input("like", f, d(1))).output())).noGrad());
        c.add(OpCase.of("Dropout inference", (g, f) -> out(g.op("Dropout").input(g.input("x", f, d(2, 3))).output())));
        c.add(OpCase.of("GlobalAveragePool", (g, f) -> out(g.op("GlobalAveragePool").input(g.input("x", f, d(2, 3, 4, 5)))
                .output())));
        // matrix products
        c.add(OpCase.of("MatMul 2x2", (g, f) -> out(g.matMul(g.input("a", f, d(3, 4)), g.input("b", f, d(4, 5))))));
        c.add(OpCase.of("MatMul [2,3,4]x[4,5]", (g, f) -> out(g.matMul(g.input("a", f, d(2, 3, 4)), g.input("b", f, d(4, 5))))));
        c.add(OpCase.of("MatMul batched", (g, f) -> out(g.matMul(g.input("a", f, d(2, 3, 4)), g.input("b", f, d(2, 4, 5))))));
        c.add(OpCase.of("MatMul broadcast batch", (g, f) -> out(g.matMul(g.input("a", f, d(2, 1, 3, 4)),
                g.input("b", f, d(5, 4, 2))))));
        c.add(OpCase.of("MatMul vector x matrix", (g, f) -> out(g.matMul(g.input("a", f, d(4)), g.input("b", f, d(4, 5))))));
        c.add(OpCase.of("MatMul matrix x vector", (g, f) -> out(g.matMul(g.input("a", f, d(2, 3, 4)), g.input("b", f, d(4))))));
        c.add(OpCase.of("MatMul vector x vector", (g, f) -> out(g.matMul(g.input("a", f, d(4)), g.input("b", f, d(4))))));
        c.add(OpCase.of("Gemm transB alpha beta", (g, f) -> out(g.gemm(g.input("a", f, d(3, 4)), g.input("b", f, d(5, 4)),
                g.input("c", f, d(5)), 0.5f, 2f, false, true))));
        c.add(OpCase.of("Gemm transA C [3,1]", (g, f) -> out(g.gemm(g.input("a", f, d(4, 3)), g.input("b", f, d(4, 5)),
                g.input("c", f, d(3, 1)), 1f, 1f, true, false))));
        c.add(OpCase.of("Gemm no C", (g, f) -> out(g.op("Gemm").input(g.input("a", f, d(3, 4)), g.input("b", f, d(4, 5)))
                .output())));
        // shapes and indexing
        c.add(OpCase.of("Transpose default", (g, f) -> out(g.op("Transpose").input(g.input("x", f, d(2, 3, 4))).output())));
        c.add(OpCase.of("Transpose perm", (g, f) -> out(g.transpose(g.input("x", f, d(2, 3, 4)), 1, 0, 2))));
        c.add(OpCase.of("Reshape 0 and -1", (g, f) -> out(g.reshape(g.input("x", f, d(2, 3, 4)), 0, -1))));
        c.add(OpCase.of("Reshape [4,-1,2]", (g, f) -> out(g.reshape(g.input("x", f, d(2, 3, 4)), 4, -1, 2))));
        c.add(OpCase.of("Reshape shape at run time", (g, f) -> out(g.reshape(g.input("x", f, d(2, 3, 4)),
                g.input("s", DataType.INT64, d(3))))).gen("s", (r, i) -> new long[] {0, 4, -1}[i]));
        c.add(OpCase.of("Flatten axis 0", (g, f) -> out(g.flatten(g.input("x", f, d(2, 3, 4)), 0))));
        c.add(OpCase.of("Flatten axis 2", (g, f) -> out(g.flatten(g.input("x", f, d(2, 3, 4)), 2))));
        c.add(OpCase.of("Flatten axis -1", (g, f) -> out(g.flatten(g.input("x", f, d(2, 3, 4)), -1))));
        c.add(OpCase.of("Concat axis -1", (g, f) -> out(g.concat(-1, g.input("a", f, d(2, 3, 1)), g.input("b", f, d(2, 3, 2)),
                g.input("c", f, d(2, 3, 3))))));
        c.add(OpCase.of("Concat axis 0", (g, f) -> out(g.concat(0, g.input("a", f, d(1, 3)), g.input("b", f, d(2, 3))))));
        c.add(OpCase.of("Split sizes axis -1", (g, f) -> {
            String[] s = g.split(g.input("x", f, d(2, 4)), -1, 1, 3);
            return List.of(new OpCase.Out(s[0], null), new OpCase.Out(s[1], null));
        }));
        c.add(OpCase.of("Split even", (g, f) -> {
            String[] s = g.op("Split").input(g.input("x", f, d(2, 6))).attr("axis", 1).outputs(3);
            return List.of(new OpCase.Out(s[0], null), new OpCase.Out(s[1], null), new OpCase.Out(s[2], null));
        }));
        c.add(OpCase.of("Split num_outputs uneven (opset 18)", (g, f) -> {
            String[] s = g.op("Split").input(g.input("x", f, d(7, 2))).attr("num_outputs", 3).outputs(3);
            return List.of(new OpCase.Out(s[0], null), new OpCase.Out(s[1], null), new OpCase.Out(s[2], null));
        }).opset(18));
        c.add(OpCase.of("Slice negative starts, steps, clamping", (g, f) -> out(g.slice(g.input("x", f, d(4, 5, 6)),
                new long[] {1, -4}, new long[] {3, Long.MAX_VALUE}, new long[] {0, -1}, new long[] {1, 2}))));
        c.add(OpCase.of("Slice negative step to start", (g, f) -> out(g.slice(g.input("x", f, d(4, 5, 6)),
                new long[] {-1}, new long[] {Long.MIN_VALUE}, new long[] {1}, new long[] {-2}))));
        c.add(OpCase.of("Slice negative step middle", (g, f) -> out(g.slice(g.input("x", f, d(4, 5, 6)),
                new long[] {4, 3}, new long[] {0, -10}, new long[] {2, 0}, new long[] {-1, -1}))));
        c.add(OpCase.of("Gather axis 0 negative constant indices", (g, f) -> out(g.gather(g.input("x", f, d(3, 4)),
                g.constant(TensorValue.ofLongs("", new long[] {0, -1, 2, 1}, 2, 2)), 0))));
        c.add(OpCase.of("Gather axis 1 scalar", (g, f) -> out(g.gather(g.input("x", f, d(3, 4)), g.longScalar(-2), 1))));
        c.add(OpCase.of("Gather axis -1 run-time negative indices", (g, f) -> out(g.gather(g.input("x", f, d(2, 5)),
                g.input("i", DataType.INT64, d(2, 3)), -1))).gen("i", (r, i) -> r.nextInt(10) - 5));
        c.add(OpCase.of("GatherElements axis 1", (g, f) -> out(g.op("GatherElements").input(g.input("x", f, d(3, 4)),
                g.input("i", DataType.INT64, d(3, 2))).attr("axis", 1).output())).gen("i", (r, i) -> r.nextInt(8) - 4));
        c.add(OpCase.of("GatherElements axis 0", (g, f) -> out(g.op("GatherElements").input(g.input("x", f, d(3, 4)),
                g.input("i", DataType.INT64, d(2, 4))).attr("axis", 0).output())).gen("i", (r, i) -> r.nextInt(3)));
        c.add(OpCase.of("Unsqueeze [0,-1]", (g, f) -> out(g.unsqueeze(g.input("x", f, d(3, 4)), 0, -1))));
        c.add(OpCase.of("Squeeze axis 1", (g, f) -> out(g.squeeze(g.input("x", f, d(3, 1, 4)), 1))));
        c.add(OpCase.of("Squeeze all", (g, f) -> out(g.op("Squeeze").input(g.input("x", f, d(1, 3, 1, 4))).output())));
        c.add(OpCase.of("Expand [3,1] to [2,3,4]", (g, f) -> out(g.expand(g.input("x", f, d(3, 1)),
                g.longVector(2, 3, 4)))));
        c.add(OpCase.of("Expand bidirectional [4] by [3,1]", (g, f) -> out(g.expand(g.input("x", f, d(4)),
                g.longVector(3, 1)))));
        c.add(OpCase.of("Expand shape at run time", (g, f) -> out(g.expand(g.input("x", f, d(3, 1)),
                g.input("s", DataType.INT64, d(3))))).gen("s", (r, i) -> new long[] {2, 1, 4}[i]));
        c.add(OpCase.of("ConstantOfShape from Shape", (g, f) -> {
            String x = g.input("x", f, d(2, 3));
            String k = g.op("ConstantOfShape").input(g.shape(x)).attr("value",
                    f == DataType.FLOAT ? TensorValue.ofFloats("", new float[] {1.5f}, 1)
                            : TensorValue.ofDoubles("", new double[] {1.5}, 1)).output();
            return out(g.mul(x, k));
        }));
        c.add(OpCase.of("ConstantOfShape int64", (g, f) -> out(g.op("ConstantOfShape").input(g.shape(g.input("x", f, d(2, 3))))
                .attr("value", TensorValue.ofLongs("", new long[] {7}, 1)).output(), DataType.INT64)).noGrad());
        c.add(OpCase.of("Range at run time", (g, f) -> out(g.op("Range").input(g.input("s", f), g.input("l", f), g.input("d", f))
                .output())).gen("s", (r, i) -> 0.5).gen("l", (r, i) -> 5).gen("d", (r, i) -> 0.75).noGrad());
        c.add(OpCase.of("Range int64 folded", (g, f) -> out(g.op("Range").input(g.longScalar(7), g.longScalar(-3),
                g.longScalar(-2)).output(), DataType.INT64)).noGrad());
        c.add(OpCase.of("Constant value_floats", (g, f) -> out(g.add(g.input("x", DataType.FLOAT, d(2, 3)),
                g.op("Constant").floats("value_floats", 1f, 2f, 3f).output()), DataType.FLOAT)).noGrad());
        c.add(OpCase.of("Tile", (g, f) -> out(g.op("Tile").input(g.input("x", f, d(2, 3)), g.longVector(2, 1)).output())));
        c.add(OpCase.of("Pad constant", (g, f) -> out(g.op("Pad").input(g.input("x", f, d(2, 3)), g.longVector(0, 1, 1, 0),
                g.input("v", f)).output())).gen("v", (r, i) -> 0.5).noGradFor("v"));
        c.add(OpCase.of("Pad reflect", (g, f) -> out(g.op("Pad").input(g.input("x", f, d(2, 4)), g.longVector(0, 1, 0, 2))
                .attr("mode", "reflect").output())));
        c.add(OpCase.of("Pad edge", (g, f) -> out(g.op("Pad").input(g.input("x", f, d(2, 4)), g.longVector(1, 2, 0, 1))
                .attr("mode", "edge").output())));
        c.add(OpCase.of("Trilu upper k=1", (g, f) -> out(g.op("Trilu").input(g.input("x", f, d(2, 4, 5)), g.longScalar(1))
                .output())));
        c.add(OpCase.of("Trilu lower k=-1", (g, f) -> out(g.op("Trilu").input(g.input("x", f, d(4, 5)), g.longScalar(-1))
                .attr("upper", 0).output())));
        c.add(OpCase.of("ArgMax axis 1", (g, f) -> out(g.op("ArgMax").input(g.input("x", f, d(3, 4))).attr("axis", 1)
                .attr("keepdims", 0).output(), DataType.INT64)).noGrad());
        c.add(OpCase.of("ArgMin last index ties", (g, f) -> out(g.op("ArgMin").input(g.input("x", f, d(3, 4)))
                .attr("axis", -1).attr("select_last_index", 1).output(), DataType.INT64))
                .gen("x", (r, i) -> r.nextInt(2)).noGrad());
        c.add(OpCase.of("Shape start/end (opset 15)", (g, f) -> out(g.op("Shape").input(g.input("x", f, d(2, 3, 4, 5)))
                .attr("start", 1).attr("end", -1).output(), DataType.INT64)).opset(15).noGrad());
        c.add(OpCase.of("Size", (g, f) -> out(g.op("Size").input(g.input("x", f, d(2, 3))).output(), DataType.INT64)).noGrad());
        // convolution and resize
        c.add(OpCase.of("Conv 2-D pads strides dilations", (g, f) -> out(g.op("Conv").input(g.input("x", f, d(1, 2, 6, 7)),
                g.input("w", f, d(3, 2, 3, 3)), g.input("b", f, d(3))).ints("pads", 1, 0, 1, 2).ints("strides", 2, 1)
                .ints("dilations", 1, 2).output())));
        c.add(OpCase.of("Conv depthwise SAME_UPPER", (g, f) -> out(g.op("Conv").input(g.input("x", f, d(1, 3, 5, 5)),
                g.input("w", f, d(6, 1, 3, 3))).attr("group", 3).attr("auto_pad", "SAME_UPPER").ints("strides", 2, 2)
                .output())));
        c.add(OpCase.of("Conv group 2", (g, f) -> out(g.op("Conv").input(g.input("x", f, d(2, 4, 5, 5)),
                g.input("w", f, d(6, 2, 3, 3))).attr("group", 2).output())));
        c.add(OpCase.of("Conv 1-D", (g, f) -> out(g.op("Conv").input(g.input("x", f, d(2, 3, 9)), g.input("w", f, d(4, 3, 3)),
                g.input("b", f, d(4))).ints("pads", 2, 1).ints("dilations", 2).output())));
        c.add(resize("Resize nearest asymmetric floor x2", "nearest", "asymmetric", "floor", new float[] {1, 1, 2, 2}, null));
        c.add(resize("Resize nearest half_pixel x1.5", "nearest", "half_pixel", "round_prefer_floor",
                new float[] {1, 1, 1.5f, 1.5f}, null));
        c.add(resize("Resize nearest sizes down, round_prefer_ceil", "nearest", "half_pixel", "round_prefer_ceil", null,
                new long[] {1, 2, 2, 3}));
        c.add(resize("Resize linear half_pixel x2", "linear", "half_pixel", null, new float[] {1, 1, 2, 2}, null));
        c.add(resize("Resize linear align_corners sizes", "linear", "align_corners", null, null, new long[] {1, 2, 5, 7}));
        c.add(resize("Resize linear pytorch_half_pixel x0.5", "linear", "pytorch_half_pixel", null,
                new float[] {1, 1, 0.5f, 0.5f}, null));
        c.add(resize("Resize linear asymmetric x1.7", "linear", "asymmetric", null, new float[] {1, 1, 1.7f, 1.3f}, null));
        // Einsum: the equations torch exports for diffusers models, and general ones
        c.add(einsum("Einsum SD3 unpatchify nhwpqc->nchpwq", "nhwpqc->nchpwq", d(2, 3, 2, 2, 2, 5)));
        c.add(einsum("Einsum FLUX RoPE outer product i,j->ij", "i,j->ij", d(5), d(3)));
        c.add(einsum("Einsum batched matmul bij,bjk->bik", "bij,bjk->bik", d(2, 3, 4), d(2, 4, 5)));
        c.add(einsum("Einsum attention bhqd,bhkd->bhqk", "bhqd,bhkd->bhqk", d(2, 3, 5, 4), d(2, 3, 7, 4)));
        c.add(einsum("Einsum transpose ij->ji", "ij->ji", d(3, 5)));
        c.add(einsum("Einsum implicit output ij,jk", "ij,jk", d(3, 4), d(4, 5)));
        c.add(einsum("Einsum reduction and sum-out bij->j", "bij->j", d(2, 3, 4)));
        c.add(einsum("Einsum dot product i,i->", "i,i->", d(6), d(6)));
        c.add(einsum("Einsum three operands ij,jk,kl->il", "ij,jk,kl->il", d(2, 3), d(3, 4), d(4, 5)));
        c.add(einsum("Einsum ellipsis broadcast ...ij,jk->...ik", "...ij,jk->...ik", d(2, 3, 4, 5), d(5, 3)));
        c.add(einsum("Einsum size-1 broadcast bij,bjk->bik", "bij,bjk->bik", d(1, 3, 4), d(2, 4, 5)));
        c.add(einsum("Einsum labels only in one operand ab,cd->ac", "ab,cd->ac", d(3, 4), d(2, 5)));
        // NonZero and GatherND (FLUX's rotary tables)
        c.add(OpCase.of("NonZero", (g, f) -> out(g.op("NonZero").input(g.input("x", f, d(3, 5))).output(), DataType.INT64))
                .gen("x", (r, i) -> r.nextInt(3) == 0 ? 0 : r.nextDouble()).noGrad());
        c.add(OpCase.of("GatherND negative indices", (g, f) -> out(g.op("GatherND").input(g.input("x", f, d(3, 4, 5)),
                g.input("i", DataType.INT64, d(2, 3, 2))).output())).gen("i", (r, i) -> i % 2 == 0 ? r.nextInt(6) - 3
                : r.nextInt(8) - 4));
        c.add(OpCase.of("GatherND full index", (g, f) -> out(g.op("GatherND").input(g.input("x", f, d(3, 4)),
                g.input("i", DataType.INT64, d(5, 2))).output())).gen("i", (r, i) -> i % 2 == 0 ? r.nextInt(3) : r.nextInt(4)));
        // Resize cubic (DINOv2's position-table interpolation), every coordinate mode, non-power-of-two sizes
        c.add(cubic("Resize cubic half_pixel 2x2->3x3 (DINOv2)", "half_pixel", -0.75f, 0, d(1, 3, 2, 2), 3, 3));
        c.add(cubic("Resize cubic half_pixel up 3x5->7x4", "half_pixel", -0.75f, 0, d(1, 2, 3, 5), 7, 4));
        c.add(cubic("Resize cubic pytorch_half_pixel down 6x7->1x3", "pytorch_half_pixel", -0.75f, 0, d(1, 2, 6, 7), 1, 3));
        c.add(cubic("Resize cubic align_corners 3x4->5x6", "align_corners", -0.75f, 0, d(1, 2, 3, 4), 5, 6));
        c.add(cubic("Resize cubic asymmetric a=-0.5 4x3->6x7", "asymmetric", -0.5f, 0, d(2, 1, 4, 3), 6, 7));
        c.add(cubic("Resize cubic half_pixel exclude_outside 5x3->3x7", "half_pixel", -0.5f, 1, d(1, 2, 5, 3), 3, 7));
        c.add(cubic("Resize cubic align_corners exclude_outside 2x3->5x4", "align_corners", -0.75f, 1, d(1, 1, 2, 3), 5, 4));
        return c.stream();
    }

    private static OpCase einsum(String name, String equation, io.senseflow.onnx.ir.Dim[]... shapes) {
        return OpCase.of(name, (g, f) -> {
            String[] ins = new String[shapes.length];
            for (int i = 0; i < shapes.length; i++) {
                ins[i] = g.input("x" + i, f, shapes[i]);
            }
            return out(g.op("Einsum").input(ins).attr("equation", equation).output());
        }).opset(18);
    }

    private static OpCase cubic(String name, String coord, float a, long exclude, io.senseflow.onnx.ir.Dim[] shape,
                                long h, long w) {
        return OpCase.of(name, (g, f) -> {
            String x = g.input("x", f, shape);
            long n = ((io.senseflow.onnx.ir.Dim.Fixed) shape[0]).value();
            long ch = ((io.senseflow.onnx.ir.Dim.Fixed) shape[1]).value();
            return out(g.op("Resize").input(x, "", "", g.longVector(n, ch, h, w)).attr("mode", "cubic")
                    .attr("coordinate_transformation_mode", coord).attr("cubic_coeff_a", a)
                    .attr("exclude_outside", exclude).output());
        }).opset(18);
    }

    private static void unary(List<OpCase> c, String op, OpCase.Gen gen, boolean grad) {
        OpCase k = OpCase.of(op, (g, f) -> out(g.op(op).input(g.input("x", f, d(2, 3, 4))).output()));
        if (gen != null) {
            k.gen("x", gen);
        }
        if (!grad) {
            k.noGrad();
        }
        c.add(k);
    }

    private static OpCase resize(String name, String mode, String coord, String nearest, float[] scales, long[] sizes) {
        return OpCase.of(name, (g, f) -> {
            GraphBuilder.NodeBuilder n = g.op("Resize");
            String x = g.input("x", f, d(1, 2, 3, 4));
            if (scales != null) {
                n.input(x, "", g.floatVector(scales));
            } else {
                n.input(x, "", "", g.longVector(sizes));
            }
            n.attr("mode", mode).attr("coordinate_transformation_mode", coord);
            if (nearest != null) {
                n.attr("nearest_mode", nearest);
            }
            return out(n.output());
        });
    }

    @TestFactory
    Stream<DynamicTest> forwardMatchesOnnxRuntime() {
        return cases().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            OpCase.Built b = c.build(DataType.FLOAT);
            Map<String, TensorValue> in = c.inputs(b.model(), 1);
            Map<String, TensorValue> want = OrtOracle.run(b.model(), in);
            Map<String, TensorValue> got = TfRun.run(b.model(), ImportOptions.defaults(), in);
            for (String o : b.outputs()) {
                Compare.assertClose(c.name() + " " + o, want.get(o), got.get(o), 1e-5, 1e-5);
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> gradientsMatchFiniteDifferences() {
        return cases().filter(OpCase::gradient).map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            OpCase.Built b = c.build(DataType.DOUBLE);
            OnnxModel m = b.model();
            Map<String, TensorValue> in = c.inputs(m, 2);
            List<String> wrt = new ArrayList<>();
            for (ValueInfo v : m.graph().inputs()) {
                if (v.elementType() == DataType.DOUBLE && c.differentiates(v.name())) {
                    wrt.add(v.name());
                }
            }
            for (String o : b.outputs()) {
                GradCheck.check(m, in, o, wrt, 1e-6);
            }
        }));
    }

}
