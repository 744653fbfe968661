package io.senseflow.tf.importer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.lora.LoraConfig;
import io.senseflow.tf.lora.LoraGraph;
import io.senseflow.tf.lora.SharedBase;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import io.senseflow.noise.GaussianNoise;
import java.util.Locale;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.GraphOperation;
import org.tensorflow.proto.DataType;

/**
 * {@link ImportOptions.Builder#computeBfloat16}: the shared Optimum SD3 transformer with its frozen-weight matrix
 * products (projections, the patch-embedding convolution) run in bfloat16, against the same graph in float32, with the
 * first block's image-stream attention projections trainable (float32) over the bfloat16 base: outputs, the gradient
 * with respect to the input latents, and the gradients of the trainable projections. Also that the products really
 * are bfloat16 ops in the TensorFlow graph, that none fell back to float32, and that softmax and the normalisations
 * did not move to bfloat16.
 *
 * <p>The bounds: bfloat16 keeps 8 significant bits (unit roundoff 2^-9 = 2.0e-3); storing the weights costs one
 * rounding per weight (relative output error 2.2e-3 measured by {@link FrozenBfloat16Test}), and computing in bfloat16
 * adds the rounding of every product's operand and result (the kernels' own error is checked by
 * {@link Bfloat16KernelsTest}), a few units of 2^-9 over the model's two dozen products in a row. The tests allow 3e-2
 * relative (about 15 units); a product computing wrong numbers, or a gradient lost at a cast, is off by order 1.
 */
class ComputeBfloat16Test {
    static final double RELATIVE_BOUND = 3e-2;
    /**
     * Parameter gradients pass through twice the products (forward, then the backward's own bfloat16 products against
     * the transposed weights), and a bias gradient sums the upstream over 2 x 64 positions with cancellation: measured
     * 2.4e-2 (about 12 units of 2^-9); 6e-2 allowed.
     */
    static final double GRADIENT_BOUND = 6e-2;

    static TfModule module(OnnxModel model, boolean bf16Compute) {
        return FrozenBfloat16Test.module(model, false, true, bf16Compute);
    }

    @Test
    void sd3FrozenProductsInBfloat16StayCloseToFloat32AndGradientsReachTheTrainableProjections() {
        OnnxModel model = OnnxModel.read(Fixtures.path("optimum-exports/sd3/onnx").resolve("transformer/model.onnx"));
        ModuleInputs in = FrozenBfloat16Test.inputs();
        Tensor target = GaussianNoise.sample(5, 0, 4, FrozenBfloat16Test.BATCH, 16, 8, 8);
        try (TfModule f32 = module(model, false); TfModule b16 = module(model, true)) {
            f32.optimizer().zeroGradients();
            b16.optimizer().zeroGradients();
            BackwardResult r32 = f32.backward(in, Upstream.mse(target, null), GradientMode.BOTH);
            BackwardResult r16 = b16.backward(in, Upstream.mse(target, null), GradientMode.BOTH);

            ImportedGraph g16 = b16.importedGraph();
            int[] ops = bfloat16Ops(b16);
            System.out.printf(Locale.ROOT, "sd3 compute-bf16 import: %d products in bfloat16, %d float32 fallbacks; graph"
                    + " ops MatMul/BatchMatMulV2/Conv2D in bfloat16: %d, in float32: %d; Softmax in bfloat16: %d%n",
                    g16.bfloat16Products(), g16.float32Fallbacks(), ops[0], ops[1], ops[2]);
            assertThat(f32.importedGraph().bfloat16Products()).isZero();
            assertThat(g16.bfloat16Products()).isPositive();
            assertThat(g16.float32Fallbacks()).isZero();
            // every forward product against a frozen weight is a bfloat16 op; the float32 ones left are the attention's
            // two activation-by-activation products (QK^T, PV) in each of the 3 blocks; no softmax in bfloat16
            assertThat(ops[0]).isEqualTo(g16.bfloat16Products());
            assertThat(ops[1]).isEqualTo(2 * 3);
            assertThat(ops[2]).isZero();
            assertThat(g16.trainableVariables()).isNotEmpty()
                    .allSatisfy(v -> assertThat(v.dtype()).isEqualTo(DataType.DT_FLOAT));

            double[] ey = FrozenBfloat16Test.error(r16.output().toArray(), r32.output().toArray());
            double[] ex = FrozenBfloat16Test.error(r16.inputGradient(ModuleInputs.X).toArray(),
                    r32.inputGradient(ModuleInputs.X).toArray());
            System.out.printf(Locale.ROOT, "compute bf16 vs fp32: outputs max-abs %.3e, relative %.3e; input gradients"
                    + " max-abs %.3e, relative %.3e; loss %.6f vs %.6f%n", ey[0], ey[1], ex[0], ex[1], r16.loss(), r32.loss());
            assertThat(ey[1]).isGreaterThan(0).isLessThan(RELATIVE_BOUND);
            assertThat(ex[1]).isGreaterThan(0).isLessThan(RELATIVE_BOUND);
            assertThat(Math.abs(r16.loss() - r32.loss()) / r32.loss()).isLessThan(RELATIVE_BOUND);

            double worst = 0;
            Set<String> names = new java.util.TreeSet<>();
            for (var p : f32.parameters().specs()) {
                float[] g = b16.optimizer().gradient(p.name()).toArray();
                float[] ref = f32.optimizer().gradient(p.name()).toArray();
                double norm = 0;
                for (float v : g) {
                    norm += (double) v * v;
                }
                assertThat(norm).as("gradient of %s reached through the bfloat16 products", p.name()).isPositive();
                double[] e = FrozenBfloat16Test.error(g, ref);
                worst = Math.max(worst, e[1]);
                names.add(p.name());
            }
            System.out.printf(Locale.ROOT, "float32 gradients of %d trainable tensors %s over bf16 products: worst"
                    + " relative error %.3e%n", names.size(), names, worst);
            // the exporter names the projection matrices after their MatMul nodes: the pattern selects the three biases
            assertThat(names).hasSize(3);
            assertThat(worst).isGreaterThan(0).isLessThan(GRADIENT_BOUND);
        }
    }

    /**
     * LoRA over the bfloat16 base: rank-4 adapters on the eight attention projections of the SD3 transformer's first
     * block (q, k, v and out of both streams; float32, trainable; up
     * projections set to seeded non-zero values so that both factors have gradients), the base products in bfloat16.
     * The adapter products stay float32; their gradients match the float32 run.
     */
    @Test
    void loraAdaptersTrainInFloat32OverBfloat16BaseProducts() {
        OnnxModel base = OnnxModel.read(Fixtures.path("optimum-exports/sd3/onnx").resolve("transformer/model.onnx"));
        LoraGraph lora = LoraGraph.of(base, LoraConfig.rank(4).targets("transformer_blocks\\.0/attn/").build(), 7);
        java.util.Map<String, Tensor> adapters = new java.util.LinkedHashMap<>(lora.initialAdapters());
        int k = 0;
        for (var e : adapters.entrySet()) {
            if (e.getKey().endsWith(LoraGraph.UP)) {
                e.setValue(GaussianNoise.sample(11, 0, k++, e.getValue().shape()).scale(0.05f));
            }
        }
        OnnxModel model = lora.withAdapters(adapters);
        Set<String> names = lora.adapterNames();
        ModuleInputs in = FrozenBfloat16Test.inputs();
        Tensor target = GaussianNoise.sample(5, 0, 4, FrozenBfloat16Test.BATCH, 16, 8, 8);
        try (TfModule f32 = FrozenBfloat16Test.module(model, false, names::contains, false);
             TfModule b16 = FrozenBfloat16Test.module(model, false, names::contains, true)) {
            f32.optimizer().zeroGradients();
            b16.optimizer().zeroGradients();
            BackwardResult r32 = f32.backward(in, Upstream.mse(target, null), GradientMode.PARAMETERS);
            BackwardResult r16 = b16.backward(in, Upstream.mse(target, null), GradientMode.PARAMETERS);
            assertThat(b16.importedGraph().bfloat16Products()).isPositive();
            assertThat(b16.importedGraph().float32Fallbacks()).isZero();
            assertThat(names).hasSize(16);
            assertThat(b16.importedGraph().trainableVariables()).hasSize(names.size())
                    .allSatisfy(v -> assertThat(v.dtype()).isEqualTo(DataType.DT_FLOAT));
            double[] ey = FrozenBfloat16Test.error(r16.output().toArray(), r32.output().toArray());
            double worstDown = 0;
            double worstUp = 0;
            for (String name : names) {
                float[] g = b16.optimizer().gradient(name).toArray();
                double norm = 0;
                for (float v : g) {
                    norm += (double) v * v;
                }
                assertThat(norm).as("gradient of adapter %s", name).isPositive();
                double e = FrozenBfloat16Test.error(g, f32.optimizer().gradient(name).toArray())[1];
                if (name.endsWith(LoraGraph.UP)) {
                    worstUp = Math.max(worstUp, e);
                } else {
                    worstDown = Math.max(worstDown, e);
                }
            }
            System.out.printf(Locale.ROOT, "LoRA r4 on sd3 (%d adapter tensors), %d base products in bf16: outputs"
                    + " relative %.3e; adapter gradients worst relative: down %.3e, up %.3e%n", names.size(),
                    b16.importedGraph().bfloat16Products(), ey[1], worstDown, worstUp);
            assertThat(ey[1]).isGreaterThan(0).isLessThan(RELATIVE_BOUND);
            assertThat(worstDown).isGreaterThan(0).isLessThan(GRADIENT_BOUND);
            assertThat(worstUp).isGreaterThan(0).isLessThan(GRADIENT_BOUND);
        }
    }

    /**
     * The LoRA layout of a distillation run: one {@link SharedBase} held in bfloat16 and two adapter sets over it
     * (generator and fake score) in one workspace, with bfloat16 products. The base holds half the bytes of a float32
     * one, the products read the shared bfloat16 weights as they are, the two modules compute the same bits, and
     * they are as close to float32 as a stand-alone compute-bfloat16 import of the same graph.
     */
    @Test
    void twoAdapterSetsOverOneBfloat16SharedBaseAreAsCloseToFloat32AsAStandAloneImport() {
        OnnxModel base = OnnxModel.read(Fixtures.path("optimum-exports/sd3/onnx").resolve("transformer/model.onnx"));
        LoraGraph lora = LoraGraph.of(base, LoraConfig.rank(4).targets("transformer_blocks\\.0/attn/to_").build(), 7);
        OnnxModel model = lora.model();
        Set<String> names = lora.adapterNames();
        ModuleInputs in = FrozenBfloat16Test.inputs();
        try (TfWorkspace ws = TfWorkspace.create(TfSessionOptions.defaults().withIntraOpThreads(2).withInterOpThreads(1));
             TfModule fp32 = FrozenBfloat16Test.module(model, false, names::contains, false);
             TfModule alone = FrozenBfloat16Test.module(model, false, names::contains, true)) {
            SharedBase fp32Base = SharedBase.create(ws, model, names::contains, false);
            SharedBase bf16Base = SharedBase.create(ws, model, names::contains, true);
            System.out.printf(Locale.ROOT, "shared base of sd3 (LoRA r4): %,d parameters, %,d B in float32, %,d B with"
                    + " bfloat16 storage%n", bf16Base.parameters(), fp32Base.bytes(), bf16Base.bytes());
            assertThat(bf16Base.parameters()).isEqualTo(fp32Base.parameters());
            assertThat(bf16Base.bytes()).isLessThan(fp32Base.bytes() * 55 / 100);
            assertThat(bf16Base.reads().values()).anySatisfy(r -> assertThat(r.dataType()).isEqualTo(DataType.DT_BFLOAT16));
            String w = bf16Base.names().iterator().next();
            assertThat(bf16Base.read(w).toArray()).hasSize(fp32Base.read(w).toArray().length);
            try (TfModule g = FrozenBfloat16Test.module(model, false, names::contains, true, ws, bf16Base.reads(), "g");
                 TfModule f = FrozenBfloat16Test.module(model, false, names::contains, true, ws, bf16Base.reads(), "f")) {
                float[] ya = alone.forward(in).toArray();
                float[] yg = g.forward(in).toArray();
                float[] yf = f.forward(in).toArray();
                assertThat(g.importedGraph().bfloat16Products()).isEqualTo(alone.importedGraph().bfloat16Products())
                        .isPositive();
                assertThat(g.importedGraph().trainableVariables()).hasSize(names.size());
                float[] y32 = fp32.forward(in).toArray();
                double[] e = FrozenBfloat16Test.error(yg, y32);
                double[] ea = FrozenBfloat16Test.error(ya, y32);
                double[] eg = FrozenBfloat16Test.error(yg, ya);
                System.out.printf(Locale.ROOT, "vs float32: over the shared bf16 base relative %.3e, stand-alone"
                        + " compute-bf16 import %.3e; between the two %.3e (%d bf16 products each)%n", e[1], ea[1], eg[1],
                        g.importedGraph().bfloat16Products());
                // as accurate as the stand-alone import, not bit-identical to it: the stand-alone import rounds
                // some weights after arithmetic it folds at import, the shared base rounds the initializers as stored
                assertThat(e[1]).isGreaterThan(0).isLessThan(RELATIVE_BOUND).isLessThan(1.5 * ea[1]);
                assertThat(yf).containsExactly(yg);
                Tensor target = GaussianNoise.sample(5, 0, 4, FrozenBfloat16Test.BATCH, 16, 8, 8);
                g.optimizer().zeroGradients();
                g.backward(in, Upstream.mse(target, null), GradientMode.PARAMETERS);
                for (String name : names) {
                    if (name.endsWith(LoraGraph.UP)) { // B starts at 0, so only the up projections have gradients
                        float[] grad = g.optimizer().gradient(name).toArray();
                        double norm = 0;
                        for (float v : grad) {
                            norm += (double) v * v;
                        }
                        assertThat(norm).as("gradient of %s over the shared bfloat16 base", name).isPositive();
                    }
                }
            }
        }
    }

    @Test
    void computeBfloat16ImpliesBfloat16StorageAndIsRefusedWithFloat64() {
        ImportOptions o = ImportOptions.builder().computeBfloat16(true).build();
        assertThat(o.computeBfloat16()).isTrue();
        assertThat(o.frozenBfloat16()).isTrue();
        assertThat(o.toBuilder().build().computeBfloat16()).isTrue();
        assertThat(ImportOptions.builder().frozenBfloat16(true).build().computeBfloat16()).isFalse();
        assertThatThrownBy(() -> ImportOptions.builder().float64(true).computeBfloat16(true).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("bfloat16 compute");
    }

    /** @return {matrix products in bfloat16, in float32, Softmax ops in bfloat16} among the module's graph ops */
    static int[] bfloat16Ops(TfModule m) {
        int[] n = new int[3];
        var it = m.workspace().graph().operations();
        while (it.hasNext()) {
            GraphOperation op = it.next();
            if (!op.name().startsWith(m.name() + "/") || op.name().contains("/grad")) {
                continue;
            }
            boolean bf = op.numOutputs() > 0 && op.output(0).dataType() == DataType.DT_BFLOAT16;
            switch (op.type()) {
                case "MatMul", "BatchMatMulV2", "Conv2D" -> n[bf ? 0 : 1]++;
                case "Softmax" -> n[2] += bf ? 1 : 0;
                default -> {
                }
            }
        }
        return n;
    }
}
