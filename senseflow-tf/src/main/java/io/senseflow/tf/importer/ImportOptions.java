package io.senseflow.tf.importer;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.TensorValue;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * How an ONNX graph is imported into TensorFlow. Immutable; build with {@link #builder()}.
 *
 * <ul>
 *   <li><b>Input shapes</b> specialise graph inputs (fix batch, sequence or spatial sizes). With static shapes the
 *       shape arithmetic of exported graphs ({@code Shape -> Gather -> Concat -> Reshape}) folds to constants.</li>
 *   <li><b>Trainable</b> selects, by original name, which float initializers become trainable variables (default:
 *       all). The others are frozen: constants (or non-trainable variables when large).</li>
 *   <li><b>Untie shared parameters</b> (default on): PyTorch's exporter replaces parameters that happen to hold
 *       equal values by {@code Identity} nodes of one initializer ({@code model.pooler.dense.bias =
 *       Identity(model.embeddings.LayerNorm.bias)}). They are separate parameters of the model, so each such
 *       Identity output becomes its own variable, initialised with the shared value.</li>
 *   <li><b>Outputs</b>: which values to import (default: the graph outputs); any intermediate value name may be
 *       tapped. Nodes not needed for them are not imported.</li>
 *   <li><b>Inline limit</b>: constants up to this many bytes are embedded in the graph; larger ones become
 *       non-trainable variables initialised by feeding (the GraphDef has a 2 GB limit).</li>
 *   <li><b>Fold limit</b>: a node whose inputs are all known at import is evaluated then, unless its result would
 *       exceed this many bytes.</li>
 *   <li><b>Constant inputs</b>: a graph input may be bound to a tensor known at import (FLUX's {@code img_ids} and
 *       {@code txt_ids}, fixed per resolution): it becomes a constant, not a placeholder, and everything that depends
 *       only on it and on other constants (FLUX's rotary tables, with their NonZero and GatherND) is evaluated at
 *       import.</li>
 *   <li><b>Shared initializers</b>: frozen float initializers may be read from TensorFlow outputs the caller built
 *       once (the reads of a {@code io.senseflow.tf.lora.SharedBase}), so several modules imported into one graph
 *       use one copy of their weights instead of a constant or variable each. A trainable initializer is never
 *       taken from there. A shared value may be bfloat16 for a float32 initializer (a bfloat16 base): it is cast to
 *       float32 at use, or used as it is by bfloat16 products ({@link Builder#computeBfloat16}).</li>
 *   <li><b>Float64</b> (default off): every float32 tensor of the graph (inputs, initializers, constants, casts) is
 *       imported as float64, e.g. to check gradients against finite differences in double precision.</li>
 *   <li><b>Frozen bfloat16</b> (default off): frozen float32 tensors of at least
 *       {@link #FROZEN_BFLOAT16_MIN_ELEMENTS} elements (the frozen weights, not scalars or small tables) are stored as
 *       bfloat16 (rounded to nearest, ties to even) and cast to float32 where they are used; the computation stays
 *       float32, trainable variables and their optimizer state stay float32. Halves the resident size of a frozen
 *       base; during a backward the float32 casts a matrix product's gradient needs are held like activations
 *       (docs/memory.md).</li>
 *   <li><b>Compute bfloat16</b> (default off; implies frozen bfloat16 storage): the matrix products against a frozen
 *       bfloat16-stored weight ({@code MatMul}, {@code Gemm}, batched {@code MatMul}, ungrouped {@code Conv}) run in
 *       bfloat16: the other operand is cast to bfloat16, the stored weight is used as it is, and the product is cast
 *       back to float32 before anything else (bias, softmax, normalisations, the loss) sees it. Products against
 *       trainable (float32) weights, such as LoRA adapters, and everything else stay float32. A product against a
 *       bfloat16 weight that has no bfloat16 path (grouped or depthwise convolution, Einsum) stays float32 and is
 *       counted ({@link ImportedGraph#float32Fallbacks()}).</li>
 * </ul>
 *
 * <p>Immutable: safe to share between threads.
 */
public final class ImportOptions {
    private final Map<String, long[]> inputShapes;
    private final Predicate<String> trainable;
    private final String trainableDescription;
    private final boolean untieSharedParameters;
    private final List<String> outputs;
    private final long inlineConstantBytes;
    private final long foldLimitBytes;
    private final Map<String, TensorValue> constantInputs;
    private final boolean float64;
    private final boolean frozenBfloat16;
    private final boolean computeBfloat16;

    /** Smallest frozen float32 tensor (elements) that {@link Builder#frozenBfloat16} stores as bfloat16. */
    public static final long FROZEN_BFLOAT16_MIN_ELEMENTS = 1024;
    private final Map<String, org.tensorflow.Output<?>> sharedInitializers;

    private ImportOptions(Builder b) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        b.inputShapes.forEach((k, v) -> shapes.put(k, v.clone()));
        this.inputShapes = shapes;
        this.trainable = b.trainable;
        this.trainableDescription = b.trainableDescription;
        this.untieSharedParameters = b.untieSharedParameters;
        this.outputs = List.copyOf(b.outputs);
        this.inlineConstantBytes = b.inlineConstantBytes;
        this.foldLimitBytes = b.foldLimitBytes;
        this.constantInputs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(b.constantInputs));
        this.float64 = b.float64;
        this.computeBfloat16 = b.computeBfloat16;
        this.frozenBfloat16 = b.frozenBfloat16 || b.computeBfloat16;
        if (float64 && computeBfloat16) {
            throw InvalidRequestException.of("import options", "float64 or bfloat16 compute, not both",
                    "float64 and computeBfloat16");
        }
        if (float64 && frozenBfloat16) {
            throw InvalidRequestException.of("import options", "float64 or frozen bfloat16, not both",
                    "float64 and frozenBfloat16");
        }
        this.sharedInitializers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(b.sharedInitializers));
    }

    /** @return the defaults: dynamic shapes as declared, all float initializers trainable */
    public static ImportOptions defaults() {
        return builder().build();
    }

    /** @return a builder with the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder starting from these options */
    public Builder toBuilder() {
        Builder b = new Builder();
        inputShapes.forEach(b::inputShape);
        b.trainable = trainable;
        b.trainableDescription = trainableDescription;
        b.untieSharedParameters = untieSharedParameters;
        b.outputs.addAll(outputs);
        b.inlineConstantBytes = inlineConstantBytes;
        b.foldLimitBytes = foldLimitBytes;
        b.constantInputs.putAll(constantInputs);
        b.float64 = float64;
        b.frozenBfloat16 = frozenBfloat16;
        b.computeBfloat16 = computeBfloat16;
        b.sharedInitializers.putAll(sharedInitializers);
        return b;
    }

    /** @param input a graph input name @return its specialised shape (-1 for dynamic), or null */
    public long[] inputShape(String input) {
        long[] s = inputShapes.get(input);
        return s == null ? null : s.clone();
    }

    /** @return the names with specialised shapes */
    public java.util.Set<String> specialisedInputs() {
        return inputShapes.keySet();
    }

    /** @param originalName an initializer name @return whether it becomes a trainable variable */
    public boolean isTrainable(String originalName) {
        return trainable.test(originalName);
    }

    /** @return whether Identity-shared parameters are untied */
    public boolean untieSharedParameters() {
        return untieSharedParameters;
    }

    /** @return the values to import; empty for the graph outputs */
    public List<String> outputs() {
        return outputs;
    }

    /** @return the largest constant embedded in the graph, in bytes */
    public long inlineConstantBytes() {
        return inlineConstantBytes;
    }

    /** @return the largest folded result, in bytes */
    public long foldLimitBytes() {
        return foldLimitBytes;
    }

    /** @param input a graph input name @return the tensor it is bound to at import, or null */
    public TensorValue constantInput(String input) {
        return constantInputs.get(input);
    }

    /** @return the graph inputs bound to constants, by name (unmodifiable) */
    public Map<String, TensorValue> constantInputs() {
        return constantInputs;
    }

    /**
     * @param initializer an initializer name
     * @return the shared TensorFlow value a frozen initializer of that name is read from, or null
     */
    public org.tensorflow.Output<?> sharedInitializer(String initializer) {
        return sharedInitializers.get(initializer);
    }

    /** @return whether float32 tensors are imported as float64 */
    public boolean float64() {
        return float64;
    }

    /** @return whether frozen float32 weights are stored as bfloat16 (cast to float32 at use) */
    public boolean frozenBfloat16() {
        return frozenBfloat16;
    }

    /**
     * @return whether matrix products against frozen bfloat16 weights run in bfloat16 (then {@link #frozenBfloat16()}
     *     is true too)
     */
    public boolean computeBfloat16() {
        return computeBfloat16;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("ImportOptions[trainable=").append(trainableDescription);
        inputShapes.forEach((k, v) -> s.append(", ").append(k).append('=').append(java.util.Arrays.toString(v)));
        constantInputs.forEach((k, v) -> s.append(", ").append(k).append(":=const").append(java.util.Arrays.toString(v.dims())));
        return s.append(", untie=").append(untieSharedParameters).append(", outputs=").append(outputs)
                .append(float64 ? ", float64" : "").append(computeBfloat16 ? ", bfloat16 compute" : frozenBfloat16 ? ", frozen bfloat16" : "")
                .append(sharedInitializers.isEmpty() ? "" : ", shared=" + sharedInitializers.size()).append(']').toString();
    }

    /** Builder of {@link ImportOptions}. */
    public static final class Builder {
        private final Map<String, long[]> inputShapes = new LinkedHashMap<>();
        private Predicate<String> trainable = n -> true;
        private String trainableDescription = "all";
        private boolean untieSharedParameters = true;
        private final List<String> outputs = new ArrayList<>();
        private long inlineConstantBytes = 1L << 20;
        private long foldLimitBytes = 64L << 20;
        private final Map<String, TensorValue> constantInputs = new LinkedHashMap<>();
        private boolean float64;
        private boolean frozenBfloat16;
        private boolean computeBfloat16;
        private final Map<String, org.tensorflow.Output<?>> sharedInitializers = new LinkedHashMap<>();

        private Builder() {
        }

        /**
         * @param input a graph input name
         * @param dims its shape; -1 keeps a dimension dynamic
         * @return this
         */
        public Builder inputShape(String input, long... dims) {
            for (long d : dims) {
                if (d < -1) {
                    throw InvalidRequestException.of("input shape of " + input, "sizes >= 0 or -1 (dynamic)",
                            java.util.Arrays.toString(dims));
                }
            }
            inputShapes.put(input, dims.clone());
            return this;
        }

        /**
         * @param which selects trainable initializers by original name
         * @param description what it selects, for messages
         * @return this
         */
        public Builder trainable(Predicate<String> which, String description) {
            this.trainable = which;
            this.trainableDescription = description;
            return this;
        }

        /** @param regex initializers whose original name matches (find) become trainable @return this */
        public Builder trainablePattern(String regex) {
            Pattern p = Pattern.compile(regex);
            return trainable(n -> p.matcher(n).find(), "/" + regex + "/");
        }

        /** @return this, with every initializer frozen */
        public Builder frozen() {
            return trainable(n -> false, "none");
        }

        /** @param on whether to untie Identity-shared parameters @return this */
        public Builder untieSharedParameters(boolean on) {
            this.untieSharedParameters = on;
            return this;
        }

        /** @param names the values to import (graph outputs or intermediate values) @return this */
        public Builder outputs(String... names) {
            outputs.clear();
            outputs.addAll(List.of(names));
            return this;
        }

        /** @param bytes largest constant embedded in the graph @return this */
        public Builder inlineConstantBytes(long bytes) {
            this.inlineConstantBytes = bytes;
            return this;
        }

        /** @param bytes largest result folded at import @return this */
        public Builder foldLimitBytes(long bytes) {
            this.foldLimitBytes = bytes;
            return this;
        }

        /**
         * Binds a graph input to a value known at import: the input becomes a constant (no placeholder), and nodes
         * depending only on constants fold. Its element type and rank must match the declaration (checked at
         * import).
         *
         * @param input a graph input name
         * @param value its value
         * @return this
         */
        public Builder constantInput(String input, TensorValue value) {
            constantInputs.put(input, value.withName(input));
            return this;
        }

        /** @param on import every float32 tensor as float64 (for float64 gradient checks) @return this */
        public Builder float64(boolean on) {
            this.float64 = on;
            return this;
        }

        /**
         * @param on store frozen float32 tensors of {@link #FROZEN_BFLOAT16_MIN_ELEMENTS} elements or more as bfloat16,
         *     cast to float32 at use (trainable variables stay float32)
         * @return this
         */
        public Builder frozenBfloat16(boolean on) {
            this.frozenBfloat16 = on;
            return this;
        }

        /**
         * Runs the matrix products against frozen weights in bfloat16 ({@code MatMul}, {@code Gemm}, batched
         * {@code MatMul}, ungrouped {@code Conv}): the activation is cast to bfloat16, the weight is used as stored
         * (this implies {@link #frozenBfloat16}), the product is cast back to float32. Biases, softmax,
         * normalisations, the loss, trainable weights (LoRA adapters) and their optimizer state stay float32.
         * TensorFlow's CPU kernels accumulate these products in bfloat16 (docs/memory.md gives the measured error).
         *
         * @param on whether to compute the frozen-weight products in bfloat16
         * @return this
         */
        public Builder computeBfloat16(boolean on) {
            this.computeBfloat16 = on;
            return this;
        }

        /**
         * Frozen initializers read from values built once in the target graph (one copy of a base shared by several
         * imports); each must have the initializer's type (or be bfloat16 for a float32 one) and shape (checked at
         * import).
         *
         * @param reads TensorFlow outputs by initializer name, in the graph the options import into
         * @return this
         */
        public Builder sharedInitializers(Map<String, ? extends org.tensorflow.Output<?>> reads) {
            sharedInitializers.putAll(reads);
            return this;
        }

        /** @return the options */
        public ImportOptions build() {
            return new ImportOptions(this);
        }
    }
}
