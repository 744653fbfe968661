package io.senseflow.tf.train;

import io.senseflow.tf.train.MemoryEstimate.Precision;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The memory of a SenseFlow distillation run for published large models at 1024 x 1024, extrapolated with
 * {@link MemoryEstimate} and {@link TransformerActivations} (docs/memory.md prints its output). Run its {@code main}
 * to print the table in Markdown.
 *
 * <p>Per row: batch 1; full = generator and fake score trainable (16 B per parameter plus the optimizer step's
 * transient), an EMA of the generator (float32) and the teacher (frozen) in the same device memory; LoRA = one frozen
 * base held once (the teacher is the base without adapters), two adapter sets (generator, fake score) of rank
 * {@link #LORA_RANK} on every attention and MLP projection, an EMA of the generator's adapters. {@code bf16}: frozen
 * weights (teacher or base) and activations in bfloat16, trainable weights and AdamW moments in float32. The largest
 * pass is the generator's or fake score's forward + backward at batch 1 through the whole model, with or without
 * recomputation; the teacher's forward (a guided pair, batch 2) holds two blocks' activations. The discriminator's heads
 * and the text encoders (run once, before training) are left out.
 */
public final class ScaleTable {
    /** LoRA rank of the table's adapter rows. */
    public static final int LORA_RANK = 32;
    /** Device sizes of the table, GiB. */
    public static final int[] DEVICES_GIB = {24, 48, 80};
    /** A run fits a device when its estimate is at most this part of the device (allocator headroom). */
    public static final double USABLE_FRACTION = 0.9;

    private ScaleTable() {
    }

    /**
     * A published model's sizes.
     *
     * @param name the model
     * @param parameters its published parameter count
     * @param width hidden width
     * @param doubleBlocks blocks with separate image and text weights (MMDiT / FLUX double-stream)
     * @param singleBlocks single-stream blocks (FLUX)
     * @param heads attention heads
     * @param textTokens text tokens joined to the 4,096 image tokens at 1024 px
     */
    public record Model(String name, long parameters, int width, int doubleBlocks, int singleBlocks, int heads,
                        int textTokens) {
        /**
         * LoRA parameters of one adapter set of rank {@code r}: per double block two streams of q, k, v, out
         * ({@code 4 x 2w r}) and a ratio-4 MLP ({@code (w + 4w) r + (4w + w) r}); per single block the fused q, k, v
         * and MLP input ({@code w r + 7w r}) and the output ({@code 5w r + w r}).
         *
         * @param r the rank
         * @return adapter parameters
         */
        public long adapterParameters(int r) {
            long w = width;
            return doubleBlocks * 2 * (8 * w + 10 * w) * r + singleBlocks * (8 * w + 6 * w) * r;
        }

        /** @param p activation precision @return its activations per sample at 1024 x 1024 */
        public TransformerActivations activations(Precision p) {
            return new TransformerActivations(width, doubleBlocks + singleBlocks, heads,
                    TransformerActivations.tokens(128, 2, textTokens), p);
        }
    }

    /** @return SD3.5 Medium, SD3.5 Large and FLUX.1-dev (published parameter counts and sizes) */
    public static List<Model> models() {
        return List.of(new Model("SD3.5 Medium", 2_500_000_000L, 1536, 24, 0, 24, 77 + 256),
                new Model("SD3.5 Large", 8_100_000_000L, 2432, 38, 0, 38, 77 + 256),
                new Model("FLUX.1-dev", 12_000_000_000L, 3072, 19, 38, 24, 512));
    }

    /**
     * The estimate of one configuration.
     *
     * @param m the model
     * @param lora LoRA (else full)
     * @param precision frozen weights and activations
     * @param recompute activation recomputation in the backward
     * @return the estimate
     */
    public static MemoryEstimate estimate(Model m, boolean lora, Precision precision, boolean recompute) {
        MemoryEstimate.Builder b = MemoryEstimate.builder();
        if (lora) {
            long a = m.adapterParameters(LORA_RANK);
            b.lora(m.name(), m.parameters(), precision, a, "generator", "fake score");
            b.frozen("EMA of the generator's adapters", a, true);
        } else {
            b.trainable("generator", m.parameters(), 0).trainable("fake score", m.parameters(), 0);
            b.frozen("EMA of the generator", m.parameters(), true);
            b.frozen("teacher", m.parameters(), false, precision);
        }
        TransformerActivations act = m.activations(precision);
        b.keptActivations("generator / fake score at batch 1" + (recompute ? ", recomputed" : ""),
                act.heldBytes(1, recompute));
        b.heldActivations("teacher, guided pair (batch 2)", act.forwardHeldBytes(2), false);
        return b.build();
    }

    /** @return the table in Markdown */
    public static String markdown() {
        StringBuilder sb = new StringBuilder();
        sb.append("| model | run | precision | recompute | weights + state | peak transient | total |");
        for (int d : DEVICES_GIB) {
            sb.append(' ').append(d).append(" GB |");
        }
        sb.append('\n').append("|---|---|---|---|---:|---:|---:|");
        for (int d : DEVICES_GIB) {
            sb.append(":-:|");
        }
        sb.append('\n');
        for (Model m : models()) {
            for (boolean lora : new boolean[] {false, true}) {
                for (Precision p : new Precision[] {Precision.FLOAT32, Precision.BFLOAT16}) {
                    for (boolean rc : new boolean[] {false, true}) {
                        MemoryEstimate e = estimate(m, lora, p, rc);
                        long transient_ = transientBytes(e);
                        long total = e.deviceBytes();
                        sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.1f GiB | %.1f GiB | %.1f GiB |",
                                m.name(), lora ? "LoRA r" + LORA_RANK : "full", p == Precision.FLOAT32 ? "fp32" : "bf16",
                                rc ? "yes" : "no", (total - transient_) / GIB, transient_ / GIB, total / GIB));
                        for (int d : DEVICES_GIB) {
                            sb.append(fits(e, d) ? " yes |" : " no |");
                        }
                        sb.append('\n');
                    }
                }
            }
        }
        return sb.toString();
    }

    /**
     * @param e an estimate
     * @param deviceGib a device's memory
     * @return whether the estimate is within {@link #USABLE_FRACTION} of it
     */
    public static boolean fits(MemoryEstimate e, int deviceGib) {
        return e.deviceBytes() <= USABLE_FRACTION * deviceGib * GIB;
    }

    private static long transientBytes(MemoryEstimate e) {
        List<MemoryEstimate.Item> t = new ArrayList<>();
        for (MemoryEstimate.Item i : e.items()) {
            if (i.what().startsWith("peak transient") || i.what().startsWith("peak activations")) {
                t.add(i);
            }
        }
        return t.stream().mapToLong(MemoryEstimate.Item::bytes).sum();
    }

    private static final double GIB = 1L << 30;

    /**
     * Prints the table.
     *
     * @param args none
     */
    public static void main(String[] args) {
        System.out.print(markdown());
    }
}
