package io.senseflow.tf.importer;

import io.senseflow.tf.graph.DataTypes;
import io.senseflow.tf.graph.GraphOps;
import java.util.Map;
import org.tensorflow.Output;
import org.tensorflow.proto.DataType;

/** Element-wise operators (numpy broadcasting in both ONNX and TensorFlow), casts and selection. */
final class ElementwiseHandlers {
    private ElementwiseHandlers() {
    }

    static void register(Map<String, OpHandler> t) {
        binary(t, "Add", "AddV2");
        binary(t, "Sub", "Sub");
        binary(t, "Mul", "Mul");
        t.put("Div", c -> {
            String op = DataTypes.isFloating(c.dtype(0)) ? "RealDiv" : "TruncateDiv";
            return NodeContext.one(c.ops().binary(op, c.in(0), c.in(1)));
        });
        t.put("Pow", c -> {
            Output<?> base = c.in(0);
            Output<?> exponent = c.ops().cast(c.in(1), base.dataType());
            return NodeContext.one(c.ops().binary("Pow", base, exponent));
        });
        t.put("Mod", c -> {
            boolean fmod = c.attrInt("fmod", 0) == 1;
            if (!fmod && DataTypes.isFloating(c.dtype(0))) {
                throw c.fail("fmod=0 is defined for integers only; floating-point inputs need fmod=1");
            }
            GraphOps o = c.ops();
            Output<?> exact = o.binary(fmod ? "TruncateMod" : "FloorMod", c.in(0), c.in(1));
            if (!DataTypes.isFloating(c.dtype(0))) {
                return NodeContext.one(exact);
            }
            // TensorFlow has no C++ gradient for TruncateMod: the value is the exact remainder, the gradient that of
            // a - b trunc(a / b) (d/da = 1, d/db = -trunc(a / b))
            Output<?> a = c.in(0);
            Output<?> b = c.in(1);
            Output<?> q = o.binary("RealDiv", a, b);
            Output<?> trunc = o.binary("Mul", o.unary("Sign", q), o.unary("Floor", o.unary("Abs", q)));
            Output<?> smooth = o.binary("Sub", a, o.binary("Mul", b, trunc));
            Output<?> zero = o.binary("Sub", smooth, o.unary("StopGradient", smooth));
            return NodeContext.one(o.binary("AddV2", o.unary("StopGradient", exact), zero));
        });
        variadic(t, "Max", "Maximum");
        variadic(t, "Min", "Minimum");
        variadic(t, "Sum", "AddV2");
        t.put("Mean", c -> {
            Output<?> acc = c.in(0);
            for (int i = 1; i < c.inputCount(); i++) {
                acc = c.ops().binary("AddV2", acc, c.in(i));
            }
            if (c.inputCount() > 1) {
                acc = c.ops().binary("RealDiv", acc, c.ops().scalarOf(c.inputCount(), acc.dataType()));
            }
            return NodeContext.one(acc);
        });
        binary(t, "Equal", "Equal");
        binary(t, "Greater", "Greater");
        binary(t, "Less", "Less");
        binary(t, "GreaterOrEqual", "GreaterEqual");
        binary(t, "LessOrEqual", "LessEqual");
        binary(t, "And", "LogicalAnd");
        binary(t, "Or", "LogicalOr");
        binary(t, "Xor", "NotEqual");
        unary(t, "Not", "LogicalNot");
        unary(t, "Sqrt", "Sqrt");
        unary(t, "Reciprocal", "Reciprocal");
        unary(t, "Neg", "Neg");
        unary(t, "Abs", "Abs");
        unary(t, "Exp", "Exp");
        unary(t, "Log", "Log");
        unary(t, "Erf", "Erf");
        unary(t, "Tanh", "Tanh");
        unary(t, "Sigmoid", "Sigmoid");
        unary(t, "Relu", "Relu");
        unary(t, "Sin", "Sin");
        unary(t, "Cos", "Cos");
        unary(t, "Tan", "Tan");
        unary(t, "Atan", "Atan");
        unary(t, "Sinh", "Sinh");
        unary(t, "Cosh", "Cosh");
        unary(t, "Floor", "Floor");
        unary(t, "Ceil", "Ceil");
        unary(t, "Round", "Round"); // half to even in both
        unary(t, "Sign", "Sign");
        unary(t, "Softplus", "Softplus");
        unary(t, "Softsign", "Softsign");
        unary(t, "IsNaN", "IsNan");
        t.put("Identity", c -> new Value[] {c.value(0)});
        t.put("Dropout", c -> {
            // inference semantics: identity, mask of ones
            Value x = c.value(0);
            if (c.wantsOutput(1)) {
                Output<?> mask = c.ops().op("OnesLike").in(c.in(0)).out();
                return new Value[] {x, Value.of(c.ops().cast(mask, DataType.DT_BOOL))};
            }
            return new Value[] {x};
        });
        t.put("IsInf", c -> {
            GraphOps o = c.ops();
            Output<?> x = c.in(0);
            Output<?> inf = o.unary("IsInf", x);
            boolean neg = c.attrInt("detect_negative", 1) == 1;
            boolean pos = c.attrInt("detect_positive", 1) == 1;
            if (neg && pos) {
                return NodeContext.one(inf);
            }
            Output<?> zero = o.scalarOf(0, x.dataType());
            Output<?> side = o.binary(pos ? "Greater" : "Less", x, zero);
            Output<?> r = (neg || pos) ? o.binary("LogicalAnd", inf, side) : o.binary("LogicalAnd", inf,
                    o.unary("LogicalNot", inf));
            return NodeContext.one(r);
        });
        t.put("LeakyRelu", c -> NodeContext.one(c.ops().op("LeakyRelu").in(c.in(0))
                .attr("alpha", c.attrFloat("alpha", 0.01f)).out()));
        t.put("Elu", c -> {
            GraphOps o = c.ops();
            Output<?> x = c.in(0);
            float alpha = c.attrFloat("alpha", 1f);
            Output<?> zero = o.scalarOf(0, x.dataType());
            Output<?> neg = o.binary("Mul", o.scalarOf(alpha, x.dataType()), o.unary("Expm1", o.binary("Minimum", x, zero)));
            return NodeContext.one(o.select(o.binary("Greater", x, zero), x, neg));
        });
        t.put("Selu", c -> {
            GraphOps o = c.ops();
            Output<?> x = c.in(0);
            float alpha = c.attrFloat("alpha", 1.67326319217681884765625f);
            float gamma = c.attrFloat("gamma", 1.05070102214813232421875f);
            Output<?> zero = o.scalarOf(0, x.dataType());
            Output<?> neg = o.binary("Mul", o.scalarOf(alpha, x.dataType()), o.unary("Expm1", o.binary("Minimum", x, zero)));
            Output<?> r = o.select(o.binary("Greater", x, zero), x, neg);
            return NodeContext.one(o.binary("Mul", o.scalarOf(gamma, x.dataType()), r));
        });
        t.put("HardSigmoid", c -> {
            GraphOps o = c.ops();
            Output<?> x = c.in(0);
            DataType dt = x.dataType();
            Output<?> y = o.binary("AddV2", o.binary("Mul", x, o.scalarOf(c.attrFloat("alpha", 0.2f), dt)),
                    o.scalarOf(c.attrFloat("beta", 0.5f), dt));
            return NodeContext.one(o.binary("Maximum", o.binary("Minimum", y, o.scalarOf(1, dt)), o.scalarOf(0, dt)));
        });
        t.put("Gelu", c -> {
            GraphOps o = c.ops();
            Output<?> x = c.in(0);
            DataType dt = x.dataType();
            String approx = c.attrString("approximate", "none");
            Output<?> inner;
            if (approx.equals("tanh")) {
                // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
                Output<?> x3 = o.binary("Mul", o.binary("Mul", x, x), x);
                Output<?> arg = o.binary("Mul", o.scalarOf(Math.sqrt(2 / Math.PI), dt),
                        o.binary("AddV2", x, o.binary("Mul", o.scalarOf(0.044715, dt), x3)));
                inner = o.unary("Tanh", arg);
            } else if (approx.equals("none")) {
                inner = o.unary("Erf", o.binary("Mul", x, o.scalarOf(1 / Math.sqrt(2), dt)));
            } else {
                throw c.fail("attribute approximate must be 'none' or 'tanh', got '" + approx + "'");
            }
            Output<?> half = o.binary("Mul", o.scalarOf(0.5, dt), x);
            return NodeContext.one(o.binary("Mul", half, o.binary("AddV2", o.scalarOf(1, dt), inner)));
        });
        t.put("Clip", c -> {
            GraphOps o = c.ops();
            Output<?> x = c.in(0);
            Output<?> y = x;
            if (c.opset() < 11) {
                y = o.binary("Maximum", y, o.scalarOf(c.attrFloat("min", -Float.MAX_VALUE), x.dataType()));
                y = o.binary("Minimum", y, o.scalarOf(c.attrFloat("max", Float.MAX_VALUE), x.dataType()));
            } else {
                if (c.has(1)) {
                    y = o.binary("Maximum", y, c.in(1));
                }
                if (c.has(2)) {
                    y = o.binary("Minimum", y, c.in(2));
                }
            }
            return NodeContext.one(y == x ? o.identity(x) : y);
        });
        t.put("Where", c -> NodeContext.one(c.ops().select(c.in(0), c.in(1), c.in(2))));
        t.put("Cast", c -> {
            DataType to = DataTypes.toTf(c.attrInt("to", 0), "Cast target of node '" + c.label() + "'");
            if (to == DataType.DT_FLOAT && c.float64()) {
                to = DataType.DT_DOUBLE;
            }
            return NodeContext.one(c.ops().cast(c.in(0), to));
        });
        t.put("CastLike", c -> NodeContext.one(c.ops().cast(c.in(0), c.dtype(1))));
    }

    private static void binary(Map<String, OpHandler> t, String onnx, String tf) {
        t.put(onnx, c -> NodeContext.one(c.ops().binary(tf, c.in(0), c.in(1))));
    }

    private static void unary(Map<String, OpHandler> t, String onnx, String tf) {
        t.put(onnx, c -> NodeContext.one(c.ops().unary(tf, c.in(0))));
    }

    private static void variadic(Map<String, OpHandler> t, String onnx, String tf) {
        t.put(onnx, c -> {
            Output<?> acc = c.in(0);
            for (int i = 1; i < c.inputCount(); i++) {
                acc = c.ops().binary(tf, acc, c.in(i));
            }
            return NodeContext.one(c.inputCount() == 1 ? c.ops().identity(acc) : acc);
        });
    }
}
