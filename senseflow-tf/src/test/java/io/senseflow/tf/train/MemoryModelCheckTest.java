package io.senseflow.tf.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * The memory model against measured peaks: flow-matching training of the in-house transformer at three sizes (one
 * where the AdamW step is the peak, two where the backward is), each in a fresh JVM ({@link PeakMemoryProbe}: one malloc
 * arena, fixed mmap threshold, one TensorFlow thread), peak resident memory minus the baseline within 15 % of
 * {@link PeakMemoryProbe#estimate} (measured ratios 0.90-0.98, repeatable within 1 %; docs/memory.md). About 20 s of
 * child JVMs, so in the default suite. Other sizes: {@code -Dmemcheck.sizes=384,4,6,16,32;512,2,8,24,16} (width, depth,
 * heads, latent side, batch; {@code ;} between sizes).
 */
class MemoryModelCheckTest {
    static final List<PeakMemoryProbe.Size> SIZES = sizes();

    static List<PeakMemoryProbe.Size> sizes() {
        String s = System.getProperty("memcheck.sizes");
        if (s == null) {
            return List.of(new PeakMemoryProbe.Size(256, 2, 4, 16, 1), new PeakMemoryProbe.Size(256, 2, 4, 16, 24),
                    new PeakMemoryProbe.Size(192, 3, 3, 20, 8));
        }
        List<PeakMemoryProbe.Size> out = new java.util.ArrayList<>();
        for (String one : s.split(";")) {
            String[] f = one.split(",");
            out.add(new PeakMemoryProbe.Size(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2]),
                    Integer.parseInt(f[3]), Integer.parseInt(f[4])));
        }
        return out;
    }

    @Test
    void estimateWithin15PercentOfTheMeasuredPeakAtThreeSizes() throws Exception {
        for (PeakMemoryProbe.Size s : SIZES) {
            long t0 = System.nanoTime();
            PeakMemoryProbe.Measurement m = PeakMemoryProbe.measureInChild(s, 2);
            MemoryEstimate e = PeakMemoryProbe.estimate(s);
            GraphActivations.Backward b = PeakMemoryProbe.backwardCounts(
                    io.senseflow.onnx.arch.FlowTransformer.build(s.config(), 1), s);
            System.out.printf(Locale.ROOT, "  counts: forward %.1f MiB, kept %.1f MiB, largest %.1f MiB, ops %,d / %,d;"
                    + " built %.1f MiB%n", b.forwardBytes() / 1048576.0, b.keptBytes() / 1048576.0,
                    b.largestTensorBytes() / 1048576.0, b.forwardOps(), b.totalOps(), m.builtBytes() / 1048576.0);
            double ratio = e.deviceBytes() / (double) m.measuredBytes();
            System.out.printf(Locale.ROOT, "%s: %,d params, acts %.1f MiB, baseline %.1f MiB, measured %.1f MiB,"
                    + " estimate %.1f MiB, ratio %.3f (%.1f s)%n", s.label(), m.parameters(), m.forwardActivations() / 1048576.0,
                    m.baselineBytes() / 1048576.0, m.measuredBytes() / 1048576.0, e.deviceBytes() / 1048576.0, ratio,
                    (System.nanoTime() - t0) / 1e9);
            System.out.print(e.table());
            assertThat(ratio).as("estimate / measured at %s", s.label()).isBetween(0.85, 1.15);
        }
    }
}
