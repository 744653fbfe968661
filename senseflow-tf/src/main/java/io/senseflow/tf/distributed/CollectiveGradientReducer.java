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
 * The {@link GradientReducer} of a data-parallel run on a {@link CollectiveGroup}: it reads all of a module's
 * accumulated gradients (one read), concatenates them in parameter order into one float vector, all-reduces the mean
 * across the workers ({@code CollectiveReduceV2}, chunked above {@link CollectiveGroup#CHUNK} values) and writes the
 * mean back into the optimizer ({@link io.senseflow.train.Optimizer#replaceGradients}). Bytes per call: 4 times the
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
        List<ParameterSpec> specs = trainable.parameters().specs();
        List<String> names = new ArrayList<>(specs.size());
        long total = 0;
        for (ParameterSpec p : specs) {
            names.add(p.name());
            total += p.size();
        }
        float[] flat = new float[Math.toIntExact(total)];
        Map<String, Tensor> grads = trainable.optimizer().gradients(names);
        int at = 0;
        for (String n : names) {
            float[] g = grads.get(n).toArray();
            System.arraycopy(g, 0, flat, at, g.length);
            at += g.length;
        }
        float[] mean;
        try {
            mean = group.allReduceMean(module, flat);
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
        nanosPerModule.merge(module, System.nanoTime() - t0, Long::sum);
        bytesPerModule.merge(module, 4L * total, Long::sum);
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
