package io.senseflow.tf.distributed;

import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * A 64-bit FNV-1a hash over the exact bits of every parameter of a training snapshot (module names, parameter names,
 * shapes and float bits, in name order). Two workers with equal fingerprints hold bit-identical parameters (up to
 * hash collisions); one flipped bit changes it.
 */
public final class ParameterFingerprint {
    private static final long OFFSET = 0xcbf29ce484222325L;
    private static final long PRIME = 0x100000001b3L;

    private ParameterFingerprint() {
    }

    /** @param snapshot a snapshot @return the hash of its parameters */
    public static long of(TrainingSnapshot snapshot) {
        long h = OFFSET;
        for (Map.Entry<String, Map<String, Tensor>> m : new TreeMap<>(snapshot.parameters()).entrySet()) {
            h = mix(h, m.getKey());
            for (Map.Entry<String, Tensor> p : new TreeMap<>(m.getValue()).entrySet()) {
                h = mix(h, p.getKey());
                for (int d : p.getValue().shape()) {
                    h = mix(h, d);
                }
                for (float f : p.getValue().toArray()) {
                    h = mix(h, Float.floatToRawIntBits(f));
                }
            }
        }
        return h;
    }

    private static long mix(long h, String s) {
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * PRIME;
        }
        return (h ^ 0xff) * PRIME;
    }

    private static long mix(long h, int v) {
        for (int i = 0; i < 4; i++) {
            h = (h ^ ((v >>> (8 * i)) & 0xff)) * PRIME;
        }
        return h;
    }

    /** @param fingerprint a hash @return it as four floats holding 16 bits each (exact), for a float gather */
    static float[] toFloats(long fingerprint) {
        float[] out = new float[4];
        for (int i = 0; i < 4; i++) {
            out[i] = (float) ((fingerprint >>> (16 * i)) & 0xffff);
        }
        return out;
    }

    /** @param v four floats from {@link #toFloats} @param at offset @return the hash */
    static long fromFloats(float[] v, int at) {
        long h = 0;
        for (int i = 0; i < 4; i++) {
            h |= ((long) v[at + i] & 0xffff) << (16 * i);
        }
        return h;
    }

    /**
     * Gathers every worker's fingerprint of {@code snapshot} and checks that they are all worker 0's.
     *
     * @param group the run's group
     * @param snapshot this worker's state
     * @param iteration the iteration, for the message
     * @return this worker's fingerprint
     * @throws WorkerFailureException with cause {@code DIVERGED}, naming the first worker that differs
     */
    public static long check(CollectiveGroup group, TrainingSnapshot snapshot, long iteration) {
        long mine = of(snapshot);
        float[] all = group.allGather("fingerprint", toFloats(mine));
        long leader = fromFloats(all, 0);
        for (int t = 1; t < group.size(); t++) {
            long other = fromFloats(all, 4 * t);
            if (other != leader) {
                throw new WorkerFailureException(t, WorkerFailureException.Cause.DIVERGED, false, "at iteration "
                        + iteration + " its parameters differ from worker 0's (fingerprint " + Long.toHexString(other)
                        + " vs " + Long.toHexString(leader) + "): the workers were not built identically");
            }
        }
        return mine;
    }
}
