package io.senseflow.tf;

import io.senseflow.InvalidRequestException;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GPUOptions;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.RewriterConfig;

/**
 * Settings of the TensorFlow session a {@link TfWorkspace} runs. Thread counts are fixed (never "as many as there
 * are cores") so runs are reproducible: on CPU, TensorFlow's kernels give bit-identical results for the same inputs
 * and the same thread counts (tested), but a different intra-op thread count may change how reductions and matrix
 * products are split, and with it the last bits. GPU memory grows on demand instead of being grabbed up front, so
 * ONNX Runtime can share the device.
 *
 * @param intraOpThreads threads inside one kernel (matrix products, reductions)
 * @param interOpThreads kernels run concurrently
 * @param graphOptimizations whether TensorFlow's graph optimizer (Grappler) rewrites the graph; off gives kernels
 *     exactly as built (useful when comparing against another backend bit for bit)
 */
public record TfSessionOptions(int intraOpThreads, int interOpThreads, boolean graphOptimizations) {

    public TfSessionOptions {
        if (intraOpThreads < 1 || interOpThreads < 1) {
            throw InvalidRequestException.of("TensorFlow thread counts", "at least 1",
                    "intra " + intraOpThreads + ", inter " + interOpThreads);
        }
    }

    /** @return up to 4 intra-op threads (fewer on smaller machines), 1 inter-op thread, graph optimizations on */
    public static TfSessionOptions defaults() {
        return new TfSessionOptions(Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors())), 1, true);
    }

    /** @param threads intra-op threads @return a copy with that count */
    public TfSessionOptions withIntraOpThreads(int threads) {
        return new TfSessionOptions(threads, interOpThreads, graphOptimizations);
    }

    /** @param on whether Grappler runs @return a copy */
    public TfSessionOptions withGraphOptimizations(boolean on) {
        return new TfSessionOptions(intraOpThreads, interOpThreads, on);
    }

    ConfigProto toProto() {
        ConfigProto.Builder b = ConfigProto.newBuilder().setIntraOpParallelismThreads(intraOpThreads)
                .setInterOpParallelismThreads(interOpThreads)
                .setGpuOptions(GPUOptions.newBuilder().setAllowGrowth(true));
        if (!graphOptimizations) {
            b.setGraphOptions(GraphOptions.newBuilder().setRewriteOptions(
                    RewriterConfig.newBuilder().setDisableMetaOptimizer(true)));
        }
        return b.build();
    }
}
