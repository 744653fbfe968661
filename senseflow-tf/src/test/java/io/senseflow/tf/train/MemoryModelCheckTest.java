package io.senseflow.tf.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The memory model against measured peaks: flow-matching training of the in-house transformer at three sizes (one
 * where the AdamW step is the peak, two where the backward is), each in a fresh JVM ({@link PeakMemoryProbe}), peak
 * resident memory minus the baseline within 15 % of {@link PeakMemoryProbe#estimate}. About 3 minutes on 2 shared
 * cores, so tagged {@code experiment}; the measured table is in docs/memory.md. Known: it passed on its first run and
 * failed on a rerun at the third size (0.83: that size peaked at 588, 725 and 806 MiB in three runs). Run with
 *
 * <pre>
 * mvn -pl senseflow-tf -am test -Dtest='MemoryModelCheckTest' -Dexcluded.groups= -Dgroups=experiment \
 *     -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 */
@Tag("experiment")
class MemoryModelCheckTest {
    static final List<PeakMemoryProbe.Size> SIZES = List.of(new PeakMemoryProbe.Size(384, 4, 6, 16, 1),
            new PeakMemoryProbe.Size(384, 4, 6, 16, 32), new PeakMemoryProbe.Size(512, 2, 8, 24, 16));

    @Test
    void estimateWithin15PercentOfTheMeasuredPeakAtThreeSizes() throws Exception {
        for (PeakMemoryProbe.Size s : SIZES) {
            long t0 = System.nanoTime();
            PeakMemoryProbe.Measurement m = PeakMemoryProbe.measureInChild(s, 3);
            MemoryEstimate e = PeakMemoryProbe.estimate(s);
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
