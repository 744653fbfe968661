package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonException;
import io.senseflow.json.JsonObject;
import io.senseflow.schedule.AnchorPreset;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.IntraSegmentTimesteps;
import io.senseflow.train.AdamWConfig;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Every knob of a distillation run, in one immutable value with a JSON form, so a run is reproducible from its
 * saved config and seed. Start from {@link #preset(Recipe, Family)} and adjust with {@link #toBuilder()}.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param seed the seed of every random draw of the run
 * @param batchSize samples per iteration
 * @param iterations default stop (the run's length)
 * @param anchors the generator's anchors, strictly decreasing in (0, 1]
 * @param backwardSimulation probability {@code p_bs} of building the generator input by backward simulation
 *     (§4.1); batches without real samples always use it
 * @param ttur generator update every {@code ttur}-th iteration (§4.5)
 * @param dmd the distribution matching term
 * @param isg the intra-segment guidance term
 * @param gan the GAN term and the discriminator's update
 * @param ida implicit distribution alignment
 * @param emaDecay generator EMA decay per generator step (0: off)
 * @param fakeScoreTimesteps the fake score's noise levels (§4.7)
 * @param generatorOptimizer G's optimizer
 * @param fakeScoreOptimizer F's optimizer
 * @param discriminatorOptimizer D's optimizer
 * @param nonFinite what to do when a loss or gradient is not finite
 * @param maxSkips with {@link NonFinitePolicy#SKIP}: how many batches may be skipped before the run stops
 */
public record DistillationConfig(long seed, int batchSize, long iterations, double[] anchors, double backwardSimulation,
        int ttur, Dmd dmd, Isg isg, Gan gan, Ida ida, double emaDecay, TimestepSpec fakeScoreTimesteps,
        AdamWConfig generatorOptimizer, AdamWConfig fakeScoreOptimizer, AdamWConfig discriminatorOptimizer,
        NonFinitePolicy nonFinite, int maxSkips) {

    /**
     * What happens when a value the loop checks is NaN or infinite: the conditioning and real samples of the batch,
     * the generator's input and outputs (backward simulation included), each objective's loss and gradient, the decoder's
     * outputs before the discriminator, every loss and every parameter-gradient norm (checked before the optimizer
     * step, so a non-finite gradient never reaches the parameters).
     */
    public enum NonFinitePolicy {
        /**
         * Stop the run with a {@link io.senseflow.NumericalException} naming the phase, the iteration and the tensor.
         */
        STOP,
        /**
         * Skip the rest of the iteration's updates and count it (the iteration number still advances); stop with a
         * {@link io.senseflow.NumericalException} after {@code maxSkips}. Updates that completed earlier in the same
         * iteration stay applied (the generator step when the fake-score loss is the one that fails).
         */
        SKIP
    }

    /**
     * The DMD term (§4.2).
     *
     * @param enabled on or off
     * @param weight its weight in the generator loss
     * @param noiseLevels the family's noise-level sampler
     * @param guidance the teacher's guidance for the real score
     */
    public record Dmd(boolean enabled, double weight, TimestepSpec noiseLevels, TeacherGuidance guidance) {
        public Dmd {
            Objects.requireNonNull(noiseLevels, "dmd.noiseLevels");
            Objects.requireNonNull(guidance, "dmd.guidance");
            requireWeight("dmd.weight", weight);
        }
    }

    /**
     * The ISG term (§4.3).
     *
     * @param enabled on or off
     * @param weight its weight (1.0 for flow models)
     * @param grid the hand-over grid
     * @param margin indices kept free at each segment end
     * @param guidance the teacher's guidance for its step
     * @param distance the distance
     */
    public record Isg(boolean enabled, double weight, GridSpec grid, int margin, TeacherGuidance guidance,
            SegmentDistance distance) {
        public Isg {
            Objects.requireNonNull(grid, "isg.grid");
            Objects.requireNonNull(guidance, "isg.guidance");
            Objects.requireNonNull(distance, "isg.distance");
            requireWeight("isg.weight", weight);
            if (margin < 0) {
                throw InvalidRequestException.of("isg.margin", "a non-negative number of grid indices", margin);
            }
        }
    }

    /**
     * The GAN term and discriminator update (§4.4, §4.8). The discriminator's learning rate is
     * {@code discriminatorOptimizer}'s.
     *
     * @param enabled on or off
     * @param weighting {@code omega} and {@code w_gan}
     * @param discriminator which discriminator; {@link DiscriminatorKind#NONE} only when the term is off
     */
    public record Gan(boolean enabled, GanWeighting weighting, DiscriminatorKind discriminator) {
        public Gan {
            Objects.requireNonNull(weighting, "gan.weighting");
            Objects.requireNonNull(discriminator, "gan.discriminator");
            if (enabled && discriminator == DiscriminatorKind.NONE) {
                throw InvalidRequestException.of("gan.discriminator", "vfm or fake-score-features when gan.enabled is"
                        + " true", "none");
            }
        }

        /**
         * The term with SenseFlow's discriminator (a frozen vision backbone with heads) when enabled.
         *
         * @param enabled on or off
         * @param weighting {@code omega} and {@code w_gan}
         */
        public Gan(boolean enabled, GanWeighting weighting) {
            this(enabled, weighting, enabled ? DiscriminatorKind.VFM : DiscriminatorKind.NONE);
        }
    }

    /**
     * Implicit distribution alignment (§4.6).
     *
     * @param enabled on or off
     * @param lambda the fake score's share after each generator step, in [0, 1)
     */
    public record Ida(boolean enabled, double lambda) {
        public Ida {
            if (!(lambda >= 0 && lambda < 1)) {
                throw InvalidRequestException.of("ida.lambda", "a value in [0, 1)", lambda);
            }
        }
    }

    public DistillationConfig {
        anchors = FewStepScheduler.validateAnchors(anchors, "anchors");
        if (batchSize < 1) {
            throw InvalidRequestException.of("batchSize", "at least 1", batchSize);
        }
        if (iterations < 0) {
            throw InvalidRequestException.of("iterations", "a non-negative count", iterations);
        }
        if (!(backwardSimulation >= 0 && backwardSimulation <= 1)) {
            throw InvalidRequestException.of("backwardSimulation", "a probability in [0, 1]", backwardSimulation);
        }
        if (ttur < 1) {
            throw InvalidRequestException.of("ttur", "at least 1 (generator update every ttur-th iteration)", ttur);
        }
        Objects.requireNonNull(dmd, "dmd");
        Objects.requireNonNull(isg, "isg");
        Objects.requireNonNull(gan, "gan");
        Objects.requireNonNull(ida, "ida");
        if (!(emaDecay >= 0 && emaDecay < 1)) {
            throw InvalidRequestException.of("emaDecay", "a value in [0, 1) (0 turns EMA off)", emaDecay);
        }
        Objects.requireNonNull(fakeScoreTimesteps, "fakeScoreTimesteps");
        Objects.requireNonNull(generatorOptimizer, "generatorOptimizer");
        Objects.requireNonNull(fakeScoreOptimizer, "fakeScoreOptimizer");
        Objects.requireNonNull(discriminatorOptimizer, "discriminatorOptimizer");
        Objects.requireNonNull(nonFinite, "nonFinite");
        if (maxSkips < 0) {
            throw InvalidRequestException.of("maxSkips", "a non-negative count", maxSkips);
        }
        if (!dmd.enabled() && !isg.enabled() && !gan.enabled()) {
            throw new InvalidRequestException("DistillationConfig: at least one generator term (dmd, isg, gan) must be enabled");
        }
        if (isg.enabled()) {
            // validates that every segment fits the margin on the grid
            new IntraSegmentTimesteps(anchors, isg.grid().grid(), isg.margin());
        }
    }

    @Override
    public double[] anchors() {
        return anchors.clone();
    }

    /** @return the ISG hand-over sampler for these anchors */
    public IntraSegmentTimesteps isgSegments() {
        return new IntraSegmentTimesteps(anchors, isg.grid().grid(), isg.margin());
    }

    /** @return the generator-side objectives this config enables, weighted */
    public java.util.List<DistillationObjective> objectives() {
        java.util.List<DistillationObjective> list = new java.util.ArrayList<>();
        if (dmd.enabled()) {
            list.add(DistillationObjective.weighted(new DistributionMatching(dmd.noiseLevels().sampler(), dmd.guidance()), dmd.weight()));
        }
        if (isg.enabled()) {
            list.add(DistillationObjective.weighted(new IntraSegmentGuidance(isgSegments(), isg.guidance(), isg.distance()), isg.weight()));
        }
        if (gan.enabled()) {
            list.add(new AdversarialLoss(gan.weighting()));
        }
        return list;
    }

    // ------------------------------------------------------------------ presets

    /**
     * Paper-faithful constants for a family with the terms of a recipe. Optimizers use the released setting
     * (AdamW 0.9/0.999, lr 1e-6 after 500 warm-up steps, clip 1.0); small models need a larger rate.
     *
     * @param recipe which terms
     * @param family where the constants come from
     * @return the config
     */
    public static DistillationConfig preset(Recipe recipe, Family family) {
        Builder b = new Builder();
        switch (family) {
            case SD35_LARGE, SD35_MEDIUM -> {
                boolean medium = family == Family.SD35_MEDIUM;
                b.anchors = AnchorPreset.SD35.anchors();
                b.ttur = medium ? 10 : 5;
                b.dmd = new Dmd(true, 1, new TimestepSpec.TableIndex(3, 20, 980), new TeacherGuidance.Cfg(3, 10));
                b.isg = new Isg(recipe.isg(), 1, new GridSpec.FlowTable(3), 50, new TeacherGuidance.Cfg(5, 5), SegmentDistance.pseudoHuber());
                b.gan = new Gan(recipe.gan(), GanWeighting.sd35Released());
                b.ida = new Ida(recipe.ida(), medium ? 0.98 : 0.97);
                b.fakeScoreTimesteps = new TimestepSpec.LogitNormal(0, 1, 3);
            }
            case FLUX -> {
                b.anchors = AnchorPreset.FLUX.anchors();
                b.ttur = 5;
                b.dmd = new Dmd(true, 1, new TimestepSpec.LogitNormal(0, 1, 1), new TeacherGuidance.Embedded(1, 8));
                b.isg = new Isg(recipe.isg(), 1, new GridSpec.Linear(1000), 20, new TeacherGuidance.Embedded(1, 8), SegmentDistance.pseudoHuber());
                b.gan = new Gan(recipe.gan(), GanWeighting.fluxReleased());
                b.ida = new Ida(recipe.ida(), 0.97);
                b.fakeScoreTimesteps = new TimestepSpec.LogitNormal(0, 1, 1);
            }
            case SDXL -> {
                b.anchors = AnchorPreset.SDXL.anchors();
                b.ttur = 5;
                b.dmd = new Dmd(true, 1, new TimestepSpec.DdpmIndex(20, 980), new TeacherGuidance.Cfg(8, 8));
                b.isg = new Isg(recipe.isg(), 1, new GridSpec.Ddpm(), 50, new TeacherGuidance.Cfg(8, 8), SegmentDistance.pseudoHuber());
                b.gan = new Gan(recipe.gan(), GanWeighting.paper());
                b.ida = new Ida(recipe.ida(), 0.97);
                b.fakeScoreTimesteps = new TimestepSpec.DdpmIndex(0, 999);
            }
            case CUSTOM -> {
                b.anchors = new double[] {1, 0.75, 0.5, 0.25};
                b.ttur = 5;
                b.dmd = new Dmd(true, 1, new TimestepSpec.TableIndex(1, 20, 980), new TeacherGuidance.None());
                b.isg = new Isg(recipe.isg(), 1, new GridSpec.Linear(1000), 20, new TeacherGuidance.None(), SegmentDistance.pseudoHuber());
                b.gan = new Gan(recipe.gan(), GanWeighting.paper());
                b.ida = new Ida(recipe.ida(), 0.97);
                b.fakeScoreTimesteps = new TimestepSpec.LogitNormal(0, 1, 1);
            }
            default -> throw new AssertionError(family);
        }
        return b.build();
    }

    /** @return a builder with this config's values */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.seed = seed;
        b.batchSize = batchSize;
        b.iterations = iterations;
        b.anchors = anchors.clone();
        b.backwardSimulation = backwardSimulation;
        b.ttur = ttur;
        b.dmd = dmd;
        b.isg = isg;
        b.gan = gan;
        b.ida = ida;
        b.emaDecay = emaDecay;
        b.fakeScoreTimesteps = fakeScoreTimesteps;
        b.generatorOptimizer = generatorOptimizer;
        b.fakeScoreOptimizer = fakeScoreOptimizer;
        b.discriminatorOptimizer = discriminatorOptimizer;
        b.nonFinite = nonFinite;
        b.maxSkips = maxSkips;
        return b;
    }

    /** Builder for {@link DistillationConfig}; starts from the SD3.5-Large senseflow preset's values. */
    public static final class Builder {
        private long seed;
        private int batchSize = 4;
        private long iterations = 1000;
        private double[] anchors = AnchorPreset.SD35.anchors();
        private double backwardSimulation = 0.5;
        private int ttur = 5;
        private Dmd dmd = new Dmd(true, 1, new TimestepSpec.TableIndex(3, 20, 980), new TeacherGuidance.Cfg(3, 10));
        private Isg isg = new Isg(true, 1, new GridSpec.FlowTable(3), 50, new TeacherGuidance.Cfg(5, 5), SegmentDistance.pseudoHuber());
        private Gan gan = new Gan(true, GanWeighting.sd35Released());
        private Ida ida = new Ida(true, 0.97);
        private double emaDecay;
        private TimestepSpec fakeScoreTimesteps = new TimestepSpec.LogitNormal(0, 1, 3);
        private AdamWConfig generatorOptimizer = AdamWConfig.released();
        private AdamWConfig fakeScoreOptimizer = AdamWConfig.released();
        private AdamWConfig discriminatorOptimizer = AdamWConfig.released();
        private NonFinitePolicy nonFinite = NonFinitePolicy.STOP;
        private int maxSkips = 10;

        /** @param v seed @return this */
        public Builder seed(long v) {
            seed = v;
            return this;
        }

        /** @param v batch size @return this */
        public Builder batchSize(int v) {
            batchSize = v;
            return this;
        }

        /** @param v iterations @return this */
        public Builder iterations(long v) {
            iterations = v;
            return this;
        }

        /** @param v anchors @return this */
        public Builder anchors(double... v) {
            anchors = v.clone();
            return this;
        }

        /** @param v probability of backward simulation @return this */
        public Builder backwardSimulation(double v) {
            backwardSimulation = v;
            return this;
        }

        /** @param v TTUR ratio @return this */
        public Builder ttur(int v) {
            ttur = v;
            return this;
        }

        /** @param v DMD settings @return this */
        public Builder dmd(Dmd v) {
            dmd = v;
            return this;
        }

        /** @param v ISG settings @return this */
        public Builder isg(Isg v) {
            isg = v;
            return this;
        }

        /** @param v GAN settings @return this */
        public Builder gan(Gan v) {
            gan = v;
            return this;
        }

        /** @param v IDA settings @return this */
        public Builder ida(Ida v) {
            ida = v;
            return this;
        }

        /** @param v EMA decay (0: off) @return this */
        public Builder emaDecay(double v) {
            emaDecay = v;
            return this;
        }

        /** @param v fake-score noise levels @return this */
        public Builder fakeScoreTimesteps(TimestepSpec v) {
            fakeScoreTimesteps = v;
            return this;
        }

        /** @param v generator optimizer @return this */
        public Builder generatorOptimizer(AdamWConfig v) {
            generatorOptimizer = v;
            return this;
        }

        /** @param v fake-score optimizer @return this */
        public Builder fakeScoreOptimizer(AdamWConfig v) {
            fakeScoreOptimizer = v;
            return this;
        }

        /** @param v discriminator optimizer @return this */
        public Builder discriminatorOptimizer(AdamWConfig v) {
            discriminatorOptimizer = v;
            return this;
        }

        /** @param v the same optimizer settings for G, F and D @return this */
        public Builder optimizers(AdamWConfig v) {
            generatorOptimizer = v;
            fakeScoreOptimizer = v;
            discriminatorOptimizer = v;
            return this;
        }

        /** @param policy policy @param skips skips allowed @return this */
        public Builder nonFinite(NonFinitePolicy policy, int skips) {
            nonFinite = policy;
            maxSkips = skips;
            return this;
        }

        /** @return the validated config */
        public DistillationConfig build() {
            return new DistillationConfig(seed, batchSize, iterations, anchors, backwardSimulation, ttur, dmd, isg, gan,
                    ida, emaDecay, fakeScoreTimesteps, generatorOptimizer, fakeScoreOptimizer, discriminatorOptimizer,
                    nonFinite, maxSkips);
        }
    }

    // ------------------------------------------------------------------ JSON

    /** @return the JSON form (pretty, deterministic) */
    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seed", seed);
        m.put("batch_size", (long) batchSize);
        m.put("iterations", iterations);
        m.put("anchors", anchors.clone());
        m.put("backward_simulation", backwardSimulation);
        m.put("ttur", (long) ttur);
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("enabled", dmd.enabled());
        d.put("weight", dmd.weight());
        d.put("noise_levels", dmd.noiseLevels().toJson());
        d.put("guidance", guidanceJson(dmd.guidance()));
        m.put("dmd", d);
        Map<String, Object> i = new LinkedHashMap<>();
        i.put("enabled", isg.enabled());
        i.put("weight", isg.weight());
        i.put("grid", isg.grid().toJson());
        i.put("margin", (long) isg.margin());
        i.put("guidance", guidanceJson(isg.guidance()));
        Map<String, Object> dist = new LinkedHashMap<>();
        if (isg.distance() instanceof SegmentDistance.PseudoHuber p) {
            dist.put("kind", "pseudo-huber");
            dist.put("c", p.c());
        } else {
            dist.put("kind", "l2");
        }
        i.put("distance", dist);
        m.put("isg", i);
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("enabled", gan.enabled());
        g.put("omega", gan.weighting().omega().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        g.put("weight", gan.weighting().weight());
        g.put("discriminator", gan.discriminator().id());
        m.put("gan", g);
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("enabled", ida.enabled());
        a.put("lambda", ida.lambda());
        m.put("ida", a);
        m.put("ema_decay", emaDecay);
        m.put("fake_score_timesteps", fakeScoreTimesteps.toJson());
        m.put("generator_optimizer", adamJson(generatorOptimizer));
        m.put("fake_score_optimizer", adamJson(fakeScoreOptimizer));
        m.put("discriminator_optimizer", adamJson(discriminatorOptimizer));
        m.put("non_finite", nonFinite.name().toLowerCase(java.util.Locale.ROOT));
        m.put("max_skips", (long) maxSkips);
        return Json.writePretty(m);
    }

    /**
     * Parses the JSON form. Unknown fields are errors (a misspelt knob must not be silently ignored).
     *
     * @param json the text
     * @return the config
     * @throws InvalidRequestException naming the field
     */
    public static DistillationConfig fromJson(String json) {
        try {
            JsonObject o = Json.parseObject(json);
            o.requireOnly(Set.of("seed", "batch_size", "iterations", "anchors", "backward_simulation", "ttur", "dmd", "isg",
                    "gan", "ida", "ema_decay", "fake_score_timesteps", "generator_optimizer", "fake_score_optimizer",
                    "discriminator_optimizer", "non_finite", "max_skips"));
            JsonObject d = o.getObject("dmd");
            JsonObject i = o.getObject("isg");
            JsonObject g = o.getObject("gan");
            JsonObject a = o.getObject("ida");
            JsonObject dist = i.getObject("distance");
            SegmentDistance distance = switch (dist.getString("kind")) {
                case "pseudo-huber" -> new SegmentDistance.PseudoHuber(dist.getDouble("c"));
                case "l2" -> new SegmentDistance.L2();
                default -> throw InvalidRequestException.of(dist.pathOf("kind"), "pseudo-huber or l2", dist.getString("kind"));
            };
            GanWeighting.Omega omega;
            try {
                omega = GanWeighting.Omega.valueOf(g.getString("omega").toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
            } catch (IllegalArgumentException e) {
                throw InvalidRequestException.of("gan.omega", Arrays.toString(GanWeighting.Omega.values()), g.getString("omega"));
            }
            NonFinitePolicy policy;
            try {
                policy = NonFinitePolicy.valueOf(o.getString("non_finite").toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw InvalidRequestException.of("non_finite", "stop or skip", o.getString("non_finite"));
            }
            return new DistillationConfig(o.getLong("seed"), o.getInt("batch_size"), o.getLong("iterations"),
                    o.getDoubleArray("anchors"), o.getDouble("backward_simulation"), o.getInt("ttur"),
                    new Dmd(d.getBoolean("enabled"), d.getDouble("weight"), TimestepSpec.fromJson(d.getObject("noise_levels")),
                            guidanceFromJson(d.getObject("guidance"))),
                    new Isg(i.getBoolean("enabled"), i.getDouble("weight"), GridSpec.fromJson(i.getObject("grid")),
                            i.getInt("margin"), guidanceFromJson(i.getObject("guidance")), distance),
                    ganFromJson(g, omega),
                    new Ida(a.getBoolean("enabled"), a.getDouble("lambda")),
                    o.getDouble("ema_decay"), TimestepSpec.fromJson(o.getObject("fake_score_timesteps")),
                    adamFromJson(o.getObject("generator_optimizer")), adamFromJson(o.getObject("fake_score_optimizer")),
                    adamFromJson(o.getObject("discriminator_optimizer")), policy, o.getInt("max_skips"));
        } catch (JsonException e) {
            throw new InvalidRequestException("distillation config: " + e.getMessage(), e);
        }
    }

    /** {@code discriminator} may be absent (configs written before it existed): then the constructor's default. */
    private static Gan ganFromJson(JsonObject g, GanWeighting.Omega omega) {
        GanWeighting w = new GanWeighting(omega, g.getDouble("weight"));
        boolean enabled = g.getBoolean("enabled");
        if (!g.has("discriminator")) {
            return new Gan(enabled, w);
        }
        return new Gan(enabled, w, DiscriminatorKind.fromId(g.getString("discriminator")));
    }

    private static Map<String, Object> guidanceJson(TeacherGuidance g) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (g instanceof TeacherGuidance.Cfg c) {
            m.put("mode", "cfg");
            m.put("lo", c.lo());
            m.put("hi", c.hi());
        } else if (g instanceof TeacherGuidance.Embedded e) {
            m.put("mode", "embedded");
            m.put("lo", e.lo());
            m.put("hi", e.hi());
        } else {
            m.put("mode", "none");
        }
        return m;
    }

    private static TeacherGuidance guidanceFromJson(JsonObject o) {
        String mode = o.getString("mode");
        return switch (mode) {
            case "cfg" -> new TeacherGuidance.Cfg(o.getDouble("lo"), o.getDouble("hi"));
            case "embedded" -> new TeacherGuidance.Embedded(o.getDouble("lo"), o.getDouble("hi"));
            case "none" -> new TeacherGuidance.None();
            default -> throw InvalidRequestException.of(o.pathOf("mode"), "cfg, embedded or none", "\"" + mode + "\"");
        };
    }

    private static Map<String, Object> adamJson(AdamWConfig c) {
        return c.toJson();
    }

    private static AdamWConfig adamFromJson(JsonObject o) {
        return AdamWConfig.fromJson(o);
    }

    private static void requireWeight(String field, double w) {
        if (!(w >= 0 && Double.isFinite(w))) {
            throw InvalidRequestException.of(field, "a finite weight >= 0", w);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DistillationConfig c && toJson().equals(c.toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return toJson();
    }
}
