package io.senseflow.tf;

import io.senseflow.InvalidRequestException;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GPUOptions;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RewriterConfig;

/**
 * Settings of the TensorFlow session a {@link TfWorkspace} runs. Thread counts are fixed (never "as many as there
 * are cores") so runs are reproducible: on CPU, TensorFlow's kernels give bit-identical results for the same inputs
 * and the same thread counts (tested), but a different intra-op thread count may change how reductions and matrix
 * products are split, and with it the last bits.
 *
 * <p>GPU (with the {@code -Pgpu} build, TensorFlow's {@code linux-x86_64-gpu} natives): memory always grows on demand
 * instead of being grabbed up front, so ONNX Runtime can share the device; {@link #withGpu(int, long)} pins the session to
 * one device and caps TensorFlow's memory there (a virtual device with a memory limit), which, together with ONNX
 * Runtime's {@code cudaMemoryLimitBytes}, splits one GPU between the trainer and an ONNX Runtime teacher. On a CPU-only
 * build these settings are ignored.
 *
 * @param intraOpThreads threads inside one kernel (matrix products, reductions)
 * @param interOpThreads kernels run concurrently
 * @param graphOptimizations whether TensorFlow's graph optimizer (Grappler) rewrites the graph; off gives kernels
 *     exactly as built (useful when comparing against another backend bit for bit)
 * @param gpuDevice the one GPU the session sees ({@code visible_device_list}), or -1 for TensorFlow's default (all)
 * @param gpuMemoryLimitBytes TensorFlow's memory cap on that GPU, or 0 for none (growth on demand only)
 * @param allowOneDnn whether a workspace may start while oneDNN is enabled in the process environment (off by
 *     default: a workspace then refuses to start, see {@link EngineSelfCheck}); the engine self-check runs either way
 * @param xlaJit whether the session asks TensorFlow to compile clusters of the graph with XLA
 *     ({@code graph_options.optimizer_options.global_jit_level = ON_1}; off by default). A measurement option: on a
 *     CPU session TensorFlow honours it only when the process also sets {@code TF_XLA_FLAGS=--tf_xla_cpu_global_jit}
 *     (docs/training.md, "Training-step speed vs PyTorch")
 * @param prunedGraphBuilds whether each new kind of session run (a new set of fed and fetched values) places and
 *     prepares only the part of the graph it runs ({@code graph_options.place_pruned_graph}) without TensorFlow's
 *     classic graph optimizer ({@code optimizer_options.opt_level = L0}: no constant folding, no common-subexpression
 *     elimination); off by default. In a workspace with several imported variants of a large graph and their backward
 *     graphs, where every graph extension and every new kind of run otherwise processes the whole graph, it cuts
 *     the time to the first iterations (the SDXL front door: by about 45 %, docs/distillation.md). The kernels are
 *     the same; a run and its resume must use the same setting to match bit for bit
 */
public record TfSessionOptions(int intraOpThreads, int interOpThreads, boolean graphOptimizations, int gpuDevice,
                               long gpuMemoryLimitBytes, boolean allowOneDnn, boolean xlaJit,
                               boolean prunedGraphBuilds) {

    /**
     * @param intraOpThreads threads inside one kernel
     * @param interOpThreads kernels run concurrently
     * @param graphOptimizations whether Grappler rewrites the graph
     * @param gpuDevice the one GPU the session sees, or -1
     * @param gpuMemoryLimitBytes TensorFlow's memory cap on that GPU, or 0
     * @param allowOneDnn whether a workspace may start while oneDNN is enabled
     * @param xlaJit whether to request XLA JIT compilation
     */
    public TfSessionOptions(int intraOpThreads, int interOpThreads, boolean graphOptimizations, int gpuDevice,
                            long gpuMemoryLimitBytes, boolean allowOneDnn, boolean xlaJit) {
        this(intraOpThreads, interOpThreads, graphOptimizations, gpuDevice, gpuMemoryLimitBytes, allowOneDnn, xlaJit,
                false);
    }

    public TfSessionOptions {
        if (intraOpThreads < 1 || interOpThreads < 1) {
            throw InvalidRequestException.of("TensorFlow thread counts", "at least 1",
                    "intra " + intraOpThreads + ", inter " + interOpThreads);
        }
        if (gpuDevice < -1) {
            throw InvalidRequestException.of("gpuDevice", "a device index >= 0, or -1 for the default", gpuDevice);
        }
        if (gpuMemoryLimitBytes < 0 || (gpuMemoryLimitBytes > 0 && gpuDevice < 0)) {
            throw InvalidRequestException.of("gpuMemoryLimitBytes", "0 (none), or a positive limit together with a"
                    + " gpuDevice", gpuMemoryLimitBytes + " bytes on device " + gpuDevice);
        }
    }

    /**
     * @param intraOpThreads threads inside one kernel
     * @param interOpThreads kernels run concurrently
     * @param graphOptimizations whether Grappler rewrites the graph
     * @param gpuDevice the one GPU the session sees, or -1
     * @param gpuMemoryLimitBytes TensorFlow's memory cap on that GPU, or 0
     * @param allowOneDnn whether a workspace may start while oneDNN is enabled
     */
    public TfSessionOptions(int intraOpThreads, int interOpThreads, boolean graphOptimizations, int gpuDevice,
                            long gpuMemoryLimitBytes, boolean allowOneDnn) {
        this(intraOpThreads, interOpThreads, graphOptimizations, gpuDevice, gpuMemoryLimitBytes, allowOneDnn, false);
    }

    /**
     * @param intraOpThreads threads inside one kernel
     * @param interOpThreads kernels run concurrently
     * @param graphOptimizations whether Grappler rewrites the graph
     */
    public TfSessionOptions(int intraOpThreads, int interOpThreads, boolean graphOptimizations) {
        this(intraOpThreads, interOpThreads, graphOptimizations, -1, 0, false);
    }

    /**
     * @param intraOpThreads threads inside one kernel
     * @param interOpThreads kernels run concurrently
     * @param graphOptimizations whether Grappler rewrites the graph
     * @param gpuDevice the one GPU the session sees, or -1
     * @param gpuMemoryLimitBytes TensorFlow's memory cap on that GPU, or 0
     */
    public TfSessionOptions(int intraOpThreads, int interOpThreads, boolean graphOptimizations, int gpuDevice,
                            long gpuMemoryLimitBytes) {
        this(intraOpThreads, interOpThreads, graphOptimizations, gpuDevice, gpuMemoryLimitBytes, false);
    }

    /** @return up to 4 intra-op threads (fewer on smaller machines), 1 inter-op thread, graph optimizations on */
    public static TfSessionOptions defaults() {
        return new TfSessionOptions(Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors())), 1, true);
    }

    /** @param threads intra-op threads @return a copy with that count */
    public TfSessionOptions withIntraOpThreads(int threads) {
        return new TfSessionOptions(threads, interOpThreads, graphOptimizations, gpuDevice, gpuMemoryLimitBytes, allowOneDnn,
                xlaJit, prunedGraphBuilds);
    }

    /** @param threads inter-op threads @return a copy with that count */
    public TfSessionOptions withInterOpThreads(int threads) {
        return new TfSessionOptions(intraOpThreads, threads, graphOptimizations, gpuDevice, gpuMemoryLimitBytes, allowOneDnn,
                xlaJit, prunedGraphBuilds);
    }

    /** @param on whether Grappler runs @return a copy */
    public TfSessionOptions withGraphOptimizations(boolean on) {
        return new TfSessionOptions(intraOpThreads, interOpThreads, on, gpuDevice, gpuMemoryLimitBytes, allowOneDnn,
                xlaJit, prunedGraphBuilds);
    }

    /**
     * @param device the GPU the session uses
     * @param memoryLimitBytes TensorFlow's cap on it (0: none, memory grows on demand)
     * @return a copy pinned to that device
     */
    public TfSessionOptions withGpu(int device, long memoryLimitBytes) {
        return new TfSessionOptions(intraOpThreads, interOpThreads, graphOptimizations, device, memoryLimitBytes,
                allowOneDnn, xlaJit, prunedGraphBuilds);
    }

    /**
     * Lets a workspace start although oneDNN is enabled in the process environment. The engine self-check still
     * runs, but it covers only the kernel bugs known so far; with oneDNN off (the default requirement) neither of
     * them can occur.
     *
     * @param allow whether to allow oneDNN
     * @return a copy with that policy
     */
    public TfSessionOptions withOneDnnAllowed(boolean allow) {
        return new TfSessionOptions(intraOpThreads, interOpThreads, graphOptimizations, gpuDevice, gpuMemoryLimitBytes,
                allow, xlaJit, prunedGraphBuilds);
    }

    /**
     * Asks TensorFlow to compile clusters of the graph with XLA ({@code global_jit_level = ON_1}). Off by default; on
     * CPU it takes effect only together with {@code TF_XLA_FLAGS=--tf_xla_cpu_global_jit} in the environment.
     *
     * @param on whether to request XLA JIT compilation
     * @return a copy with that setting
     */
    public TfSessionOptions withXlaJit(boolean on) {
        return new TfSessionOptions(intraOpThreads, interOpThreads, graphOptimizations, gpuDevice, gpuMemoryLimitBytes,
                allowOneDnn, on, prunedGraphBuilds);
    }

    /**
     * @param on whether each new kind of run places and prepares only the graph it runs, without the classic graph
     *     optimizer (see {@link #prunedGraphBuilds})
     * @return a copy with that setting
     */
    public TfSessionOptions withPrunedGraphBuilds(boolean on) {
        return new TfSessionOptions(intraOpThreads, interOpThreads, graphOptimizations, gpuDevice, gpuMemoryLimitBytes,
                allowOneDnn, xlaJit, on);
    }

    ConfigProto toProto() {
        GPUOptions.Builder gpu = GPUOptions.newBuilder().setAllowGrowth(true);
        if (gpuDevice >= 0) {
            gpu.setVisibleDeviceList(Integer.toString(gpuDevice));
        }
        if (gpuMemoryLimitBytes > 0) {
            gpu.setExperimental(GPUOptions.Experimental.newBuilder().addVirtualDevices(
                    GPUOptions.Experimental.VirtualDevices.newBuilder()
                            .addMemoryLimitMb((float) (gpuMemoryLimitBytes / (1024.0 * 1024.0)))));
        }
        ConfigProto.Builder b = ConfigProto.newBuilder().setIntraOpParallelismThreads(intraOpThreads)
                .setInterOpParallelismThreads(interOpThreads).setGpuOptions(gpu);
        GraphOptions.Builder graph = GraphOptions.newBuilder();
        if (!graphOptimizations) {
            graph.setRewriteOptions(RewriterConfig.newBuilder().setDisableMetaOptimizer(true));
        }
        if (xlaJit) {
            graph.setOptimizerOptions(OptimizerOptions.newBuilder()
                    .setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_1));
        }
        if (prunedGraphBuilds) {
            graph.setPlacePrunedGraph(true);
            OptimizerOptions.Builder classic = xlaJit ? graph.getOptimizerOptionsBuilder() : OptimizerOptions.newBuilder();
            graph.setOptimizerOptions(classic.setOptLevel(OptimizerOptions.Level.L0).setDoConstantFolding(false)
                    .setDoCommonSubexpressionElimination(false));
        }
        if (!graphOptimizations || xlaJit || prunedGraphBuilds) {
            b.setGraphOptions(graph);
        }
        return b.build();
    }
}
