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
            if (uncond == null) {
                throw new InvalidRequestException("teacher guidance cfg needs an unconditional conditioning"
                        + " (give the distiller a prompt encoder or cached negative embeddings)");
            }
            int n = x.batch();
            float[] s2 = new float[2 * n];
            System.arraycopy(sigmas, 0, s2, 0, n);
            System.arraycopy(sigmas, 0, s2, n, n);
            Tensor both = teacher.velocity(Tensor.concatBatch(x, x), s2, Conditioning.concat(uncond, cond));
            float[] w = new float[n];
            float[] oneMinusW = new float[n];
            for (int b = 0; b < n; b++) {
                w[b] = (float) (lo == hi ? lo : rng.nextUniform(lo, hi));
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
            return teacher.velocity(x, sigmas, cond.withExtra("guidance", Tensor.of(g, n)));
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
