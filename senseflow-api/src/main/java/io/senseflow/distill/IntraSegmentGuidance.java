package io.senseflow.distill;

import io.senseflow.noise.RandomStream;
import io.senseflow.schedule.IntraSegmentTimesteps;
import io.senseflow.tensor.Tensor;

/**
 * Intra-segment guidance (ISG, docs/algorithm.md §4.3): inside the generator's anchor segment {@code (s_i, s_{i+1})},
 * the teacher takes a step to a random point {@code s_mid}, the generator (current weights, no gradient)
 * finishes the segment from there, and the generator's own one-step jump across the segment is pulled towards
 * that composite target. It teaches the generator the teacher's trajectory inside each segment.
 *
 * <ol>
 *   <li>{@code x_mid = x_i + (s_mid - s_i) T_w(x_i, s_i)}</li>
 *   <li>{@code x_tar = x_mid + (s_{i+1} - s_mid) G(x_mid, s_mid)}</li>
 *   <li>{@code x_hat = x_i + (s_{i+1} - s_i) v_G}, loss {@code distance(x_hat, x_tar)}</li>
 * </ol>
 * The last segment ends at the grid's lowest level.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param segments the hand-over point sampler (its anchors must be the distiller's)
 * @param guidance the teacher's guidance for its step (SD3.5 Large: cfg 5.0; FLUX: embedded U(1, 8))
 * @param distance the distance (pseudo-Huber by default)
 */
public record IntraSegmentGuidance(IntraSegmentTimesteps segments, TeacherGuidance guidance, SegmentDistance distance)
        implements DistillationObjective {

    @Override
    public String name() {
        return "isg";
    }

    @Override
    public ObjectiveTerm evaluate(GeneratorContext ctx) {
        int batch = ctx.batch();
        int[] idx = ctx.anchorIndices();
        float[] s = ctx.sigmas();
        float[] mid = new float[batch];
        float[] next = new float[batch];
        RandomStream rng = ctx.random("isg.mid");
        // drawn for the whole global batch in sample order; this worker keeps its slice
        int[] all = ctx.globalAnchorIndices();
        int from = ctx.shard().from(all.length);
        for (int g = 0; g < all.length; g++) {
            double m = segments.sample(all[g], rng);
            int b = g - from;
            if (b >= 0 && b < batch) {
                mid[b] = (float) m;
                next[b] = (float) segments.segmentEnd(idx[b]);
            }
        }
        Tensor x = ctx.input();
        Tensor vTeacher = ctx.teacherVelocity(guidance, x, s, ctx.random("isg.guidance"));
        Tensor xMid = FlowIdentities.step(x, s, mid, vTeacher);
        Tensor vMid = ctx.generatorVelocity(xMid, mid);
        Tensor xTarget = FlowIdentities.step(xMid, mid, next, vMid);
        Tensor xHat = FlowIdentities.step(x, s, next, ctx.velocity());
        SegmentDistance.Evaluated d = distance.evaluate(xHat, xTarget);
        return new ObjectiveTerm(name(), d.loss(), ctx.gradientFromStep(d.gradient(), next), 0, java.util.Map.of());
    }
}
