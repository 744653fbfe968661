package io.senseflow.tf.distributed;

import io.senseflow.tensor.Tensor;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientReducer;
import io.senseflow.train.ParameterSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@link GradientReducer} of a data-parallel run on a {@link CollectiveGroup}: it reads a module's accumulated
 * gradients in buckets of consecutive parameters of about {@link CollectiveGroup#CHUNK} values (one read per
 * bucket), concatenates each bucket into one float vector, all-reduces its mean across the workers
 * ({@code CollectiveReduceV2}) and writes the mean back into the optimizer ({@link io.senseflow.train.Optimizer#replaceGradients}). Bytes per call: 4 times the
 * module's trainable parameter count.
 *
 * <p>Called from the training thread only.
 */
public final class CollectiveGradientReducer implements GradientReducer {
    private final CollectiveGroup group;
    private final Map<String, Long> nanosPerModule = new LinkedHashMap<>();
    private final Map<String, Long> bytesPerModule = new LinkedHashMap<>();

    /** @param group the group (not closed by this reducer) */
    public CollectiveGradientReducer(CollectiveGroup group) {
        this.group = group;
    }

    @Override
    public void allReduceMean(String module, DifferentiableModule trainable, long iteration) {
        long t0 = System.nanoTime();
        long total = 0;
        int bucket = 0;
        List<ParameterSpec> pending = new ArrayList<>();
        long pendingSize = 0;
        for (ParameterSpec p : trainable.parameters().specs()) {
            pending.add(p);
            pendingSize += p.size();
            total += p.size();
            if (pendingSize >= CollectiveGroup.CHUNK) {
                reduceBucket(module, bucket++, pending, pendingSize, trainable, iteration);
                pending.clear();
                pendingSize = 0;
            }
        }
        if (!pending.isEmpty()) {
            reduceBucket(module, bucket, pending, pendingSize, trainable, iteration);
        }
        nanosPerModule.merge(module, System.nanoTime() - t0, Long::sum);
        bytesPerModule.merge(module, 4L * total, Long::sum);
    }

    /** Parameters are reduced in buckets of about {@link CollectiveGroup#CHUNK} values: bounded Java memory per call. */
    private void reduceBucket(String module, int bucket, List<ParameterSpec> specs, long size,
            DifferentiableModule trainable, long iteration) {
        List<String> names = new ArrayList<>(specs.size());
        for (ParameterSpec p : specs) {
            names.add(p.name());
        }
        float[] flat = new float[Math.toIntExact(size)];
        Map<String, Tensor> grads = trainable.optimizer().gradients(names);
        int at = 0;
        for (String n : names) {
            float[] g = grads.get(n).toArray();
            System.arraycopy(g, 0, flat, at, g.length);
            at += g.length;
        }
        float[] mean;
        try {
            mean = group.allReduceMean(module + "/" + bucket, flat);
        } catch (CollectiveException e) {
            throw new CollectiveException(e.task(), e.getMessage() + " (iteration " + iteration + ", module " + module
                    + ")", e.timedOut(), e.getCause());
        }
        Map<String, Tensor> back = new LinkedHashMap<>();
        at = 0;
        for (ParameterSpec p : specs) {
            int n = Math.toIntExact(p.size());
            float[] part = new float[n];
            System.arraycopy(mean, at, part, 0, n);
            at += n;
            back.put(p.name(), Tensor.wrap(part, p.shape()));
        }
        trainable.optimizer().replaceGradients(back);
    }

    /** @return wall time per module spent here (read, all-reduce, write back), nanoseconds, summed over calls */
    public Map<String, Long> nanosPerModule() {
        return Map.copyOf(nanosPerModule);
    }

    /** @return bytes all-reduced per module, summed over calls */
    public Map<String, Long> bytesPerModule() {
        return Map.copyOf(bytesPerModule);
    }
}
