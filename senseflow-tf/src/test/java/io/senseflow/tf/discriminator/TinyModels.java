package io.senseflow.tf.discriminator;

import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.ModuleInputs;
import java.util.ArrayList;
import java.util.List;

/** Tiny latent text-to-image models for discriminator tests: a flow transformer and an autoencoder decoder. */
final class TinyModels {
    static final int TEXT_LENGTH = 8;
    static final int TEXT_WIDTH = 16;
    static final int POOLED = 8;

    private TinyModels() {
    }

    static FlowTransformer.Config flowConfig() {
        return FlowTransformer.Config.builder().latentChannels(4).latentSize(8, 8).patchSize(2).width(32).depth(2)
                .heads(2).textWidth(TEXT_WIDTH).textLength(TEXT_LENGTH).pooledWidth(POOLED).mlpRatio(2).build();
    }

    static OnnxModel flow(long seed) {
        return FlowTransformer.build(flowConfig(), seed, Init.RANDOM_ALL);
    }

    /** A denoiser module (velocity) over the flow transformer, specialised to {@code batch}. */
    static TfModule denoiser(OnnxModel model, String name, TfWorkspace ws, int batch, AdamWConfig optimizer) {
        return TfModule.builder(model).name(name).workspace(ws)
                .input(InputBinding.of(ModuleInputs.X, FlowTransformer.HIDDEN_STATES))
                .input(InputBinding.of(ModuleInputs.SIGMA, FlowTransformer.TIMESTEP))
                .input(InputBinding.of(ModuleInputs.TOKENS, FlowTransformer.ENCODER_HIDDEN_STATES))
                .input(InputBinding.of(ModuleInputs.POOLED, FlowTransformer.POOLED_PROJECTIONS))
                .output(FlowTransformer.OUT_HIDDEN_STATES).outputLike(ModuleInputs.X)
                .importOptions(ImportOptions.builder().inputShape(FlowTransformer.HIDDEN_STATES, batch, 4, 8, 8)
                        .inputShape(FlowTransformer.TIMESTEP, batch)
                        .inputShape(FlowTransformer.ENCODER_HIDDEN_STATES, batch, TEXT_LENGTH, TEXT_WIDTH)
                        .inputShape(FlowTransformer.POOLED_PROJECTIONS, batch, POOLED).build())
                .optimizer(optimizer).build();
    }

    /** A frozen decoder 4 x 8 x 8 latents -> 3 x 32 x 32 images in [-1, 1]. */
    static TfModule decoder(TfWorkspace ws, int batch) {
        Autoencoder.Config c = Autoencoder.Config.builder().channels(8, 8, 8).groups(4).build();
        return TfModule.builder(Autoencoder.buildDecoder(c, 5)).name("vae_decoder").workspace(ws)
                .input(InputBinding.of(ModuleInputs.X, Autoencoder.LATENT)).output(Autoencoder.SAMPLE)
                .importOptions(ImportOptions.builder().inputShape(Autoencoder.LATENT, batch, 4, 8, 8).frozen().build())
                .build();
    }

    static Conditioning conditioning(long seed, int batch) {
        return Conditioning.of(GaussianNoise.sample(seed, 0, 11, batch, TEXT_LENGTH, TEXT_WIDTH),
                GaussianNoise.sample(seed, 0, 12, batch, POOLED));
    }

    /** Cached conditioning per prompt and structured "real" latents (a per-prompt pattern plus noise). */
    static DistillationDataset dataset(long seed) {
        return new DistillationDataset() {
            @Override
            public DistillationBatch batch(long iteration, int batchSize) {
                List<String> prompts = new ArrayList<>();
                List<Tensor> tokens = new ArrayList<>();
                List<Tensor> pooled = new ArrayList<>();
                List<Tensor> real = new ArrayList<>();
                for (int b = 0; b < batchSize; b++) {
                    int p = (int) ((iteration * batchSize + b) % 4);
                    prompts.add("prompt " + p);
                    Conditioning c = conditioning(seed + p, 1);
                    tokens.add(c.tokens());
                    pooled.add(c.pooled());
                    Tensor pattern = GaussianNoise.sample(seed + p, 0, 13, 1, 4, 8, 8).scale(0.8f);
                    real.add(pattern.add(GaussianNoise.sample(seed, iteration * batchSize + b, 14, 1, 4, 8, 8)
                            .scale(0.2f)));
                }
                return new DistillationBatch(prompts, Conditioning.of(Tensor.concatBatch(tokens),
                        Tensor.concatBatch(pooled)), null, Tensor.concatBatch(real));
            }

            @Override
            public int[] sampleShape() {
                return new int[] {4, 8, 8};
            }
        };
    }
}
