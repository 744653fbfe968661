package io.senseflow.tf.lora;

import io.senseflow.InvalidRequestException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which projections of an imported graph get low-rank adapters, and their size (docs/distillation.md, "LoRA").
 *
 * <p>A target is a node of one of {@link #opTypes()} (MatMul, Gemm) whose weight input (input 1) is a float
 * rank-2 initializer; {@link #targets()} (a regular expression, found anywhere in the node's name or the weight's
 * initializer name) and {@link #weightShapes()} narrow the choice. Each target weight {@code W} (contracting {@code in}
 * inputs to {@code out} outputs) gets a down projection {@code A} ({@code in x rank}, seeded uniform in
 * {@code ±1/sqrt(in)}) and an up projection {@code B} ({@code rank x out}, zero), and the node computes
 * {@code x W + (alpha / rank) (x A) B}: with {@code B = 0} the student starts exactly as the teacher.
 *
 * <p>No adapter dropout: the adapters are trained from distillation losses on generated samples, not fitted to a
 * small data set, and a random mask would need its own seeded stream per step in the graph; the option is left out
 * rather than offered at a fixed zero.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class LoraConfig {
    private final int rank;
    private final double alpha;
    private final String targets;
    private final Set<String> opTypes;
    private final List<long[]> weightShapes;
    private final OptionalLong seed;
    private final boolean bfloat16Base;

    private LoraConfig(Builder b) {
        this.rank = b.rank;
        this.alpha = b.alpha == null ? b.rank : b.alpha;
        this.targets = b.targets;
        this.opTypes = java.util.Collections.unmodifiableSet(new TreeSet<>(b.opTypes));
        List<long[]> shapes = new ArrayList<>();
        b.weightShapes.forEach(s -> shapes.add(s.clone()));
        this.weightShapes = shapes;
        this.seed = b.seed;
        this.bfloat16Base = b.bfloat16Base;
    }

    /**
     * @param rank the adapters' rank, at least 1
     * @return a builder with alpha = rank (scale 1), every MatMul/Gemm projection, the run's seed
     */
    public static Builder rank(int rank) {
        return new Builder(rank);
    }

    /** @return the rank */
    public int rankValue() {
        return rank;
    }

    /** @return alpha; the adapter path is scaled by {@code alpha / rank} */
    public double alpha() {
        return alpha;
    }

    /** @return {@code alpha / rank} */
    public double scale() {
        return alpha / rank;
    }

    /** @return the target pattern (found in the node name or the weight name), or null for every projection */
    public String targets() {
        return targets;
    }

    /** @return the op types adapted (sorted) */
    public Set<String> opTypes() {
        return opTypes;
    }

    /** @return the weight shapes adapted (as stored in the graph); empty for any shape */
    public List<long[]> weightShapes() {
        List<long[]> out = new ArrayList<>();
        weightShapes.forEach(s -> out.add(s.clone()));
        return out;
    }

    /** @return the seed of the down projections' initial values; empty: the run's seed */
    public OptionalLong seed() {
        return seed;
    }

    /**
     * @return whether the frozen base is held in bfloat16 and its matrix products against the base run in bfloat16
     *     ({@link io.senseflow.tf.importer.ImportOptions.Builder#computeBfloat16}); the adapters, their gradients and
     *     their AdamW moments stay float32
     */
    public boolean bfloat16Base() {
        return bfloat16Base;
    }

    /** @return a builder starting from these settings */
    public Builder toBuilder() {
        Builder b = new Builder(rank).alpha(alpha).opTypes(opTypes.toArray(new String[0]));
        b.targets = targets;
        weightShapes.forEach(s -> b.weightShapes.add(s.clone()));
        b.seed = seed;
        b.bfloat16Base = bfloat16Base;
        return b;
    }

    boolean selectsShape(long[] dims) {
        return weightShapes.isEmpty() || weightShapes.stream().anyMatch(s -> Arrays.equals(s, dims));
    }

    boolean selectsName(String nodeName, String weightName) {
        if (targets == null) {
            return true;
        }
        Pattern p = Pattern.compile(targets);
        return p.matcher(nodeName).find() || p.matcher(weightName).find();
    }

    /** @return the settings as a JSON object (what a run folder records; resume compares it) */
    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rank", (long) rank);
        m.put("alpha", alpha);
        if (targets != null) {
            m.put("targets", targets);
        }
        m.put("op_types", new ArrayList<>(opTypes));
        List<Object> shapes = new ArrayList<>();
        for (long[] s : weightShapes) {
            List<Object> d = new ArrayList<>();
            for (long x : s) {
                d.add(x);
            }
            shapes.add(d);
        }
        m.put("weight_shapes", shapes);
        if (seed.isPresent()) {
            m.put("seed", seed.getAsLong());
        }
        if (bfloat16Base) {
            m.put("base_precision", "bfloat16"); // written only when set: float32 runs record what they always did
        }
        return Json.write(m);
    }

    /**
     * @param json what {@link #toJson()} wrote
     * @return the settings
     * @throws InvalidRequestException naming the field that is missing or wrong
     */
    public static LoraConfig fromJson(String json) {
        JsonObject o = Json.parseObject(json);
        Builder b = rank(o.getInt("rank")).alpha(o.getDouble("alpha"));
        if (o.has("targets")) {
            b.targets(o.getString("targets"));
        }
        Map<String, Object> all = o.asMap();
        if (all.get("op_types") instanceof List<?> types) {
            b.opTypes(types.stream().map(String::valueOf).toArray(String[]::new));
        }
        if (all.get("weight_shapes") instanceof List<?> shapes) {
            for (Object s : shapes) {
                if (s instanceof List<?> dims) {
                    b.weightShape(dims.stream().mapToLong(d -> ((Number) d).longValue()).toArray());
                }
            }
        }
        if (o.has("seed")) {
            b.seed(o.getLong("seed", 0));
        }
        if (o.has("base_precision")) {
            String precision = o.getString("base_precision");
            if (!precision.equals("bfloat16") && !precision.equals("float32")) {
                throw InvalidRequestException.of("lora base_precision", "bfloat16 or float32", precision);
            }
            b.bfloat16Base(precision.equals("bfloat16"));
        }
        return b.build();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LoraConfig c && c.toJson().equals(toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return "LoraConfig" + toJson();
    }

    /** Builder of {@link LoraConfig}. */
    public static final class Builder {
        private final int rank;
        private Double alpha;
        private String targets;
        private final Set<String> opTypes = new TreeSet<>(List.of("Gemm", "MatMul"));
        private final List<long[]> weightShapes = new ArrayList<>();
        private OptionalLong seed = OptionalLong.empty();
        private boolean bfloat16Base;

        private Builder(int rank) {
            if (rank < 1) {
                throw InvalidRequestException.of("lora rank", "at least 1", rank);
            }
            this.rank = rank;
        }

        /** @param a alpha, positive and finite (the adapter path is scaled by alpha / rank) @return this */
        public Builder alpha(double a) {
            if (!(a > 0) || Double.isInfinite(a)) {
                throw InvalidRequestException.of("lora alpha", "a positive finite number", a);
            }
            this.alpha = a;
            return this;
        }

        /**
         * @param regex adapt only projections whose node name or weight name contains a match (e.g.
         *     {@code "attn|ff"}); null for all
         * @return this
         */
        public Builder targets(String regex) {
            if (regex != null) {
                try {
                    Pattern.compile(regex);
                } catch (PatternSyntaxException e) {
                    throw InvalidRequestException.of("lora targets", "a regular expression", regex + " ("
                            + e.getDescription() + ")");
                }
            }
            this.targets = regex;
            return this;
        }

        /** @param types the op types to adapt, among MatMul and Gemm @return this */
        public Builder opTypes(String... types) {
            if (types.length == 0) {
                throw InvalidRequestException.of("lora op types", "at least one of [Gemm, MatMul]", "none");
            }
            for (String t : types) {
                if (!t.equals("MatMul") && !t.equals("Gemm")) {
                    throw InvalidRequestException.of("lora op type", "MatMul or Gemm", t);
                }
            }
            opTypes.clear();
            opTypes.addAll(List.of(types));
            return this;
        }

        /** @param dims adapt weights of this stored shape (may be given several times) @return this */
        public Builder weightShape(long... dims) {
            if (dims.length != 2 || dims[0] < 1 || dims[1] < 1) {
                throw InvalidRequestException.of("lora weight shape", "two positive sizes", Arrays.toString(dims));
            }
            weightShapes.add(dims.clone());
            return this;
        }

        /** @param s the seed of the down projections' initial values (default: the run's seed) @return this */
        public Builder seed(long s) {
            this.seed = OptionalLong.of(s);
            return this;
        }

        /**
         * @param on hold the frozen base in bfloat16 (half its float32 bytes) and run its matrix products in bfloat16,
         *     with float32 adapters and optimizer state (default off: everything float32). The student then starts
         *     within bfloat16 rounding of the teacher, not bit-identical to it
         * @return this
         */
        public Builder bfloat16Base(boolean on) {
            this.bfloat16Base = on;
            return this;
        }

        /** @return the settings */
        public LoraConfig build() {
            return new LoraConfig(this);
        }
    }
}
