package io.senseflow.tf.train;

import io.senseflow.InvalidRequestException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A training run's memory, estimated before anything is allocated (DESIGN.md, "Scale"): per module its weights and,
 * when it trains, its gradient accumulators and AdamW moments (16 bytes per parameter in float32), frozen copies
 * (4 bytes per parameter), the peak activations of the largest pass, a fixed runtime overhead; and on the JVM heap the
 * Java copies a checkpoint makes. {@link #requireFits} refuses a run that cannot fit, with this table in the message.
 *
 * <p>Activations are the statically known intermediate tensor sizes of a graph at the run's batch size
 * ({@link GraphActivations}); a pass with backward keeps about all of them plus gradients of a similar size, so a
 * trainable module's pass counts twice its forward activations. Passes run one after the other, so only the largest
 * counts. Not modelled: TensorFlow's allocator fragmentation and Grappler's temporary copies (keep 10-20 % headroom).
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
    /** Native memory of the TensorFlow and ONNX Runtime libraries themselves (measured, rounded up). */
    public static final long RUNTIME_OVERHEAD_BYTES = 512L << 20;

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

    /** Builds an estimate item by item. */
    public static final class Builder {
        private final List<Item> items = new ArrayList<>();
        private long checkpointHeap;
        private long peakActivations;
        private String peakWhat;
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
            items.add(new Item(name + ": " + count(parameters) + " trainable parameters x 16 B (weights, gradients,"
                    + " AdamW m and v)", parameters * TRAINABLE_BYTES_PER_PARAMETER, Pool.DEVICE));
            if (frozenParameters > 0) {
                items.add(new Item(name + ": " + count(frozenParameters) + " frozen parameters x 4 B",
                        frozenParameters * FROZEN_BYTES_PER_PARAMETER, Pool.DEVICE));
            }
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
            items.add(new Item(name + ": " + count(parameters) + " parameters x 4 B", parameters * FROZEN_BYTES_PER_PARAMETER,
                    Pool.DEVICE));
            if (checkpointed) {
                checkpointHeap += parameters * 4;
            }
            return this;
        }

        /**
         * One pass of a module; only the largest pass of the run counts.
         *
         * @param name the pass
         * @param forwardActivations the module's forward activations at the pass's batch size
         * @param withBackward whether the pass runs a backward (about twice the forward activations)
         * @return this
         */
        public Builder pass(String name, long forwardActivations, boolean withBackward) {
            long bytes = withBackward ? 2 * forwardActivations : forwardActivations;
            if (bytes > peakActivations) {
                peakActivations = bytes;
                peakWhat = name + (withBackward ? " (forward + backward)" : " (forward)");
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
            if (peakActivations > 0) {
                out.add(new Item("peak activations: " + peakWhat, peakActivations, Pool.DEVICE));
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
            return n >= 1_000_000 ? String.format(Locale.ROOT, "%.2f M", n / 1e6)
                    : String.format(Locale.ROOT, "%,d", n);
        }
    }
}
