package io.senseflow.tf.importer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.util.Locale;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.tensorflow.GraphOperation;
import org.tensorflow.proto.DataType;

/**
 * {@link ImportOptions.Builder#frozenBfloat16}: the shared Optimum SD3 transformer with its frozen weights stored in
 * bfloat16 against the same graph in float32 — outputs, gradients with respect to the input, and the float32 gradients
 * of a trainable projection over the bfloat16 base; that the frozen weights really are bfloat16 in the TensorFlow graph,
 * and how many bytes that saves.
 */
class FrozenBfloat16Test {
    static final int BATCH = 2;
    static final int TOKENS = 77;
    /** The trainable part over the frozen base: the first block's image-stream attention projections. */
    static final String TRAINABLE = "transformer_blocks\\.0\\.attn\\.to_[qkv]\\.";

    static TfModule module(OnnxModel model, boolean bf16, boolean someTrainable) {
        return module(model, bf16, someTrainable, false);
    }

    /** @param bf16Compute also run the frozen-weight products in bfloat16 ({@link ImportOptions.Builder#computeBfloat16}) */
    static TfModule module(OnnxModel model, boolean bf16, boolean someTrainable, boolean bf16Compute) {
        Pattern p = Pattern.compile(TRAINABLE);
        return module(model, bf16, someTrainable ? n -> p.matcher(n).find() : null, bf16Compute);
    }

    /** @param trainable the trainable initializers, or null for none */
    static TfModule module(OnnxModel model, boolean bf16, java.util.function.Predicate<String> trainable,
                           boolean bf16Compute) {
        return module(model, bf16, trainable, bf16Compute, null, null, bf16Compute ? "bf16c" : bf16 ? "bf16" : "fp32");
    }

    /**
     * @param workspace the workspace to import into, or null for its own
     * @param shared shared initializer reads ({@code SharedBase.reads()}), or null
     * @param name the module name
     */
    static TfModule module(OnnxModel model, boolean bf16, java.util.function.Predicate<String> trainable,
                           boolean bf16Compute, io.senseflow.tf.TfWorkspace workspace,
                           java.util.Map<String, ? extends org.tensorflow.Output<?>> shared, String name) {
        ImportOptions.Builder o = ImportOptions.builder().inputShape("hidden_states", BATCH, 16, 8, 8)
                .inputShape("encoder_hidden_states", BATCH, TOKENS, 80).inputShape("pooled_projections", BATCH, 64)
                .inputShape("timestep", BATCH).frozenBfloat16(bf16).computeBfloat16(bf16Compute);
        if (shared != null) {
            o.sharedInitializers(shared);
        }
        if (trainable != null) {
            o.trainable(trainable, "selected");
        } else {
            o.frozen();
        }
        TfModule.Builder mb = TfModule.builder(model);
        if (workspace != null) {
            mb.workspace(workspace);
        }
        return mb.name(name)
                .input(InputBinding.of(ModuleInputs.X, "hidden_states"))
                .input(InputBinding.of(ModuleInputs.SIGMA, "timestep").scaled(1000))
                .input(InputBinding.of(ModuleInputs.TOKENS, "encoder_hidden_states"))
                .input(InputBinding.of(ModuleInputs.POOLED, "pooled_projections"))
                .output("out_hidden_states").outputLike(ModuleInputs.X).importOptions(o.build())
                .sessionOptions(TfSessionOptions.defaults().withIntraOpThreads(2).withInterOpThreads(1))
                .optimizer(AdamWConfig.constant(1e-4)).build();
    }

    static ModuleInputs inputs() {
        return ModuleInputs.denoiser(GaussianNoise.sample(5, 0, 1, BATCH, 16, 8, 8), new float[] {0.83f, 0.27f},
                Conditioning.of(GaussianNoise.sample(5, 0, 2, BATCH, TOKENS, 80), GaussianNoise.sample(5, 0, 3, BATCH, 64)));
    }

    /** max |a - b| and ||a - b|| / ||b|| */
    static double[] error(float[] a, float[] ref) {
        double max = 0;
        double d2 = 0;
        double r2 = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - ref[i];
            max = Math.max(max, Math.abs(d));
            d2 += d * d;
            r2 += (double) ref[i] * ref[i];
        }
        return new double[] {max, Math.sqrt(d2 / r2)};
    }

    @Test
    void bfloat16FrozenBaseStaysCloseToFloat32AndIsReallyStoredInBfloat16() {
        OnnxModel model = OnnxModel.read(Fixtures.path("optimum-exports/sd3/onnx").resolve("transformer/model.onnx"));
        long floatElements = 0;
        long largeElements = 0;
        for (TensorValue t : model.graph().initializers()) {
            if (t.dataType() == io.senseflow.onnx.ir.DataType.FLOAT) {
                floatElements += t.elementCount();
                if (t.elementCount() >= ImportOptions.FROZEN_BFLOAT16_MIN_ELEMENTS) {
                    largeElements += t.elementCount();
                }
            }
        }
        ModuleInputs in = inputs();
        Tensor target = GaussianNoise.sample(5, 0, 4, BATCH, 16, 8, 8);
        try (TfModule f32 = module(model, false, false); TfModule b16 = module(model, true, false)) {
            float[] y32 = f32.forward(in).toArray();
            float[] y16 = b16.forward(in).toArray();
            long[] stored32 = storage(f32);
            long[] stored16 = storage(b16);
            System.out.printf(Locale.ROOT, "storage of 1,024+ elements: fp32 import %,d fp32; bf16 import %,d fp32 + %,d"
                    + " bf16; initializers of 1,024+ elements %,d%n", stored32[0], stored16[0], stored16[1], largeElements);
            // the same tensors, and in the bf16 import all large float ones are bfloat16
            assertThat(stored32[1]).isZero();
            assertThat(stored16[0]).isZero();
            assertThat(stored16[1]).isEqualTo(stored32[0]);
            System.out.printf(Locale.ROOT, "sd3 transformer: %,d float parameters, %,d of them imported and stored as"
                    + " bfloat16; weight storage %,d B (fp32) -> %,d B (bf16), %.1f %% saved%n", floatElements, stored16[1],
                    4 * stored32[0], 4 * stored16[0] + 2 * stored16[1],
                    100.0 * (1 - (4.0 * stored16[0] + 2.0 * stored16[1]) / (4.0 * stored32[0])));

            double[] ey = error(y16, y32);
            BackwardResult g32 = f32.backward(in, Upstream.mse(target, null), GradientMode.INPUTS);
            BackwardResult g16 = b16.backward(in, Upstream.mse(target, null), GradientMode.INPUTS);
            double[] eg = error(g16.inputGradient(ModuleInputs.X).toArray(), g32.inputGradient(ModuleInputs.X).toArray());
            System.out.printf(Locale.ROOT, "outputs: max-abs %.3e, relative %.3e; input gradients: max-abs %.3e,"
                    + " relative %.3e%n", ey[0], ey[1], eg[0], eg[1]);
            // bfloat16 keeps 8 significant bits: each weight within 2^-9 relative; measured 2.2e-3 and 2.5e-3 here
            assertThat(ey[1]).isGreaterThan(0).isLessThan(1e-2);
            assertThat(eg[1]).isGreaterThan(0).isLessThan(1e-2);
        }
        try (TfModule f32 = module(model, false, true); TfModule b16 = module(model, true, true)) {
            b16.forward(in);
            assertThat(storage(b16)[1]).isPositive();
            // trainable weights (and so their gradients and AdamW moments) are float32 variables
            assertThat(b16.importedGraph().trainableVariables()).isNotEmpty()
                    .allSatisfy(v -> assertThat(v.dtype()).isEqualTo(DataType.DT_FLOAT));
            assertThat(b16.parameters().specs()).isNotEmpty().hasSameSizeAs(f32.parameters().specs());
            f32.optimizer().zeroGradients();
            b16.optimizer().zeroGradients();
            f32.backward(in, Upstream.mse(target, null), GradientMode.PARAMETERS);
            b16.backward(in, Upstream.mse(target, null), GradientMode.PARAMETERS);
            double worst = 0;
            for (var p : f32.parameters().specs()) {
                double[] e = error(b16.optimizer().gradient(p.name()).toArray(), f32.optimizer().gradient(p.name()).toArray());
                worst = Math.max(worst, e[1]);
            }
            System.out.printf(Locale.ROOT, "float32 gradients of %d trainable tensors over the bfloat16 base: worst"
                    + " relative error %.3e%n", f32.parameters().specs().size(), worst);
            assertThat(worst).isGreaterThan(0).isLessThan(2e-2);
        }
    }

    @Test
    void float64AndBfloat16TogetherAreRefused() {
        assertThatThrownBy(() -> ImportOptions.builder().float64(true).frozenBfloat16(true).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("frozen bfloat16");
    }

    /**
     * @return {float32 elements, bfloat16 elements} of the module's weight storage of 1,024+ elements: its imported
     *     variables and its constants
     */
    static long[] storage(TfModule m) {
        long[] n = new long[2];
        for (var v : m.importedGraph().variables()) {
            if (v.size() >= ImportOptions.FROZEN_BFLOAT16_MIN_ELEMENTS) {
                n[v.dtype() == DataType.DT_BFLOAT16 ? 1 : 0] += v.size();
            }
        }
        var ops = m.workspace().graph().operations();
        while (ops.hasNext()) {
            GraphOperation op = ops.next();
            if (op.type().equals("Const") && op.name().startsWith(m.name() + "/")) {
                long size = op.output(0).shape().size();
                DataType dt = op.output(0).dataType();
                if (size >= ImportOptions.FROZEN_BFLOAT16_MIN_ELEMENTS && (dt == DataType.DT_FLOAT || dt == DataType.DT_BFLOAT16)) {
                    n[dt == DataType.DT_BFLOAT16 ? 1 : 0] += size;
                }
            }
        }
        return n;
    }
}
