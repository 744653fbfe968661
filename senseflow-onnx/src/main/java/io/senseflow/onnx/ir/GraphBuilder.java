package io.senseflow.onnx.ir;

import io.senseflow.InvalidRequestException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Builds ONNX graphs in code. Every method that adds a node returns the name of the value it produces, so
 * architectures read like the math:
 *
 * <pre>{@code
 * GraphBuilder g = GraphBuilder.create("classifier");
 * String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(4));
 * String w = g.initializer("fc.weight", weights, 4, 3);
 * String b = g.initializer("fc.bias", bias, 3);
 * String probs = g.softmax(g.add(g.matMul(x, w), b), -1);
 * g.output(probs, "probs", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
 * OnnxModel model = g.build();
 * }</pre>
 *
 * <p><b>Names.</b> Graph inputs, outputs and names passed to {@link NodeBuilder#output(String)} are used verbatim.
 * Inside {@link #scope(String)} blocks, initializer names get the scope path joined with dots (PyTorch's parameter
 * names: {@code blocks.0.attn.qkv.weight}) and generated node and value names get it joined with slashes (PyTorch's
 * node names: {@code /blocks.0/attn/MatMul_1_output_0}). Generated names never collide with each other or with
 * names already used; a value can be defined only once.
 *
 * <p><b>Parameters and constants.</b> Initializers are for weights: the TensorFlow import turns float initializers
 * into trainable variables. Fixed values (shapes, axes, scalars in formulas) are {@code Constant} nodes, made by
 * {@link #constant(TensorValue)}, {@link #floatScalar(float)}, {@link #longVector(long...)} and the op helpers.
 *
 * <p><b>Checks.</b> Every node input must name a value defined earlier (a graph input, an initializer, an earlier
 * node output, or for a subgraph a value of an enclosing graph); mistakes fail here with the node and name, not later
 * inside ONNX Runtime. The default-domain opset is fixed at creation ({@value #DEFAULT_OPSET} unless given; at least
 * {@value #MIN_OPSET}) and helpers whose signature changed between opsets (the axes of Reduce*, for example) emit the
 * form that opset expects.
 *
 * <p>A builder is not thread-safe and is meant to be used once.
 */
public final class GraphBuilder {
    /** The default-domain opset used unless another is given. */
    public static final long DEFAULT_OPSET = 17;
    /** The oldest default-domain opset the helpers support. */
    public static final long MIN_OPSET = 13;

    private final GraphBuilder parent;
    private final Names names;
    private final String graphName;
    private final long opset;
    private final List<OnnxNode> nodes = new ArrayList<>();
    private final List<TensorValue> initializers = new ArrayList<>();
    private final List<ValueInfo> inputs = new ArrayList<>();
    private final List<ValueInfo> outputs = new ArrayList<>();
    private final List<ValueInfo> valueInfo = new ArrayList<>();
    private final Set<String> defined = new HashSet<>();
    private final Deque<String> scopes = new ArrayDeque<>();
    private final List<OpsetImport> extraOpsets = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private String producerName = "senseflow-java";
    private String producerVersion = implementationVersion();
    private String docString = "";
    private String modelDomain = "";
    private long modelVersion;
    private long irVersion;
    private boolean built;

    private GraphBuilder(GraphBuilder parent, String graphName, long opset) {
        this.parent = parent;
        this.names = parent == null ? new Names() : parent.names;
        this.graphName = Objects.requireNonNull(graphName, "graphName");
        this.opset = opset;
    }

    /**
     * @param graphName the graph name
     * @return a builder for a model using default-domain opset {@value #DEFAULT_OPSET}
     */
    public static GraphBuilder create(String graphName) {
        return create(graphName, DEFAULT_OPSET);
    }

    /**
     * @param graphName the graph name
     * @param opset the default-domain opset, at least {@value #MIN_OPSET}
     * @return a builder
     */
    public static GraphBuilder create(String graphName, long opset) {
        if (opset < MIN_OPSET) {
            throw InvalidRequestException.of("opset", ">= " + MIN_OPSET, opset);
        }
        return new GraphBuilder(null, graphName, opset);
    }

    /**
     * A builder for a subgraph (an {@code If} branch, a {@code Loop} body) that shares this builder's names and
     * opset and may use values defined here. Attach the result of its {@link #buildGraph()} as a graph attribute.
     *
     * @param name the subgraph name
     * @return the subgraph builder
     */
    public GraphBuilder subgraph(String name) {
        return new GraphBuilder(this, name, opset);
    }

    /** @return the default-domain opset this builder targets */
    public long opset() {
        return opset;
    }

    // ---------------------------------------------------------------- model settings (root only)

    /**
     * Imports another operator domain (for custom or contrib operators).
     *
     * @param domain the domain, such as {@code "com.microsoft"}
     * @param version its version
     * @return this builder
     */
    public GraphBuilder importOpset(String domain, long version) {
        requireRoot("importOpset");
        if (domain.isEmpty() || domain.equals("ai.onnx")) {
            throw new InvalidRequestException("the default domain's opset is fixed at creation: GraphBuilder.create(name, opset)");
        }
        extraOpsets.add(new OpsetImport(domain, version));
        return this;
    }

    /**
     * @param key a metadata key, not yet set
     * @param value its value
     * @return this builder
     */
    public GraphBuilder metadata(String key, String value) {
        requireRoot("metadata");
        Objects.requireNonNull(value, "value");
        if (metadata.putIfAbsent(Objects.requireNonNull(key, "key"), value) != null) {
            throw new InvalidRequestException("metadata key \"" + key + "\" is already set");
        }
        return this;
    }

    /**
     * @param name the producing tool (default {@code senseflow-java})
     * @param version its version
     * @return this builder
     */
    public GraphBuilder producer(String name, String version) {
        requireRoot("producer");
        this.producerName = Objects.requireNonNull(name, "name");
        this.producerVersion = Objects.requireNonNull(version, "version");
        return this;
    }

    /** @param doc documentation for the model and graph @return this builder */
    public GraphBuilder docString(String doc) {
        this.docString = Objects.requireNonNull(doc, "doc");
        return this;
    }

    /**
     * @param domain the model domain (reverse DNS, may be empty)
     * @param version the model version
     * @return this builder
     */
    public GraphBuilder modelVersion(String domain, long version) {
        requireRoot("modelVersion");
        this.modelDomain = Objects.requireNonNull(domain, "domain");
        this.modelVersion = version;
        return this;
    }

    /**
     * Overrides the IR version otherwise derived from the opset (7 for opsets 13-14, 8 for 15-18, 9 for 19-20, 10
     * for 21-22, 11 after).
     *
     * @param version the IR version
     * @return this builder
     */
    public GraphBuilder irVersion(long version) {
        requireRoot("irVersion");
        if (version < 3) {
            throw InvalidRequestException.of("irVersion", ">= 3", version);
        }
        this.irVersion = version;
        return this;
    }

    // ---------------------------------------------------------------- scopes and names

    /**
     * Opens a naming scope; close it (try-with-resources) to return to the enclosing one.
     *
     * @param name a path component such as {@code "blocks.0"} or {@code "attn"}, without slashes
     * @return the scope
     */
    public Scope scope(String name) {
        if (name == null || name.isEmpty() || name.contains("/")) {
            throw InvalidRequestException.of("scope name", "a non-empty name without '/'", name);
        }
        scopes.addLast(name);
        return new Scope(name, scopes.size());
    }

    /**
     * Runs {@code body} inside a naming scope and returns what it returns; the scope closes even if it throws. This
     * form suits one method per block ({@code String h = g.inScope("attn", () -> attention(g, x))}) and avoids the
     * javac {@code -Xlint:try} warning that an unreferenced try-with-resources scope variable gives.
     *
     * @param name a path component, without slashes
     * @param body builds the block
     * @param <T> what the block returns, usually its output value name
     * @return the body's result
     */
    public <T> T inScope(String name, Supplier<T> body) {
        Scope s = scope(name);
        try {
            return body.get();
        } finally {
            s.close();
        }
    }

    /** An open naming scope. */
    public final class Scope implements AutoCloseable {
        private final String name;
        private final int depth;
        private boolean closed;

        private Scope(String name, int depth) {
            this.name = name;
            this.depth = depth;
        }

        /** Returns to the enclosing scope. Scopes must be closed innermost first. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            if (scopes.size() != depth || !scopes.peekLast().equals(name)) {
                throw new IllegalStateException("scope " + name + " closed out of order; open scopes: " + scopes);
            }
            scopes.removeLast();
            closed = true;
        }
    }

    /**
     * @param local a parameter name inside the current scope
     * @return the full name: the scope path and the local name joined with dots
     */
    public String parameterName(String local) {
        return scopes.isEmpty() ? local : String.join(".", scopes) + "." + local;
    }

    /**
     * Reserves a fresh value name in the current scope, for a node output named explicitly with
     * {@link NodeBuilder#output(String)}.
     *
     * @param base what the value is, such as {@code "mask"}
     * @return a name not used before, like {@code /attn/mask} or {@code /attn/mask_2}
     */
    public String uniqueName(String base) {
        String name = names.fresh(scopePath() + base, names.values);
        names.reserved.add(name);
        return name;
    }

    private String scopePath() {
        return scopes.isEmpty() ? "/" : "/" + String.join("/", scopes) + "/";
    }

    // ---------------------------------------------------------------- graph interface

    /**
     * Declares a graph input.
     *
     * @param name the input name (verbatim)
     * @param type the element type
     * @param shape the dimensions, fixed or symbolic (none for a scalar)
     * @return the name
     */
    public String input(String name, DataType type, Dim... shape) {
        return input(ValueInfo.tensor(name, type, shape));
    }

    /** @param info a declared input @return its name */
    public String input(ValueInfo info) {
        define(info.name(), "graph input");
        inputs.add(info);
        return info.name();
    }

    /**
     * Declares an existing value as a graph output under its own name.
     *
     * @param value the value
     * @param type its element type
     * @param shape its dimensions (none for a scalar)
     * @return this builder
     */
    public GraphBuilder output(String value, DataType type, Dim... shape) {
        return output(ValueInfo.tensor(value, type, shape));
    }

    /**
     * Declares a value as a graph output under another name, adding an {@code Identity} node when the names differ.
     *
     * @param value the value
     * @param name the output name (verbatim)
     * @param type its element type
     * @param shape its dimensions (none for a scalar)
     * @return this builder
     */
    public GraphBuilder output(String value, String name, DataType type, Dim... shape) {
        if (!value.equals(name)) {
            op("Identity").input(value).output(name);
        }
        return output(ValueInfo.tensor(name, type, shape));
    }

    /** @param info a declared output; the value must exist @return this builder */
    public GraphBuilder output(ValueInfo info) {
        requireDefined(info.name(), "graph output");
        for (ValueInfo o : outputs) {
            if (o.name().equals(info.name())) {
                throw new InvalidRequestException("graph " + graphName + " already has an output named " + info.name());
            }
        }
        outputs.add(info);
        return this;
    }

    /**
     * Annotates an intermediate value with its type (optional; ONNX Runtime infers types itself).
     *
     * @param info the annotation
     * @return this builder
     */
    public GraphBuilder valueInfo(ValueInfo info) {
        requireDefined(info.name(), "value_info");
        valueInfo.add(info);
        return this;
    }

    // ---------------------------------------------------------------- initializers and constants

    /**
     * Adds a FLOAT initializer (a weight).
     *
     * @param name the parameter name within the current scope
     * @param values the elements in row-major order
     * @param dims the dimensions
     * @return the full initializer name
     */
    public String initializer(String name, float[] values, long... dims) {
        return initializer(TensorValue.ofFloats(name, values, dims));
    }

    /**
     * Adds an INT64 initializer.
     *
     * @param name the parameter name within the current scope
     * @param values the elements
     * @param dims the dimensions
     * @return the full initializer name
     */
    public String initializer(String name, long[] values, long... dims) {
        return initializer(TensorValue.ofLongs(name, values, dims));
    }

    /**
     * Adds an initializer of any type (for example {@link TensorValue#ofFloat16}); its name is taken as local to
     * the current scope.
     *
     * @param tensor the tensor
     * @return the full initializer name
     */
    public String initializer(TensorValue tensor) {
        String full = parameterName(tensor.name());
        define(full, "initializer");
        initializers.add(full.equals(tensor.name()) ? tensor : tensor.withName(full));
        return full;
    }

    /**
     * Adds a {@code Constant} node holding a tensor (its name is ignored).
     *
     * @param value the value
     * @return the constant's output
     */
    public String constant(TensorValue value) {
        return op("Constant").attr("value", value.withName("")).output();
    }

    /** @param value a float @return a rank-0 FLOAT constant */
    public String floatScalar(float value) {
        return constant(TensorValue.ofFloats("", new float[] {value}));
    }

    /** @param value a long @return a rank-0 INT64 constant */
    public String longScalar(long value) {
        return constant(TensorValue.ofLongs("", new long[] {value}));
    }

    /** @param values floats @return a 1-D FLOAT constant */
    public String floatVector(float... values) {
        return constant(TensorValue.ofFloats("", values, values.length));
    }

    /** @param values longs (shapes, axes, indices) @return a 1-D INT64 constant */
    public String longVector(long... values) {
        return constant(TensorValue.ofLongs("", values, values.length));
    }

    // ---------------------------------------------------------------- generic nodes

    /**
     * Starts a node of the default domain.
     *
     * @param opType the operator, such as {@code "Resize"}
     * @return a node builder; finish it with one of its {@code output} methods
     */
    public NodeBuilder op(String opType) {
        if (opType == null || opType.isEmpty()) {
            throw InvalidRequestException.of("opType", "a non-empty operator name", opType);
        }
        return new NodeBuilder(opType);
    }

    /** Collects one node's inputs and attributes; an output method adds it to the graph. */
    public final class NodeBuilder {
        private final String opType;
        private final List<String> nodeInputs = new ArrayList<>();
        private final List<OnnxAttribute> attributes = new ArrayList<>();
        private String domain = "";
        private String nodeName;
        private boolean done;

        private NodeBuilder(String opType) {
            this.opType = opType;
        }

        /** @param value the operator domain (default: ONNX's) @return this node builder */
        public NodeBuilder domain(String value) {
            this.domain = Objects.requireNonNull(value, "domain");
            return this;
        }

        /** @param value an explicit node name (verbatim, must be unused) @return this node builder */
        public NodeBuilder name(String value) {
            this.nodeName = Objects.requireNonNull(value, "name");
            return this;
        }

        /**
         * Appends inputs; an empty string or null marks an omitted optional input.
         *
         * @param values value names
         * @return this node builder
         */
        public NodeBuilder input(String... values) {
            for (String v : values) {
                nodeInputs.add(v == null ? "" : v);
            }
            return this;
        }

        /** @param values value names @return this node builder */
        public NodeBuilder inputs(List<String> values) {
            return input(values.toArray(new String[0]));
        }

        /** @param attribute an attribute @return this node builder */
        public NodeBuilder attr(OnnxAttribute attribute) {
            for (OnnxAttribute a : attributes) {
                if (a.name().equals(attribute.name())) {
                    throw new InvalidRequestException(opType + " attribute " + attribute.name() + " is set twice");
                }
            }
            attributes.add(attribute);
            return this;
        }

        /** @param name attribute name @param value an integer @return this node builder */
        public NodeBuilder attr(String name, long value) {
            return attr(OnnxAttribute.ofInt(name, value));
        }

        /** @param name attribute name @param value a float @return this node builder */
        public NodeBuilder attr(String name, float value) {
            return attr(OnnxAttribute.ofFloat(name, value));
        }

        /** @param name attribute name @param value a double, stored as float @return this node builder */
        public NodeBuilder attr(String name, double value) {
            return attr(OnnxAttribute.ofFloat(name, (float) value));
        }

        /** @param name attribute name @param value a string @return this node builder */
        public NodeBuilder attr(String name, String value) {
            return attr(OnnxAttribute.ofString(name, value));
        }

        /** @param name attribute name @param value a tensor @return this node builder */
        public NodeBuilder attr(String name, TensorValue value) {
            return attr(OnnxAttribute.ofTensor(name, value));
        }

        /** @param name attribute name @param value a subgraph @return this node builder */
        public NodeBuilder attr(String name, OnnxGraph value) {
            return attr(OnnxAttribute.ofGraph(name, value));
        }

        /** @param name attribute name @param values integers @return this node builder */
        public NodeBuilder ints(String name, long... values) {
            return attr(OnnxAttribute.ofInts(name, values));
        }

        /** @param name attribute name @param values floats @return this node builder */
        public NodeBuilder floats(String name, float... values) {
            return attr(OnnxAttribute.ofFloats(name, values));
        }

        /** @param name attribute name @param values strings @return this node builder */
        public NodeBuilder strings(String name, String... values) {
            return attr(OnnxAttribute.ofStrings(name, List.of(values)));
        }

        /** @return the name of the node's single output, generated */
        public String output() {
            return outputs(1)[0];
        }

        /** @param name the output name (verbatim) @return the name */
        public String output(String name) {
            return outputs(new String[] {name})[0];
        }

        /** @param count the number of outputs @return their generated names */
        public String[] outputs(int count) {
            if (count < 1) {
                throw InvalidRequestException.of(opType + " outputs", ">= 1", count);
            }
            return emit(null, count);
        }

        /**
         * @param names output names (verbatim); an empty name leaves an optional output unused
         * @return the names
         */
        public String[] outputs(String... names) {
            return emit(names.clone(), names.length);
        }

        private String[] emit(String[] given, int count) {
            if (done) {
                throw new IllegalStateException(opType + " node was already added");
            }
            done = true;
            for (int i = 0; i < nodeInputs.size(); i++) {
                String in = nodeInputs.get(i);
                if (!in.isEmpty()) {
                    requireDefined(in, opType + " input " + i);
                }
            }
            String name = nodeName != null ? names.claim(nodeName, names.nodes, "node name")
                    : names.freshNode(scopePath() + opType, count);
            String[] outs = new String[count];
            for (int i = 0; i < count; i++) {
                outs[i] = given != null ? given[i] : name + "_output_" + i;
                if (!outs[i].isEmpty()) {
                    define(outs[i], opType + " output");
                }
            }
            nodes.add(new OnnxNode(opType, nodeInputs, Arrays.asList(outs), name, domain, attributes));
            return outs;
        }
    }

    // ---------------------------------------------------------------- element-wise

    /** @param a a value @param b a value (broadcast) @return {@code a + b} */
    public String add(String a, String b) {
        return binary("Add", a, b);
    }

    /** @param a a value @param b a value (broadcast) @return {@code a - b} */
    public String sub(String a, String b) {
        return binary("Sub", a, b);
    }

    /** @param a a value @param b a value (broadcast) @return {@code a * b} */
    public String mul(String a, String b) {
        return binary("Mul", a, b);
    }

    /** @param a a value @param b a value (broadcast) @return {@code a / b} */
    public String div(String a, String b) {
        return binary("Div", a, b);
    }

    /** @param a base @param b exponent (broadcast) @return {@code a ^ b} */
    public String pow(String a, String b) {
        return binary("Pow", a, b);
    }

    /** @param a a value @param b a value @return the element-wise maximum */
    public String max(String a, String b) {
        return binary("Max", a, b);
    }

    /** @param a a value @param b a value @return the element-wise minimum */
    public String min(String a, String b) {
        return binary("Min", a, b);
    }

    /** @param a left matrix (batched) @param b right matrix (batched) @return the matrix product */
    public String matMul(String a, String b) {
        return binary("MatMul", a, b);
    }

    /** @param a a value @param b a value @return the BOOL result of {@code a == b} */
    public String equal(String a, String b) {
        return binary("Equal", a, b);
    }

    /** @param a a value @param b a value @return the BOOL result of {@code a < b} */
    public String less(String a, String b) {
        return binary("Less", a, b);
    }

    /** @param a a value @param b a value @return the BOOL result of {@code a > b} */
    public String greater(String a, String b) {
        return binary("Greater", a, b);
    }

    /** @param a BOOL value @param b BOOL value @return logical and */
    public String and(String a, String b) {
        return binary("And", a, b);
    }

    /** @param a BOOL value @param b BOOL value @return logical or */
    public String or(String a, String b) {
        return binary("Or", a, b);
    }

    /** @param x a value @return {@code -x} */
    public String neg(String x) {
        return unary("Neg", x);
    }

    /** @param x a value @return {@code |x|} */
    public String abs(String x) {
        return unary("Abs", x);
    }

    /** @param x a value @return the square root */
    public String sqrt(String x) {
        return unary("Sqrt", x);
    }

    /** @param x a value @return {@code 1 / x} */
    public String reciprocal(String x) {
        return unary("Reciprocal", x);
    }

    /** @param x a value @return {@code e^x} */
    public String exp(String x) {
        return unary("Exp", x);
    }

    /** @param x a value @return the natural logarithm */
    public String log(String x) {
        return unary("Log", x);
    }

    /** @param x a value @return the sine */
    public String sin(String x) {
        return unary("Sin", x);
    }

    /** @param x a value @return the cosine */
    public String cos(String x) {
        return unary("Cos", x);
    }

    /** @param x a value @return {@code max(x, 0)} */
    public String relu(String x) {
        return unary("Relu", x);
    }

    /** @param x a value @return the logistic sigmoid */
    public String sigmoid(String x) {
        return unary("Sigmoid", x);
    }

    /** @param x a value @return the hyperbolic tangent */
    public String tanh(String x) {
        return unary("Tanh", x);
    }

    /** @param x a value @return the error function */
    public String erf(String x) {
        return unary("Erf", x);
    }

    /** @param x a BOOL value @return logical not */
    public String not(String x) {
        return unary("Not", x);
    }

    /** @param x a value @return the same value under a new name */
    public String identity(String x) {
        return unary("Identity", x);
    }

    /** @param x a value @return its shape as a 1-D INT64 tensor */
    public String shape(String x) {
        return unary("Shape", x);
    }

    /**
     * SiLU (swish): {@code x * sigmoid(x)}.
     *
     * @param x a value
     * @return the activation
     */
    public String silu(String x) {
        return mul(x, sigmoid(x));
    }

    /**
     * GELU in its exact form {@code 0.5 x (1 + erf(x / sqrt 2))}, as PyTorch exports it (FLOAT inputs).
     *
     * @param x a FLOAT value
     * @return the activation
     */
    public String gelu(String x) {
        String scaled = div(x, floatScalar((float) Math.sqrt(2.0)));
        String onePlus = add(erf(scaled), floatScalar(1f));
        return mul(mul(x, onePlus), floatScalar(0.5f));
    }

    private String binary(String opType, String a, String b) {
        return op(opType).input(a, b).output();
    }

    private String unary(String opType, String x) {
        return op(opType).input(x).output();
    }

    // ---------------------------------------------------------------- neural network

    /**
     * @param x a value
     * @param axis the axis to normalise over (negative counts from the end)
     * @return the softmax
     */
    public String softmax(String x, long axis) {
        return op("Softmax").input(x).attr("axis", axis).output();
    }

    /**
     * Layer normalisation over the axes from {@code axis} to the last (opset 17 or later).
     *
     * @param x a value
     * @param scale the scale (gamma)
     * @param bias the bias (beta), or null for none
     * @param axis the first normalised axis, usually -1
     * @param epsilon added to the variance
     * @return the normalised value
     */
    public String layerNormalization(String x, String scale, String bias, long axis, float epsilon) {
        requireOpset(17, "LayerNormalization");
        NodeBuilder n = op("LayerNormalization").input(x, scale);
        if (bias != null) {
            n.input(bias);
        }
        return n.attr("axis", axis).attr("epsilon", epsilon).output();
    }

    /**
     * {@code A * B + C} with no transposes and unit factors.
     *
     * @param a the [M, K] input
     * @param b the [K, N] weight
     * @param c the bias broadcast to [M, N], or null for none
     * @return the [M, N] result
     */
    public String gemm(String a, String b, String c) {
        return gemm(a, b, c, 1f, 1f, false, false);
    }

    /**
     * {@code alpha * A' * B' + beta * C}, where ' is an optional transpose.
     *
     * @param a a rank-2 value
     * @param b a rank-2 value
     * @param c the bias, or null for none
     * @param alpha factor of the product
     * @param beta factor of the bias
     * @param transA whether to transpose A
     * @param transB whether to transpose B (PyTorch's Linear exports {@code transB = 1})
     * @return the result
     */
    public String gemm(String a, String b, String c, float alpha, float beta, boolean transA, boolean transB) {
        NodeBuilder n = op("Gemm").input(a, b);
        if (c != null) {
            n.input(c);
        }
        if (alpha != 1f) {
            n.attr("alpha", alpha);
        }
        if (beta != 1f) {
            n.attr("beta", beta);
        }
        if (transA) {
            n.attr("transA", 1L);
        }
        if (transB) {
            n.attr("transB", 1L);
        }
        return n.output();
    }

    /**
     * A convolution.
     *
     * @param x the [N, C, spatial...] input
     * @param w the [M, C / group, kernel...] weight
     * @param b the [M] bias, or null for none
     * @param options strides, paddings, dilations and groups
     * @return the output
     */
    public String conv(String x, String w, String b, ConvOptions options) {
        NodeBuilder n = op("Conv").input(x, w);
        if (b != null) {
            n.input(b);
        }
        if (options.strides().length > 0) {
            n.ints("strides", options.strides());
        }
        if (options.pads().length > 0) {
            n.ints("pads", options.pads());
        }
        if (options.dilations().length > 0) {
            n.ints("dilations", options.dilations());
        }
        if (options.group() != 1) {
            n.attr("group", options.group());
        }
        return n.output();
    }

    // ---------------------------------------------------------------- shapes

    /**
     * @param x a value
     * @param shape a 1-D INT64 value with the new shape (0 copies a dimension, -1 infers one)
     * @return the reshaped value
     */
    public String reshape(String x, String shape) {
        return op("Reshape").input(x, shape).output();
    }

    /**
     * @param x a value
     * @param shape the new shape (0 copies a dimension, -1 infers one)
     * @return the reshaped value
     */
    public String reshape(String x, long... shape) {
        return reshape(x, longVector(shape));
    }

    /**
     * @param x a value
     * @param perm the permutation of axes
     * @return the transposed value
     */
    public String transpose(String x, long... perm) {
        return op("Transpose").input(x).ints("perm", perm).output();
    }

    /**
     * @param x a value
     * @param axis dimensions before it form the first output dimension, the rest the second
     * @return the rank-2 value
     */
    public String flatten(String x, long axis) {
        return op("Flatten").input(x).attr("axis", axis).output();
    }

    /**
     * @param axis the axis to join along
     * @param values the values, at least one
     * @return the concatenation
     */
    public String concat(long axis, String... values) {
        if (values.length == 0) {
            throw InvalidRequestException.of("concat values", "at least one value", 0);
        }
        return op("Concat").input(values).attr("axis", axis).output();
    }

    /**
     * @param x a value
     * @param axis the axis to split
     * @param sizes the size of each part along the axis
     * @return one value per part
     */
    public String[] split(String x, long axis, long... sizes) {
        if (sizes.length == 0) {
            throw InvalidRequestException.of("split sizes", "at least one size", 0);
        }
        return op("Split").input(x, longVector(sizes)).attr("axis", axis).outputs(sizes.length);
    }

    /**
     * Slices with constant bounds.
     *
     * @param x a value
     * @param starts start index per sliced axis
     * @param ends end index (exclusive) per sliced axis
     * @param axes the sliced axes, or null for the first {@code starts.length} axes
     * @param steps the step per sliced axis, or null for 1
     * @return the slice
     */
    public String slice(String x, long[] starts, long[] ends, long[] axes, long[] steps) {
        if (starts.length != ends.length || (axes != null && axes.length != starts.length)
                || (steps != null && steps.length != starts.length)) {
            throw new InvalidRequestException("slice: starts, ends, axes and steps must have the same length, got "
                    + starts.length + ", " + ends.length + ", " + (axes == null ? "-" : axes.length) + ", "
                    + (steps == null ? "-" : steps.length));
        }
        return slice(x, longVector(starts), longVector(ends), axes == null ? null : longVector(axes),
                steps == null ? null : longVector(steps));
    }

    /**
     * Slices with bounds computed in the graph.
     *
     * @param x a value
     * @param starts 1-D INT64 starts
     * @param ends 1-D INT64 ends
     * @param axes 1-D INT64 axes, or null
     * @param steps 1-D INT64 steps, or null
     * @return the slice
     */
    public String slice(String x, String starts, String ends, String axes, String steps) {
        NodeBuilder n = op("Slice").input(x, starts, ends);
        if (axes != null || steps != null) {
            n.input(axes == null ? "" : axes);
        }
        if (steps != null) {
            n.input(steps);
        }
        return n.output();
    }

    /**
     * @param x a value
     * @param indices INT64 (or INT32) indices
     * @param axis the axis to gather along
     * @return the gathered values
     */
    public String gather(String x, String indices, long axis) {
        return op("Gather").input(x, indices).attr("axis", axis).output();
    }

    /**
     * @param x a value
     * @param axes where to insert dimensions of size 1
     * @return the value with the new dimensions
     */
    public String unsqueeze(String x, long... axes) {
        return op("Unsqueeze").input(x, longVector(axes)).output();
    }

    /**
     * @param x a value
     * @param axes the size-1 dimensions to remove; none removes all of them
     * @return the value without them
     */
    public String squeeze(String x, long... axes) {
        NodeBuilder n = op("Squeeze").input(x);
        if (axes.length > 0) {
            n.input(longVector(axes));
        }
        return n.output();
    }

    /**
     * @param x a value
     * @param shape a 1-D INT64 value with the target shape (broadcast rules)
     * @return the expanded value
     */
    public String expand(String x, String shape) {
        return op("Expand").input(x, shape).output();
    }

    /**
     * @param shape a 1-D INT64 value with the shape
     * @param value a one-element tensor with the fill value and type
     * @return a tensor of that shape filled with the value
     */
    public String constantOfShape(String shape, TensorValue value) {
        if (value.elementCount() != 1) {
            throw InvalidRequestException.of("constantOfShape value", "a one-element tensor", value);
        }
        return op("ConstantOfShape").input(shape).attr("value", value.withName("")).output();
    }

    /**
     * @param shape a 1-D INT64 value with the shape
     * @param value the FLOAT fill value
     * @return a FLOAT tensor of that shape filled with the value
     */
    public String constantOfShape(String shape, float value) {
        return constantOfShape(shape, TensorValue.ofFloats("", new float[] {value}, 1));
    }

    /**
     * @param x a value
     * @param to the target element type
     * @return the converted value
     */
    public String cast(String x, DataType to) {
        return op("Cast").input(x).attr("to", (long) to.code()).output();
    }

    /**
     * @param condition a BOOL value
     * @param whenTrue chosen where the condition holds
     * @param whenFalse chosen elsewhere
     * @return the selection (broadcast)
     */
    public String where(String condition, String whenTrue, String whenFalse) {
        return op("Where").input(condition, whenTrue, whenFalse).output();
    }

    // ---------------------------------------------------------------- reductions

    /**
     * @param x a value
     * @param keepDims whether reduced axes stay as size 1
     * @param axes the axes to reduce; none reduces all
     * @return the mean
     */
    public String reduceMean(String x, boolean keepDims, long... axes) {
        return reduce("ReduceMean", 18, x, keepDims, axes);
    }

    /**
     * @param x a value
     * @param keepDims whether reduced axes stay as size 1
     * @param axes the axes to reduce; none reduces all
     * @return the sum
     */
    public String reduceSum(String x, boolean keepDims, long... axes) {
        return reduce("ReduceSum", 13, x, keepDims, axes);
    }

    /**
     * @param x a value
     * @param keepDims whether reduced axes stay as size 1
     * @param axes the axes to reduce; none reduces all
     * @return the maximum
     */
    public String reduceMax(String x, boolean keepDims, long... axes) {
        return reduce("ReduceMax", 18, x, keepDims, axes);
    }

    /** Reduce ops took their axes as an attribute until the opset in which they became an input. */
    private String reduce(String opType, long axesInputSince, String x, boolean keepDims, long[] axes) {
        NodeBuilder n = op(opType).input(x);
        if (axes.length > 0) {
            if (opset >= axesInputSince) {
                n.input(longVector(axes));
            } else {
                n.ints("axes", axes);
            }
        }
        return n.attr("keepdims", keepDims ? 1L : 0L).output();
    }

    // ---------------------------------------------------------------- build

    /**
     * @return the graph (for a subgraph: attach it as a graph attribute)
     * @throws InvalidRequestException if no output was declared
     */
    public OnnxGraph buildGraph() {
        if (outputs.isEmpty()) {
            throw new InvalidRequestException("graph " + graphName + " has no outputs; declare them with output(...)");
        }
        if (!scopes.isEmpty()) {
            throw new IllegalStateException("graph " + graphName + " still has open scopes: " + scopes);
        }
        return new OnnxGraph(graphName, nodes, initializers, inputs, outputs, valueInfo, docString, UnknownFields.EMPTY);
    }

    /**
     * @return the model
     * @throws InvalidRequestException if no output was declared
     * @throws IllegalStateException if called on a subgraph builder or twice
     */
    public OnnxModel build() {
        requireRoot("build");
        if (built) {
            throw new IllegalStateException("build() was already called on this builder");
        }
        OnnxGraph graph = buildGraph();
        built = true;
        List<OpsetImport> opsets = new ArrayList<>();
        opsets.add(new OpsetImport(OpsetImport.DEFAULT_DOMAIN, opset));
        opsets.addAll(extraOpsets);
        long ir = irVersion != 0 ? irVersion : irVersionFor(opset);
        return new OnnxModel(ir, opsets, producerName, producerVersion, modelDomain, modelVersion, docString, graph,
                metadata, UnknownFields.EMPTY);
    }

    /**
     * @param opset a default-domain opset
     * @return the IR version ONNX released with it
     */
    static long irVersionFor(long opset) {
        if (opset <= 14) {
            return 7;
        }
        if (opset <= 18) {
            return 8;
        }
        if (opset <= 20) {
            return 9;
        }
        return opset <= 22 ? 10 : 11;
    }

    // ---------------------------------------------------------------- helpers

    private void requireOpset(long min, String opType) {
        if (opset < min) {
            throw new InvalidRequestException(opType + " needs opset " + min + " or later; this graph uses opset " + opset);
        }
    }

    private void requireRoot(String what) {
        if (parent != null) {
            throw new IllegalStateException(what + "() applies to the model; call it on the root builder, not on subgraph "
                    + graphName);
        }
    }

    private void define(String name, String what) {
        if (name == null || name.isEmpty()) {
            throw InvalidRequestException.of(what + " name", "a non-empty name", "\"\"");
        }
        names.claim(name, names.values, what + " name");
        defined.add(name);
    }

    private void requireDefined(String name, String what) {
        for (GraphBuilder g = this; g != null; g = g.parent) {
            if (g.defined.contains(name)) {
                return;
            }
        }
        throw new InvalidRequestException(what + " \"" + name + "\" is not defined in graph " + graphName
                + "; define it first as a graph input, an initializer or a node output");
    }

    private static String implementationVersion() {
        String v = GraphBuilder.class.getPackage().getImplementationVersion();
        return v == null ? "" : v;
    }

    /** Names in use across a graph and its subgraphs, with counters for generated ones. */
    private static final class Names {
        final Set<String> values = new HashSet<>();
        final Set<String> nodes = new HashSet<>();
        /** Value names handed out by uniqueName and not yet defined. */
        final Set<String> reserved = new HashSet<>();
        private final Map<String, Integer> counters = new HashMap<>();

        String claim(String name, Set<String> space, String what) {
            if (space == values && reserved.remove(name)) {
                return name;
            }
            if (!space.add(name)) {
                throw new InvalidRequestException(what + " \"" + name + "\" is already used");
            }
            return name;
        }

        String fresh(String base, Set<String> space) {
            int k = counters.getOrDefault(base, 0);
            while (true) {
                String name = k == 0 ? base : base + "_" + k;
                k++;
                if (space.add(name)) {
                    counters.put(base, k);
                    return name;
                }
            }
        }

        /** A node name whose {@code _output_i} value names are free too. */
        String freshNode(String base, int outputs) {
            int k = counters.getOrDefault(base, 0);
            while (true) {
                String name = k == 0 ? base : base + "_" + k;
                k++;
                if (nodes.contains(name)) {
                    continue;
                }
                boolean free = true;
                for (int i = 0; i < outputs && free; i++) {
                    free = !values.contains(name + "_output_" + i);
                }
                if (free) {
                    counters.put(base, k);
                    nodes.add(name);
                    return name;
                }
            }
        }
    }
}
