package io.senseflow.tf.train;

import io.senseflow.InvalidRequestException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A training run's memory, estimated before anything is allocated (DESIGN.md, "Scale"; docs/memory.md): per module its
 * weights and, when it trains, its gradient accumulators and AdamW moments (16 bytes per parameter in float32), frozen
 * copies (4 bytes per parameter in float32, 2 in bfloat16), a fixed runtime overhead; on top of these the largest
 * transient phase of the run; and on the JVM heap the Java copies a checkpoint makes. {@link #requireFits} refuses a
 * run that cannot fit, with this table in the message.
 *
 * <p>Transient phases run one after the other, so only the largest counts: a forward + backward pass counted on its
 * gradient graph ({@link Builder#backwardPass}, {@link GraphActivations#backward}) holds the forward intermediates its
 * gradient ops read; one given only a forward count ({@link Builder#pass}) holds {@link #BACKWARD_KEPT_FRACTION} of it
 * plus the gradients of the largest trainable module; a forward-only pass is counted at its whole forward (an upper
 * bound); an AdamW step holds {@link #OPTIMIZER_STEP_BYTES_PER_PARAMETER} per parameter of the largest trainable module.
 * TensorFlow graphs are a persistent item per import ({@link Builder#graphs}). Checked with {@link PeakMemoryProbe} on
 * the CPU ({@code MemoryModelCheckTest}: flow-matching training of the in-house transformer at three sizes, 0.90-1.00 of
 * the measured peak, repeatable) and on the Optimum fixtures' distillation runs (1.00-1.04; docs/memory.md,
 * docs/distillation.md). Not modelled: glibc's default per-thread arenas (13-21 % more on the fixtures than with one
 * arena), Grappler's temporary copies, frozen TensorFlow weights inlined as graph constants (about 3 x their size
 * resident; frozen variables about 1 x), recomputation (for which {@link TransformerActivations#heldBytes} gives the
 * activations to pass to {@link Builder#keptActivations}).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param items the lines of the estimate
 */
public record MemoryEstimate(List<Item> items) {
    /** Bytes per parameter of a module that trains: weights, gradient accumulators, two AdamW moments. */
    public static final long TRAINABLE_BYTES_PER_PARAMETER = 16;
    /** Bytes per parameter of a frozen float32 copy. */
    public static final long FROZEN_BYTES_PER_PARAMETER = 4;
    /**
     * Bytes per trainable parameter that one optimizer step holds on top of the persistent 16 while it runs: this
     * engine's AdamW is unfused TensorFlow ops ({@code TfAdamW}), whose temporaries (decayed weights, scaled moments,
     * the update) are alive together. Measured on the CPU at three sizes of the in-house transformer (docs/memory.md).
     * A fused optimizer would hold about none.
     */
    public static final long OPTIMIZER_STEP_BYTES_PER_PARAMETER = 12;
    /** Bytes per trainable parameter of the gradients a backward pass holds before they reach the accumulators. */
    public static final long BACKWARD_GRADIENT_BYTES_PER_PARAMETER = 4;
    /**
     * The part of a graph's forward activations ({@link GraphActivations}, every intermediate) that a forward + backward
     * pass holds at its peak in TensorFlow: intermediates the gradient does not need are freed as the forward goes, and
     * the backward frees what it has used. Measured on the CPU (docs/memory.md).
     */
    public static final double BACKWARD_KEPT_FRACTION = 0.45;

    /**
     * Native bytes per TensorFlow graph operation (forward and gradient ops of one import), for the graph itself, its
     * shape-inference state and the executors the session builds for it. Measured on the CPU (docs/memory.md).
     */
    public static final long GRAPH_BYTES_PER_OP = 4096;
    /**
     * Native bytes per import on top of its operations: its session's executor and kernel state after the first runs.
     * Fitted with {@link #GRAPH_BYTES_PER_OP} to the measured peaks of the in-house transformer (docs/memory.md).
     */
    public static final long GRAPH_BYTES_PER_IMPORT = 8L << 20;

    /** How frozen weights (or activations) are stored. */
    public enum Precision {
        /** 4 bytes per value. */
        FLOAT32(4),
        /** 2 bytes per value (bfloat16). */
        BFLOAT16(2);

        private final int bytes;

        Precision(int bytes) {
            this.bytes = bytes;
        }

        /** @return bytes per value */
        public int bytes() {
            return bytes;
        }
    }

    /**
     * Native memory of the TensorFlow and ONNX Runtime libraries themselves and a run's small ONNX Runtime sessions:
     * 306-309 MiB on the three Optimum fixtures (docs/distillation.md), rounded up. Measured with one malloc arena
     * ({@link PeakMemoryProbe#ALLOCATOR_ENV}); with glibc's default arenas the same runs held 13-21 % more in all.
     */
    public static final long RUNTIME_OVERHEAD_BYTES = 320L << 20;

    public MemoryEstimate {
        items = List.copyOf(items);
    }

    /** Where an item's memory lives. */
    public enum Pool {
        /** Native memory of the process (CPU) or the GPU's memory. */
        DEVICE,
        /** The JVM heap. */
        HEAP
    }

    /**
     * @param what a description
     * @param bytes its size
     * @param pool where it lives
     */
    public record Item(String what, long bytes, Pool pool) {
    }

    /** @return a builder */
    public static Builder builder() {
        return new Builder();
    }

    /** @return bytes on the device (native memory on the CPU) */
    public long deviceBytes() {
        return sum(Pool.DEVICE);
    }

    /** @return bytes on the JVM heap */
    public long heapBytes() {
        return sum(Pool.HEAP);
    }

    private long sum(Pool p) {
        long s = 0;
        for (Item i : items) {
            if (i.pool() == p) {
                s = Math.addExact(s, i.bytes());
            }
        }
        return s;
    }

    /** @return the estimate as a table, one item per line with totals */
    public String table() {
        StringBuilder sb = new StringBuilder();
        for (Item i : items) {
            sb.append(String.format(Locale.ROOT, "  %-84s %11s  %s%n", i.what(), MemoryBudget.gib(i.bytes()),
                    i.pool().name().toLowerCase(Locale.ROOT)));
        }
        sb.append(String.format(Locale.ROOT, "  %-84s %11s%n", "total device (native or GPU)",
                MemoryBudget.gib(deviceBytes())));
        sb.append(String.format(Locale.ROOT, "  %-84s %11s%n", "total JVM heap", MemoryBudget.gib(heapBytes())));
        return sb.toString();
    }

    /**
     * @param budget what the run may use
     * @return whether both pools fit
     */
    public boolean fits(MemoryBudget budget) {
        return deviceBytes() <= budget.deviceBytes() && heapBytes() <= budget.heapBytes();
    }

    /**
     * @param budget what the run may use
     * @throws InvalidRequestException with the estimate and the budget if it does not fit
     */
    public void requireFits(MemoryBudget budget) {
        if (!fits(budget)) {
            throw new InvalidRequestException("the training run does not fit in memory: it needs about "
                    + MemoryBudget.gib(deviceBytes()) + " on the device and " + MemoryBudget.gib(heapBytes())
                    + " of JVM heap, the budget is " + MemoryBudget.gib(budget.deviceBytes()) + " and "
                    + MemoryBudget.gib(budget.heapBytes()) + " (" + budget.description() + ").\nEstimate:\n" + table()
                    + "Reduce the batch size, train fewer copies (no EMA, teacher in ONNX Runtime), raise -Xmx or the"
                    + " JavaCPP limit, or use a device with more memory.");
        }
    }

    @Override
    public String toString() {
        return "MemoryEstimate{device " + MemoryBudget.gib(deviceBytes()) + ", heap " + MemoryBudget.gib(heapBytes()) + "}";
    }

    /**
     * Builds an estimate item by item. Persistent items (weights, moments, frozen copies) add up; passes and optimizer
     * steps run one after the other, so of their transient memory only the largest phase counts: a forward-only pass
     * its forward activations, a forward + backward pass {@link #BACKWARD_KEPT_FRACTION} of them plus the gradients of
     * the largest trainable module ({@link #BACKWARD_GRADIENT_BYTES_PER_PARAMETER}), an optimizer step
     * {@link #OPTIMIZER_STEP_BYTES_PER_PARAMETER} per parameter of the largest trainable module.
     *
     * <p>A LoRA run: {@link #lora} holds the base once (frozen, in its storage precision) and one adapter set per
     * trainable copy, each a trainable module of the adapters' parameters (16 B each, AdamW in float32).
     */
    public static final class Builder {
        private final List<Item> items = new ArrayList<>();
        private long checkpointHeap;
        private long peakBackward;
        private String peakBackwardWhat;
        /** Whether the largest backward was counted on its gradient graph (its parameter gradients are not held). */
        private boolean peakBackwardCounted;
        private long peakForward;
        private String peakForwardWhat;
        private long largestTrainable;
        private boolean overhead = true;

        private Builder() {
        }

        /**
         * A module that trains: weights, gradients and AdamW moments on the device; its parameters and moments copied to
         * the heap when a checkpoint is written.
         *
         * @param name the module
         * @param parameters its trainable parameters
         * @param frozenParameters its parameters that do not train (a discriminator's backbone)
         * @return this
         */
        public Builder trainable(String name, long parameters, long frozenParameters) {
            return trainable(name, parameters, frozenParameters, Precision.FLOAT32);
        }

        /**
         * A module that trains, its frozen parameters stored in {@code frozenPrecision} (trainable ones stay float32
         * with float32 AdamW moments).
         *
         * @param name the module
         * @param parameters its trainable parameters
         * @param frozenParameters its parameters that do not train
         * @param frozenPrecision how those are stored
         * @return this
         */
        public Builder trainable(String name, long parameters, long frozenParameters, Precision frozenPrecision) {
            items.add(new Item(name + ": " + count(parameters) + " trainable parameters x 16 B (weights, gradients,"
                    + " AdamW m and v)", parameters * TRAINABLE_BYTES_PER_PARAMETER, Pool.DEVICE));
            if (frozenParameters > 0) {
                items.add(new Item(name + ": " + count(frozenParameters) + " frozen parameters x " + frozenPrecision.bytes()
                        + " B", frozenParameters * frozenPrecision.bytes(), Pool.DEVICE));
            }
            largestTrainable = Math.max(largestTrainable, parameters);
            checkpointHeap += parameters * 12;
            return this;
        }

        /**
         * A frozen copy on the device (a TensorFlow teacher, an EMA, a model in ONNX Runtime).
         *
         * @param name what it is
         * @param parameters its parameters
         * @param checkpointed whether checkpoints hold it (an EMA does, a teacher does not)
         * @return this
         */
        public Builder frozen(String name, long parameters, boolean checkpointed) {
            return frozen(name, parameters, checkpointed, Precision.FLOAT32);
        }

        /**
         * A frozen copy stored in {@code precision}.
         *
         * @param name what it is
         * @param parameters its parameters
         * @param checkpointed whether checkpoints hold it (written as float32)
         * @param precision how it is stored
         * @return this
         */
        public Builder frozen(String name, long parameters, boolean checkpointed, Precision precision) {
            items.add(new Item(name + ": " + count(parameters) + " parameters x " + precision.bytes() + " B",
                    parameters * precision.bytes(), Pool.DEVICE));
            if (checkpointed) {
                checkpointHeap += parameters * 4;
            }
            return this;
        }

        /**
         * A LoRA run's modules: one frozen base held once and one adapter set per trainable copy (e.g. the generator
         * and the fake score), each adapter set a trainable module of {@code adapterParameters} (float32 weights,
         * gradients and AdamW moments: 16 B each). An EMA of adapters is a {@link #frozen} item of the adapters' size.
         *
         * @param baseName what the base is
         * @param baseParameters the base's parameters
         * @param basePrecision how the base is stored
         * @param adapterParameters parameters of one adapter set (A and B of every adapted projection)
         * @param adapterSets names of the adapter sets, e.g. {@code "generator", "fake score"}
         * @return this
         */
        public Builder lora(String baseName, long baseParameters, Precision basePrecision, long adapterParameters,
                            String... adapterSets) {
            if (adapterSets.length == 0 || baseParameters < 0 || adapterParameters < 0) {
                throw InvalidRequestException.of("LoRA estimate", "at least one adapter set and sizes >= 0",
                        adapterSets.length + " sets, base " + baseParameters + ", adapters " + adapterParameters);
            }
            frozen(baseName + " (frozen base, held once)", baseParameters, false, basePrecision);
            for (String set : adapterSets) {
                trainable(set + " LoRA adapters", adapterParameters, 0);
            }
            return this;
        }

        /**
         * One pass of a module; only the largest transient phase of the run counts.
         *
         * @param name the pass
         * @param forwardActivations the module's forward activations at the pass's batch size ({@link GraphActivations})
         * @param withBackward whether the pass runs a backward ({@link #BACKWARD_KEPT_FRACTION} of the forward
         *     activations plus the gradients)
         * @return this
         */
        public Builder pass(String name, long forwardActivations, boolean withBackward) {
            long bytes = withBackward ? Math.round(BACKWARD_KEPT_FRACTION * forwardActivations) : forwardActivations;
            return held(name + (withBackward ? " (forward + backward)" : " (forward)"), bytes, withBackward);
        }

        /**
         * One forward + backward pass counted on its gradient graph ({@link GraphActivations#backward}): the forward
         * intermediates the gradient ops read (no more: a working set of the largest intermediate's size on top
         * over-estimated every measured peak). No parameter gradients are added: each is added to its accumulator as soon as it is computed, while the kept
         * intermediates are being freed (measured: adding 4 B per parameter over-estimated by 10-13 %).
         *
         * @param name the pass
         * @param counts the pass's counts at its batch size
         * @return this
         */
        public Builder backwardPass(String name, GraphActivations.Backward counts) {
            long bytes = counts.keptBytes();
            String what = name + " (forward + backward, on its gradient graph)";
            held(what, bytes, true);
            if (what.equals(peakBackwardWhat)) {
                peakBackwardCounted = true;
            }
            return this;
        }

        /**
         * One forward + backward pass whose held bytes were counted the way {@link #backwardPass} counts them (the
         * forward intermediates the gradient reads, e.g. {@link TransformerActivations#heldBytes}): no parameter
         * gradients are added.
         *
         * @param name the pass
         * @param keptBytes bytes held when the backward starts
         * @return this
         */
        public Builder keptActivations(String name, long keptBytes) {
            String what = name + " (forward + backward, kept by the gradient)";
            held(what, keptBytes, true);
            if (what.equals(peakBackwardWhat)) {
                peakBackwardCounted = true;
            }
            return this;
        }

        /**
         * The TensorFlow graphs of one or more imports: {@link #GRAPH_BYTES_PER_OP} per operation and
         * {@link #GRAPH_BYTES_PER_IMPORT} per import.
         *
         * @param name what is imported
         * @param operations operations of one import (forward and gradient, {@link GraphActivations.Backward#totalOps})
         * @param imports how many times it is imported (G, F, an EMA)
         * @return this
         */
        public Builder graphs(String name, long operations, int imports) {
            return graphs(name, operations, imports, 1);
        }

        /**
         * The TensorFlow graphs of one or more imports that the session runs in {@code runKinds} kinds of run (sets of
         * fed and fetched values: forward, each backward form, updates): TensorFlow builds an executor over the graph
         * for each, so the per-operation cost is {@code runKinds} x {@link #GRAPH_BYTES_PER_OP}.
         *
         * @param name what is imported
         * @param operations operations of one import (forward and gradient)
         * @param imports how many times it is imported
         * @param runKinds kinds of session run per import (at least 1)
         * @return this
         */
        public Builder graphs(String name, long operations, int imports, int runKinds) {
            if (operations < 0 || imports < 0 || runKinds < 1) {
                throw InvalidRequestException.of("graph estimate", "operations >= 0, imports >= 0, runKinds >= 1",
                        operations + ", " + imports + ", " + runKinds);
            }
            long perOp = runKinds * GRAPH_BYTES_PER_OP;
            items.add(new Item(name + ": " + imports + " x (" + String.format(Locale.ROOT, "%,d", operations)
                    + " TensorFlow graph operations x " + perOp + " B + 8 MiB)", imports * (operations * perOp
                    + GRAPH_BYTES_PER_IMPORT), Pool.DEVICE));
            return this;
        }

        /**
         * One pass whose held activations are already known (e.g. {@link TransformerActivations#heldBytes}, with or
         * without recomputation); the gradients of a backward are added as for {@link #pass}.
         *
         * @param name the pass
         * @param heldActivations bytes of activations the pass holds at its peak
         * @param withBackward whether the pass runs a backward
         * @return this
         */
        public Builder heldActivations(String name, long heldActivations, boolean withBackward) {
            return held(name + (withBackward ? " (forward + backward)" : " (forward)"), heldActivations, withBackward);
        }

        private Builder held(String what, long bytes, boolean withBackward) {
            if (withBackward && (peakBackwardWhat == null || bytes > peakBackward)) {
                peakBackward = bytes;
                peakBackwardWhat = what;
                peakBackwardCounted = false;
            } else if (!withBackward && (peakForwardWhat == null || bytes > peakForward)) {
                peakForward = bytes;
                peakForwardWhat = what;
            }
            return this;
        }

        /**
         * @param what another item (data, a cache)
         * @param bytes its size
         * @param pool where it lives
         * @return this
         */
        public Builder other(String what, long bytes, Pool pool) {
            items.add(new Item(what, bytes, pool));
            return this;
        }

        /** @param on whether to count {@link #RUNTIME_OVERHEAD_BYTES} (default on) @return this */
        public Builder runtimeOverhead(boolean on) {
            overhead = on;
            return this;
        }

        /** @return the estimate */
        public MemoryEstimate build() {
            List<Item> out = new ArrayList<>(items);
            long gradients = peakBackwardCounted ? 0 : BACKWARD_GRADIENT_BYTES_PER_PARAMETER * largestTrainable;
            long backward = peakBackwardWhat == null ? 0 : peakBackward + gradients;
            long passes = Math.max(backward, peakForward);
            long step = OPTIMIZER_STEP_BYTES_PER_PARAMETER * largestTrainable;
            if (passes > 0) {
                out.add(backward >= peakForward
                        ? new Item("peak activations: " + peakBackwardWhat + (gradients == 0 ? "" : ", with the gradients"
                                + " of " + count(largestTrainable) + " parameters x 4 B"), backward, Pool.DEVICE)
                        : new Item("peak activations: " + peakForwardWhat, peakForward, Pool.DEVICE));
            }
            if (step > passes) {
                // the optimizer step is the larger transient phase: count it, as the excess over the activations line
                out.add(new Item("peak transient: an AdamW step of " + count(largestTrainable) + " parameters x "
                        + OPTIMIZER_STEP_BYTES_PER_PARAMETER + " B (unfused update's temporaries)"
                        + (passes > 0 ? ", beyond the line above" : ""), step - passes, Pool.DEVICE));
            }
            if (overhead) {
                out.add(new Item("runtime libraries (TensorFlow, ONNX Runtime)", RUNTIME_OVERHEAD_BYTES, Pool.DEVICE));
            }
            if (checkpointHeap > 0) {
                // the snapshot's arrays plus the writer's buffers
                out.add(new Item("checkpoint: Java copies of parameters and moments (x2 while writing)",
                        2 * checkpointHeap, Pool.HEAP));
            }
            return new MemoryEstimate(out);
        }

        private static String count(long n) {
            return n >= 1_000_000_000 ? String.format(Locale.ROOT, "%.2f B", n / 1e9)
                    : n >= 1_000_000 ? String.format(Locale.ROOT, "%.2f M", n / 1e6)
                    : String.format(Locale.ROOT, "%,d", n);
        }
    }
}
