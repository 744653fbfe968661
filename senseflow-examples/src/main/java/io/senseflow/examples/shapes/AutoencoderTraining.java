package io.senseflow.examples.shapes;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.export.OnnxExport;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.LearningRateSchedule;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Trains the Shapes autoencoder ({@link Autoencoder}: images 3 x 32 x 32 to a small latent grid and back) with the
 * TensorFlow backend on rendered images of the TRAIN split (the held-out colour-shape pairs are never seen by any
 * generative component).
 *
 * <p>Loss per step: {@code mean(w (dec(enc(x) + sigma_z eps) - x)^2) + lambda mean(enc(x)^2)} with per-pixel weights
 * {@code w = 1 + objectWeight} on the shape's pixels (those that differ from the background colour) and 1 elsewhere:
 * the shape covers a few dozen of 1,024 pixels, and an unweighted MSE trades its outline (what tells a small square
 * from a small circle) for the flat background. The small latent noise
 * {@code sigma_z} makes the decoder tolerant of the slightly-off latents a flow model produces; the penalty keeps the
 * latent scale from growing to drown that noise. The gradient reaches the encoder through the decoder's input gradient
 * (decoder backward in {@code BOTH} mode with the in-graph MSE, then the encoder's backward from that explicit
 * gradient). After training the latents of {@code statsSamples} images fix the scaling and shift factors
 * ({@code shift = mean}, {@code scaling = 1 / std}), so the flow model sees latents of unit variance.
 */
public final class AutoencoderTraining {

    /**
     * Training settings.
     *
     * @param architecture the autoencoder (its scaling and shift are replaced by the measured ones)
     * @param steps optimizer steps
     * @param batch images per step
     * @param learningRate peak AdamW rate (warm-up then cosine to 1/20 of it)
     * @param latentNoise {@code sigma_z}, the noise added to latents before decoding
     * @param latentPenalty {@code lambda}
     * @param seed data and initialisation seed
     * @param threads TensorFlow intra-op threads
     */
    public record Settings(Autoencoder.Config architecture, int steps, int batch, double learningRate, double latentNoise,
                           double latentPenalty, double objectWeight, long seed, int threads) {
        public Settings {
            if (architecture == null) {
                throw InvalidRequestException.of("architecture", "an autoencoder configuration", "null");
            }
            if (steps < 1) {
                throw InvalidRequestException.of("steps", "at least 1", steps);
            }
            if (batch < 1) {
                throw InvalidRequestException.of("batch", "at least 1", batch);
            }
            if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
                throw InvalidRequestException.of("learning rate", "a positive finite rate", learningRate);
            }
            if (!(latentNoise >= 0) || Double.isInfinite(latentNoise)) {
                throw InvalidRequestException.of("latent noise", "0 or more", latentNoise);
            }
            if (!(latentPenalty >= 0) || Double.isInfinite(latentPenalty)) {
                throw InvalidRequestException.of("latent penalty", "0 or more", latentPenalty);
            }
            if (!(objectWeight >= 0) || Double.isInfinite(objectWeight)) {
                throw InvalidRequestException.of("object weight", "0 or more", objectWeight);
            }
            if (threads < 1) {
                throw InvalidRequestException.of("threads", "at least 1", threads);
            }
        }

        /** @return the settings as a JSON-ready map (provenance) */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("architecture", architecture.toJson());
            m.put("steps", (long) steps);
            m.put("batch", (long) batch);
            m.put("learning_rate", learningRate);
            m.put("latent_noise", latentNoise);
            m.put("latent_penalty", latentPenalty);
            m.put("object_weight", objectWeight);
            m.put("seed", seed);
            m.put("threads", (long) threads);
            return m;
        }
    }

    /** What one step did: loss terms and wall time. */
    public record StepMetrics(int step, double reconstruction, double latentMeanSquare, long nanos) {
    }

    /**
     * The trained autoencoder.
     *
     * @param encoder the encoder graph with trained weights and the measured factors
     * @param decoder the decoder graph with trained weights and the measured factors
     * @param config the final configuration (scaling and shift measured)
     * @param losses the reconstruction loss per step
     * @param seconds wall time of the training loop
     */
    public record Result(OnnxModel encoder, OnnxModel decoder, Autoencoder.Config config, List<Double> losses,
                         double seconds) {
    }

    /** Data seed offset, so the autoencoder's images differ from the evaluation's. */
    static final long DATA_STREAM = 0xAE;

    private AutoencoderTraining() {
    }

    /**
     * @param s settings
     * @param listener called after every step
     * @param cancellation checked before every step
     * @return the trained autoencoder
     */
    public static Result train(Settings s, java.util.function.Consumer<StepMetrics> listener, CancellationToken cancellation) {
        Autoencoder.Config arch = s.architecture();
        OnnxModel encGraph = Autoencoder.build(arch, Autoencoder.Part.ENCODER, s.seed(), io.senseflow.onnx.arch.Init.DEFAULT);
        OnnxModel decGraph = Autoencoder.build(arch, Autoencoder.Part.DECODER, s.seed(), io.senseflow.onnx.arch.Init.DEFAULT);
        AdamWConfig adam = AdamWConfig.constant(s.learningRate()).withLearningRate(LearningRateSchedule.cosine(
                s.learningRate(), Math.min(200, s.steps() / 10), s.steps(), s.learningRate() / 20));
        ShapesDataset data = new ShapesDataset(s.seed() ^ DATA_STREAM, ShapesDataset.Split.TRAIN);
        long[] latentShape = {s.batch(), arch.latentChannels(), arch.latentHeight(), arch.latentWidth()};
        List<Double> losses = new ArrayList<>();
        long t0 = System.nanoTime();
        try (TfWorkspace ws = TfWorkspace.create(TfSessionOptions.defaults().withIntraOpThreads(s.threads()));
             TfModule enc = TfModule.builder(encGraph).name("encoder").workspace(ws)
                     .input(InputBinding.of(ModuleInputs.X, Autoencoder.SAMPLE).withGradient(false))
                     .output(Autoencoder.LATENT)
                     .importOptions(ImportOptions.builder().inputShape(Autoencoder.SAMPLE, s.batch(), arch.imageChannels(),
                             arch.imageHeight(), arch.imageWidth()).build())
                     .optimizer(adam).build();
             TfModule dec = TfModule.builder(decGraph).name("decoder").workspace(ws)
                     .input(InputBinding.of(ModuleInputs.X, Autoencoder.LATENT))
                     .output(Autoencoder.SAMPLE)
                     .importOptions(ImportOptions.builder().inputShape(Autoencoder.LATENT, latentShape).build())
                     .optimizer(adam).build()) {
            for (int step = 0; step < s.steps(); step++) {
                if (cancellation.isCancelled()) {
                    throw new io.senseflow.CancelledException("autoencoder training cancelled before step " + step);
                }
                long ts = System.nanoTime();
                Tensor x = ClassifierTraining.batch(data, (long) step * s.batch(), s.batch()).images();
                ModuleInputs encIn = ModuleInputs.of(x, null);
                Tensor z = enc.forward(encIn);
                Tensor noise = GaussianNoise.sample(s.seed(), (long) step * s.batch(), 0xAE01, z.shape());
                Tensor zn = z.addScaled((float) s.latentNoise(), noise);
                enc.optimizer().zeroGradients();
                dec.optimizer().zeroGradients();
                BackwardResult r = s.objectWeight() == 0
                        ? dec.backward(ModuleInputs.of(zn, null), Upstream.mse(x, null), GradientMode.BOTH)
                        : weightedBackward(dec, zn, x, objectMask(x), s.objectWeight());
                double zms = z.sumOfSquares() / z.size();
                Tensor gz = r.inputGradient(ModuleInputs.X).addScaled((float) (2 * s.latentPenalty() / z.size()), z);
                enc.backward(encIn, Upstream.explicit(gz), GradientMode.PARAMETERS);
                if (!Double.isFinite(r.loss())) {
                    throw new io.senseflow.NumericalException("autoencoder step " + step + ": loss is " + r.loss());
                }
                enc.optimizer().clipGradientNorm(1.0);
                dec.optimizer().clipGradientNorm(1.0);
                enc.optimizer().step();
                dec.optimizer().step();
                losses.add(r.loss());
                listener.accept(new StepMetrics(step, r.loss(), zms, System.nanoTime() - ts));
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            Map<String, Tensor> encWeights = enc.parameters().snapshot();
            Map<String, Tensor> decWeights = dec.parameters().snapshot();
            Autoencoder.Config measured = withMeasuredFactors(arch, OnnxExport.of(encGraph, encWeights).model(), s.seed());
            return new Result(withConfig(encWeights, Autoencoder.Part.ENCODER, measured, s.seed()),
                    withConfig(decWeights, Autoencoder.Part.DECODER, measured, s.seed()), measured, losses, seconds);
        }
    }

    /**
     * The weighted reconstruction loss through an explicit upstream (one extra decoder forward).
     *
     * @return the backward result with the weighted loss in place of the module's
     */
    private static BackwardResult weightedBackward(TfModule dec, Tensor zn, Tensor x, float[] mask, double objectWeight) {
        ModuleInputs in = ModuleInputs.of(zn, null);
        float[] y = dec.forward(in).toArray();
        float[] t = x.toArray();
        float[] g = new float[y.length];
        double loss = 0;
        double n = y.length;
        for (int i = 0; i < y.length; i++) {
            double w = 1 + objectWeight * mask[i];
            double d = y[i] - t[i];
            loss += w * d * d;
            g[i] = (float) (2 * w * d / n);
        }
        BackwardResult r = dec.backward(in, Upstream.explicit(Tensor.wrap(g, x.shape())), GradientMode.BOTH);
        return new BackwardResult(loss / n, r.output(), r.inputGradients());
    }

    /**
     * @param x images {@code [B, 3, H, W]}
     * @return per element, 1 where the pixel differs from its image's top-left colour (the background) by more than
     *     0.1 in some channel, else 0 (the same for the three channels of a pixel)
     */
    static float[] objectMask(Tensor x) {
        int b = x.dim(0);
        int c = x.dim(1);
        int plane = x.dim(2) * x.dim(3);
        float[] v = x.toArray();
        float[] m = new float[v.length];
        for (int s = 0; s < b; s++) {
            int base = s * c * plane;
            for (int p = 0; p < plane; p++) {
                boolean object = false;
                for (int ch = 0; ch < c; ch++) {
                    object |= Math.abs(v[base + ch * plane + p] - v[base + ch * plane]) > 0.1f;
                }
                if (object) {
                    for (int ch = 0; ch < c; ch++) {
                        m[base + ch * plane + p] = 1;
                    }
                }
            }
        }
        return m;
    }

    /** Samples whose latents fix the scaling and shift factors. */
    static final int STATS_SAMPLES = 2048;

    /** The architecture with {@code shift = mean} and {@code scaling = 1 / std} of the raw latents of training images. */
    private static Autoencoder.Config withMeasuredFactors(Autoencoder.Config arch, OnnxModel encoder, long seed) {
        ShapesDataset data = new ShapesDataset(seed ^ DATA_STREAM ^ 0x5747, ShapesDataset.Split.TRAIN);
        double sum = 0;
        double sq = 0;
        long n = 0;
        try (ShapesCodec raw = ShapesCodec.rawEncoder(encoder)) {
            for (int first = 0; first < STATS_SAMPLES; first += 256) {
                Tensor z = raw.encodeRaw(ClassifierTraining.batch(data, first, Math.min(256, STATS_SAMPLES - first)).images());
                float[] v = z.toArray();
                for (float f : v) {
                    sum += f;
                    sq += (double) f * f;
                }
                n += v.length;
            }
        }
        double mean = sum / n;
        double std = Math.sqrt(Math.max(sq / n - mean * mean, 1e-12));
        return arch.toBuilder().scalingFactor(round6(1 / std)).shiftFactor(round6(mean)).build();
    }

    private static double round6(double v) {
        return Math.round(v * 1e6) / 1e6;
    }

    /** The graph built for {@code config} (metadata: the measured factors) carrying the trained weights. */
    static OnnxModel withConfig(Map<String, Tensor> weights, Autoencoder.Part part, Autoencoder.Config config, long seed) {
        return OnnxExport.of(Autoencoder.build(config, part, seed, io.senseflow.onnx.arch.Init.DEFAULT), weights).model();
    }
}
