package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.noise.RandomStream;
import io.senseflow.tensor.Tensor;

/**
 * How the frozen teacher's score is guided when it serves as the "real" score (docs/algorithm.md §4.2) or takes the
 * ISG step (§4.3). The scale is drawn per sample from {@code [lo, hi]} (a fixed scale has {@code lo == hi}).
 *
 * <p>Its implementations are immutable records: safe to share between threads.
 */
public sealed interface TeacherGuidance permits TeacherGuidance.Cfg, TeacherGuidance.Embedded, TeacherGuidance.None {

    /**
     * The teacher's guided velocity.
     *
     * @param teacher the teacher
     * @param x states
     * @param sigmas level per sample
     * @param cond conditioning
     * @param uncond unconditional (negative) conditioning, same batch; needed by {@link Cfg}
     * @param rng draws the scales
     * @return the velocity
     */
    Tensor velocity(Generator teacher, Tensor x, float[] sigmas, Conditioning cond, Conditioning uncond, RandomStream rng);

    /**
     * The teacher's guided velocity with given scales per sample (per-prompt guidance): sample {@code b} uses
     * {@code scales[b]}, or a scale drawn from the range when that entry is NaN. With {@code scales == null} this is
     * {@link #velocity(Generator, Tensor, float[], Conditioning, Conditioning, RandomStream)}.
     *
     * @param teacher the teacher
     * @param x states
     * @param sigmas level per sample
     * @param cond conditioning
     * @param uncond unconditional (negative) conditioning, same batch; needed by {@link Cfg}
     * @param rng draws the scales of NaN entries
     * @param scales scale per sample, or null
     * @return the velocity
     * @throws InvalidRequestException if scales are given to the unguided mode or their count is not the batch
     */
    default Tensor velocity(Generator teacher, Tensor x, float[] sigmas, Conditioning cond, Conditioning uncond,
                            RandomStream rng, float[] scales) {
        if (scales == null) {
            return velocity(teacher, x, sigmas, cond, uncond, rng);
        }
        if (scales.length != x.batch()) {
            throw InvalidRequestException.of("guidance scales", x.batch() + " (the batch)", scales.length);
        }
        return scaled(teacher, x, sigmas, cond, uncond, rng, scales);
    }

    /** The per-sample form; {@code scales} is not null and has one entry per sample. */
    private Tensor scaled(Generator teacher, Tensor x, float[] sigmas, Conditioning cond, Conditioning uncond,
                          RandomStream rng, float[] scales) {
        if (this instanceof Cfg c) {
            return c.withScales(teacher, x, sigmas, cond, uncond, draw(c.lo(), c.hi(), scales, rng));
        }
        if (this instanceof Embedded e) {
            return Embedded.withScales(teacher, x, sigmas, cond, draw(e.lo(), e.hi(), scales, rng));
        }
        throw InvalidRequestException.of("guidance scales", "none (the teacher guidance is 'none')",
                scales.length + " per-sample scales");
    }

    /** Each sample's scale: the given one, or drawn from {@code [lo, hi]} where it is NaN (in sample order). */
    private static float[] draw(double lo, double hi, float[] scales, RandomStream rng) {
        float[] w = new float[scales.length];
        for (int b = 0; b < w.length; b++) {
            w[b] = !Float.isNaN(scales[b]) ? scales[b] : (float) (lo == hi ? lo : rng.nextUniform(lo, hi));
        }
        return w;
    }

    /** @return teacher forward passes per sample */
    int passes();

    /**
     * Classifier-free guidance {@code v_u + w (v_c - v_u)}, {@code w ~ U(lo, hi)}, in one batched call
     * {@code [uncond; cond]}. SD3.5: U(3, 10) for DMD, 5.0 for ISG; SDXL: 8.
     *
     * @param lo lowest scale
     * @param hi highest scale
     */
    record Cfg(double lo, double hi) implements TeacherGuidance {
        public Cfg {
            checkRange("cfg", lo, hi);
        }

        @Override
        public Tensor velocity(Generator teacher, Tensor x, float[] sigmas, Conditioning cond, Conditioning uncond,
                RandomStream rng) {
            int n = x.batch();
            float[] w = new float[n];
            for (int b = 0; b < n; b++) {
                w[b] = (float) (lo == hi ? lo : rng.nextUniform(lo, hi));
            }
            return withScales(teacher, x, sigmas, cond, uncond, w);
        }

        /** {@code v_u + w_b (v_c - v_u)} with the given scale per sample. */
        Tensor withScales(Generator teacher, Tensor x, float[] sigmas, Conditioning cond, Conditioning uncond,
                          float[] w) {
            if (uncond == null) {
                throw new InvalidRequestException("teacher guidance cfg needs an unconditional conditioning"
                        + " (give the distiller a prompt encoder or cached negative embeddings)");
            }
            int n = x.batch();
            float[] s2 = new float[2 * n];
            System.arraycopy(sigmas, 0, s2, 0, n);
            System.arraycopy(sigmas, 0, s2, n, n);
            Tensor both = teacher.velocity(Tensor.concatBatch(x, x), s2, Conditioning.concat(uncond, cond));
            float[] oneMinusW = new float[n];
            for (int b = 0; b < n; b++) {
                oneMinusW[b] = 1 - w[b];
            }
            return Tensor.combine(oneMinusW, both.sliceBatch(0, n), w, both.sliceBatch(n, 2 * n));
        }

        @Override
        public int passes() {
            return 2;
        }
    }

    /**
     * One call with the scale as the model's {@code guidance} input (FLUX.1-dev: U(1, 8)).
     *
     * @param lo lowest scale
     * @param hi highest scale
     */
    record Embedded(double lo, double hi) implements TeacherGuidance {
        public Embedded {
            checkRange("embedded guidance", lo, hi);
        }

        @Override
        public Tensor velocity(Generator teacher, Tensor x, float[] sigmas, Conditioning cond, Conditioning uncond,
                RandomStream rng) {
            int n = x.batch();
            float[] g = new float[n];
            for (int b = 0; b < n; b++) {
                g[b] = (float) (lo == hi ? lo : rng.nextUniform(lo, hi));
            }
            return withScales(teacher, x, sigmas, cond, g);
        }

        /** One call with the given scale per sample as the model's {@code guidance} input. */
        static Tensor withScales(Generator teacher, Tensor x, float[] sigmas, Conditioning cond, float[] g) {
            return teacher.velocity(x, sigmas, cond.withExtra("guidance", Tensor.of(g.clone(), g.length)));
        }

        @Override
        public int passes() {
            return 1;
        }
    }

    /** One unguided call. */
    record None() implements TeacherGuidance {
        @Override
        public Tensor velocity(Generator teacher, Tensor x, float[] sigmas, Conditioning cond, Conditioning uncond,
                RandomStream rng) {
            return teacher.velocity(x, sigmas, cond);
        }

        @Override
        public int passes() {
            return 1;
        }
    }

    private static void checkRange(String what, double lo, double hi) {
        if (!(lo >= 0 && hi >= lo && Double.isFinite(hi))) {
            throw InvalidRequestException.of(what + " scale range", "0 <= lo <= hi (finite)", "[" + lo + ", " + hi + "]");
        }
    }
}
