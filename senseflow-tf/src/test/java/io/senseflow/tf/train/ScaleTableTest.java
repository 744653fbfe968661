package io.senseflow.tf.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.tf.train.MemoryEstimate.Precision;
import org.junit.jupiter.api.Test;

/** The extrapolated table of docs/memory.md: its rows are consistent with each other and with the arithmetic. */
class ScaleTableTest {
    @Test
    void theTablePrintsEveryConfigurationAndItsRowsOrderAsTheyShould() {
        String md = ScaleTable.markdown();
        System.out.print(md);
        assertThat(md.lines().count()).isEqualTo(2 + 3 * 2 * 2 * 2);
        for (ScaleTable.Model m : ScaleTable.models()) {
            for (Precision p : Precision.values()) {
                for (boolean rc : new boolean[] {false, true}) {
                    long full = ScaleTable.estimate(m, false, p, rc).deviceBytes();
                    long lora = ScaleTable.estimate(m, true, p, rc).deviceBytes();
                    assertThat(lora).isLessThan(full);
                    // full training: at least two trainable copies at 16 B, their AdamW step, an EMA, the teacher
                    assertThat(full).isGreaterThanOrEqualTo((32 + 12 + 4 + p.bytes()) * m.parameters());
                    // LoRA: the base once, then adapters
                    assertThat(lora).isGreaterThan(p.bytes() * m.parameters())
                            .isLessThan(p.bytes() * m.parameters() + 2 * 16 * m.adapterParameters(ScaleTable.LORA_RANK)
                                    + 12 * m.adapterParameters(ScaleTable.LORA_RANK)
                                    + m.activations(p).heldBytes(1, rc) + 2 * m.activations(p).forwardHeldBytes(2)
                                    + 4 * m.adapterParameters(ScaleTable.LORA_RANK) + MemoryEstimate.RUNTIME_OVERHEAD_BYTES
                                    + m.adapterParameters(ScaleTable.LORA_RANK) * 4);
                }
                assertThat(ScaleTable.estimate(m, true, p, true).deviceBytes())
                        .isLessThan(ScaleTable.estimate(m, true, p, false).deviceBytes());
            }
        }
        ScaleTable.Model medium = ScaleTable.models().get(0);
        ScaleTable.Model flux = ScaleTable.models().get(2);
        // 12 B parameters at >= 48 B each: no full FLUX run on one 80 GB device
        assertThat(ScaleTable.fits(ScaleTable.estimate(flux, false, Precision.BFLOAT16, true), 80)).isFalse();
        // the point of issue 17: SD3.5 Medium with LoRA, a bf16 base and recomputation fits one 24 GB device
        assertThat(ScaleTable.fits(ScaleTable.estimate(medium, true, Precision.BFLOAT16, true), 24)).isTrue();
        // rank-32 adapters of SD3.5 Medium: 24 blocks x 2 streams x 18 w r
        assertThat(medium.adapterParameters(32)).isEqualTo(24L * 2 * 18 * 1536 * 32);
    }
}
