package io.senseflow.onnx.testing;

import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.NoiseKey;
import io.senseflow.noise.Streams;
import io.senseflow.onnx.folders.ModelFamily;
import io.senseflow.onnx.testing.ClosedForms.TextSpec;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.schedule.AnchorPreset;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The whole text-to-image pipeline of a closed-form fixture folder in plain Java, written from the families'
 * conventions rather than from the SDK's pipeline code: tokenization ({@link FixtureTokenizer}), text encoding and its
 * family-specific assembly, the noise levels (computed here from docs/algorithm.md §2 formulas), the initial and fresh noise
 * ({@link GaussianNoise} with the pipeline's streams), classifier-free or embedded guidance, the timestep scale, FLUX
 * packing and ids, SDXL's epsilon-to-flow map and {@code time_ids}, Euler or stochastic few-step updates, and the VAE
 * scaling before the decoder. {@link #predict} gives the final latents and the decoded images a correct pipeline must
 * produce (up to float rounding).
 *
 * <p>{@link Deviation}s compute what a pipeline with one specific convention wrong would produce, so tests can show
 * that the fixture tells each mistake apart.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class ReferencePipeline {
    /** A deliberately wrong convention. */
    public enum Deviation {
        /** SD3 fed {@code s} instead of {@code 1000 s}; FLUX fed {@code 1000 s} instead of {@code s}. */
        TIMESTEP_SCALE,
        /** CLIP token embeddings from the last exposed hidden state instead of the penultimate one. */
        HIDDEN_STATE,
        /** SD3's pooled vector as CLIP-G then CLIP-L. */
        POOLED_ORDER,
        /** SD3: T5 tokens before the CLIP tokens; SDXL: CLIP-G features before CLIP-L's. */
        TEXT_ORDER,
        /** FLUX: packed features ordered {@code (dy, dx, c)} instead of {@code (c, dy, dx)}. */
        PACKING,
        /** Latents decoded without {@code z / scaling + shift}. */
        VAE_SCALING,
        /** SDXL: empty negative prompts encoded instead of zeroed. */
        NEGATIVE_ZEROS,
        /** SDXL: {@code time_ids} as {@code [W, H, 0, 0, W, H]}. */
        TIME_IDS_ORDER
    }

    /**
     * What the pipeline should return.
     *
     * @param latents the final latents {@code [B, C, h, w]}
     * @param images the decoded images {@code [B, 3, H, W]}, before 8-bit quantisation
     */
    public record Prediction(Tensor latents, Tensor images) {
    }

    private final FixtureSpec spec;

    ReferencePipeline(FixtureSpec spec) {
        this.spec = spec;
    }

    /** @return the guidance mode the loader should pick for this folder */
    public GuidanceMode guidanceMode() {
        return spec.guidanceMode();
    }

    /**
     * @param request a request (unset values take the family defaults the loader applies)
     * @param deviations conventions to get wrong on purpose
     * @return the final latents and images
     */
    public Prediction predict(GenerationRequest request, Deviation... deviations) {
        Set<Deviation> dev = deviations.length == 0 ? EnumSet.noneOf(Deviation.class) : EnumSet.copyOf(Arrays.asList(deviations));
        int size = spec.options.imageSize();
        int width = request.width().orElse(size);
        int height = request.height().orElse(size);
        int n = request.batchSize();
        int c = spec.denoiser.channels();
        int[] shape = {n, c, height / ClosedForms.VAE_FACTOR, width / ClosedForms.VAE_FACTOR};
        double guidance = request.guidanceScale().orElse(spec.defaultGuidance());
        GuidanceMode mode = spec.guidanceMode();
        boolean cfg = mode == GuidanceMode.CFG && guidance > 1;
        double[] sigmas = sigmas(request, width, height);
        NoiseKey[] keys = request.effectiveNoiseKeys().toArray(new NoiseKey[0]);

        Text cond = encode(request.prompts(), false, dev).repeat(request.imagesPerPrompt());
        Text uncond = cfg ? encode(request.negativePrompts(), true, dev).repeat(request.imagesPerPrompt()) : null;

        Tensor eps = request.latents().orElseGet(() -> GaussianNoise.sample(keys, Streams.INITIAL_NOISE, shape));
        Tensor x = eps;
        DdpmSchedule ddpm = DdpmSchedule.stableDiffusion();
        if (spec.family == ModelFamily.SDXL) {
            double[] ab = ddpm.scalesAt(ddpm.timestepForFlowSigma(sigmas[0]));
            x = eps.scale((float) (1 / (ab[0] + ab[1])));
        }
        for (int k = 0; k + 1 < sigmas.length; k++) {
            float s = (float) sigmas[k];
            double next = sigmas[k + 1];
            Tensor v;
            if (cfg) {
                Tensor vu = velocity(x, s, uncond, guidance, width, height, dev);
                Tensor vc = velocity(x, s, cond, guidance, width, height, dev);
                v = Tensor.combine(1 - (float) guidance, vu, (float) guidance, vc);
            } else {
                v = velocity(x, s, cond, mode == GuidanceMode.EMBEDDED ? guidance : Double.NaN, width, height, dev);
            }
            if (spec.options.senseflowCheckpoint()) {
                Tensor x0 = x.addScaled((float) -sigmas[k], v);
                final int step = k;
                x = next == 0 ? x0 : Tensor.combine((float) (1 - next), x0, (float) next,
                        GaussianNoise.sample(keys, Streams.stepNoise(step), shape));
            } else {
                x = x.addScaled((float) (next - sigmas[k]), v);
            }
        }
        Tensor z = x;
        if (!dev.contains(Deviation.VAE_SCALING)) {
            float inv = 1f / (float) spec.scaling;
            float shift = (float) spec.shift;
            z = x.map(value -> value * inv + shift);
        }
        return new Prediction(x, ClosedForms.decode(z));
    }

    /**
     * @param request a request
     * @param width image width
     * @param height image height
     * @return the noise levels this folder samples at, terminal 0 included
     */
    public double[] sigmas(GenerationRequest request, int width, int height) {
        if (request.sigmas().isPresent()) {
            double[] given = request.sigmas().get();
            return given[given.length - 1] == 0 ? given : Arrays.copyOf(given, given.length + 1);
        }
        int steps = request.numInferenceSteps().orElse(spec.defaultSteps());
        double[] s = new double[steps + 1];
        if (spec.options.senseflowCheckpoint()) {
            AnchorPreset preset = switch (spec.family) {
                case SD3 -> AnchorPreset.SD35;
                case FLUX -> AnchorPreset.FLUX;
                default -> AnchorPreset.SDXL;
            };
            double[] anchors = preset.anchors();
            for (int i = 0; i < steps; i++) {
                s[i] = anchors[steps == 1 ? 0 : (int) Math.round(i * (anchors.length - 1) / (double) (steps - 1))];
            }
            return s;
        }
        switch (spec.family) {
            case SD3 -> {
                double end = 3 * 0.001 / (1 + 2 * 0.001);
                for (int i = 0; i < steps; i++) {
                    double base = steps == 1 ? 1 : 1 + (end - 1) * i / (steps - 1);
                    s[i] = 3 * base / (1 + 2 * base);
                }
            }
            case FLUX -> {
                int tokens = (height / 16) * (width / 16);
                double mu = 0.5 + (1.15 - 0.5) / (4096 - 256) * (tokens - 256);
                for (int i = 0; i < steps; i++) {
                    double base = steps == 1 ? 1 : 1 + (1.0 / steps - 1) * i / (steps - 1);
                    s[i] = Math.exp(mu) / (Math.exp(mu) + (1 / base - 1));
                }
            }
            default -> {
                DdpmSchedule ddpm = DdpmSchedule.stableDiffusion();
                for (int i = 0; i < steps; i++) {
                    s[i] = ddpm.flowSigma((steps - 1 - i) * (1000 / steps) + 1);
                }
            }
        }
        return s;
    }

    /** Token embeddings and pooled vector per prompt. */
    private record Text(Tensor tokens, Tensor pooled) {
        Text repeat(int times) {
            return new Text(tokens.repeatEach(times), pooled.repeatEach(times));
        }
    }

    private Text encode(List<String> prompts, boolean negative, Set<Deviation> dev) {
        int clipLen = spec.options.clipLength();
        int hidden = dev.contains(Deviation.HIDDEN_STATE) ? 2 : 1; // layers = 2: index -2 is hidden_states.1
        switch (spec.family) {
            case SD3 -> {
                long[][] idsL = ids(prompts, FixtureTokenizer.Style.CLIP, clipLen, 1);
                long[][] idsG = ids(prompts, FixtureTokenizer.Style.CLIP, clipLen, 2);
                Tensor l = ClosedForms.textTokens(spec.clipL, idsL, hidden);
                Tensor g = ClosedForms.textTokens(spec.clipG, idsG, hidden);
                int width = spec.denoiser.tokenWidth();
                Tensor clip = padLast(concatLast(l, g), width);
                Tensor t5 = spec.t5 == null ? Tensor.zeros(prompts.size(), spec.t5Length, width)
                        : ClosedForms.textTokens(spec.t5, ids(prompts, FixtureTokenizer.Style.T5, spec.t5Length, 0), -1);
                Tensor tokens = dev.contains(Deviation.TEXT_ORDER) ? concatSequence(t5, clip) : concatSequence(clip, t5);
                Tensor pl = ClosedForms.textPooled(spec.clipL, idsL);
                Tensor pg = ClosedForms.textPooled(spec.clipG, idsG);
                return new Text(tokens, dev.contains(Deviation.POOLED_ORDER) ? concatLast(pg, pl) : concatLast(pl, pg));
            }
            case FLUX -> {
                Tensor pooled = ClosedForms.textPooled(spec.clipL, ids(prompts, FixtureTokenizer.Style.CLIP, clipLen, 1));
                Tensor tokens = ClosedForms.textTokens(spec.t5, ids(prompts, FixtureTokenizer.Style.T5, spec.t5Length, 0), -1);
                return new Text(tokens, pooled);
            }
            default -> {
                long[][] idsL = ids(prompts, FixtureTokenizer.Style.CLIP, clipLen, 1);
                long[][] idsG = ids(prompts, FixtureTokenizer.Style.CLIP, clipLen, 2);
                Tensor l = ClosedForms.textTokens(spec.clipL, idsL, hidden);
                Tensor g = ClosedForms.textTokens(spec.clipG, idsG, hidden);
                Tensor tokens = dev.contains(Deviation.TEXT_ORDER) ? concatLast(g, l) : concatLast(l, g);
                Tensor pooled = ClosedForms.textPooled(spec.clipG, idsG);
                if (negative && !dev.contains(Deviation.NEGATIVE_ZEROS)) {
                    boolean[] empty = new boolean[prompts.size()];
                    for (int i = 0; i < empty.length; i++) {
                        empty[i] = prompts.get(i).isEmpty();
                    }
                    tokens = zeroSamples(tokens, empty);
                    pooled = zeroSamples(pooled, empty);
                }
                return new Text(tokens, pooled);
            }
        }
    }

    private Tensor velocity(Tensor x, float s, Text text, double guidance, int width, int height, Set<Deviation> dev) {
        int n = x.batch();
        double[] g = null;
        if (!Double.isNaN(guidance)) {
            g = new double[n];
            Arrays.fill(g, (float) guidance);
        }
        switch (spec.family) {
            case SD3 -> {
                double[] tau = new double[n];
                Arrays.fill(tau, dev.contains(Deviation.TIMESTEP_SCALE) ? s : 1000f * s);
                return ClosedForms.denoiseNchw(spec.denoiser, x, tau, text.tokens(), text.pooled(), null, null);
            }
            case FLUX -> {
                boolean channelLast = dev.contains(Deviation.PACKING);
                Tensor packed = pack(x, channelLast);
                double[] tau = new double[n];
                Arrays.fill(tau, dev.contains(Deviation.TIMESTEP_SCALE) ? 1000f * s : s);
                Tensor out = ClosedForms.denoisePacked(spec.denoiser, packed, tau, text.tokens(), text.pooled(), g,
                        imageIds(x.dim(2), x.dim(3)), Tensor.zeros(text.tokens().dim(1), 3));
                return unpack(out, x.dim(1), x.dim(2), x.dim(3), channelLast);
            }
            default -> {
                DdpmSchedule ddpm = DdpmSchedule.stableDiffusion();
                double t = ddpm.timestepForFlowSigma(s);
                double[] ab = ddpm.scalesAt(t);
                float scale = (float) (ab[0] + ab[1]);
                float gain = (float) ((ab[0] + ab[1]) / ab[0]);
                Tensor xt = x.scale(scale);
                double[] tau = new double[n];
                float fed = (float) t;
                Arrays.fill(tau, spec.options.precision() == io.senseflow.onnx.ir.DataType.FLOAT ? Math.rint(fed) : fed);
                Tensor timeIds = dev.contains(Deviation.TIME_IDS_ORDER) ? timeIds(n, width, height) : timeIds(n, height, width);
                Tensor eps = ClosedForms.denoiseNchw(spec.denoiser, xt, tau, text.tokens(), text.pooled(), null, timeIds);
                return Tensor.combine(gain, eps, -gain, x);
            }
        }
    }

    // ------------------------------------------------------------------ helpers, written independently of the SDK's

    private static long[][] ids(List<String> prompts, FixtureTokenizer.Style style, int length, long pad) {
        long[][] out = new long[prompts.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = FixtureTokenizer.ids(style, prompts.get(i), length, pad);
        }
        return out;
    }

    private static Tensor timeIds(int n, int first, int second) {
        float[] v = new float[n * 6];
        for (int i = 0; i < n; i++) {
            float[] row = {first, second, 0, 0, first, second};
            System.arraycopy(row, 0, v, i * 6, 6);
        }
        return Tensor.wrap(v, n, 6);
    }

    private static int packedFeature(int c, int channels, int dy, int dx, boolean channelLast) {
        return channelLast ? (dy * 2 + dx) * channels + c : c * 4 + dy * 2 + dx;
    }

    static Tensor pack(Tensor x, boolean channelLast) {
        int n = x.dim(0);
        int c = x.dim(1);
        int h = x.dim(2);
        int w = x.dim(3);
        float[] out = new float[x.size()];
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < h / 2; i++) {
                for (int j = 0; j < w / 2; j++) {
                    for (int ch = 0; ch < c; ch++) {
                        for (int dy = 0; dy < 2; dy++) {
                            for (int dx = 0; dx < 2; dx++) {
                                int token = i * (w / 2) + j;
                                int f = packedFeature(ch, c, dy, dx, channelLast);
                                out[(b * (h / 2) * (w / 2) + token) * 4 * c + f] =
                                        x.get(((b * c + ch) * h + 2 * i + dy) * w + 2 * j + dx);
                            }
                        }
                    }
                }
            }
        }
        return Tensor.wrap(out, n, (h / 2) * (w / 2), 4 * c);
    }

    static Tensor unpack(Tensor p, int c, int h, int w, boolean channelLast) {
        int n = p.dim(0);
        float[] out = new float[p.size()];
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < h / 2; i++) {
                for (int j = 0; j < w / 2; j++) {
                    for (int ch = 0; ch < c; ch++) {
                        for (int dy = 0; dy < 2; dy++) {
                            for (int dx = 0; dx < 2; dx++) {
                                int token = i * (w / 2) + j;
                                int f = packedFeature(ch, c, dy, dx, channelLast);
                                out[((b * c + ch) * h + 2 * i + dy) * w + 2 * j + dx] =
                                        p.get((b * (h / 2) * (w / 2) + token) * 4 * c + f);
                            }
                        }
                    }
                }
            }
        }
        return Tensor.wrap(out, n, c, h, w);
    }

    static Tensor imageIds(int h, int w) {
        List<Float> v = new ArrayList<>();
        for (int i = 0; i < h / 2; i++) {
            for (int j = 0; j < w / 2; j++) {
                v.add(0f);
                v.add((float) i);
                v.add((float) j);
            }
        }
        float[] a = new float[v.size()];
        for (int k = 0; k < a.length; k++) {
            a[k] = v.get(k);
        }
        return Tensor.wrap(a, a.length / 3, 3);
    }

    private static Tensor concatLast(Tensor a, Tensor b) {
        int rows = a.size() / a.dim(a.rank() - 1);
        int wa = a.dim(a.rank() - 1);
        int wb = b.dim(b.rank() - 1);
        float[] out = new float[rows * (wa + wb)];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < wa; i++) {
                out[r * (wa + wb) + i] = a.get(r * wa + i);
            }
            for (int i = 0; i < wb; i++) {
                out[r * (wa + wb) + wa + i] = b.get(r * wb + i);
            }
        }
        int[] shape = a.shape();
        shape[shape.length - 1] = wa + wb;
        return Tensor.wrap(out, shape);
    }

    private static Tensor padLast(Tensor t, int width) {
        int[] shape = t.shape();
        shape[shape.length - 1] = width - shape[shape.length - 1];
        return concatLast(t, Tensor.zeros(shape));
    }

    private static Tensor concatSequence(Tensor a, Tensor b) {
        List<Tensor> rows = new ArrayList<>();
        for (int i = 0; i < a.batch(); i++) {
            Tensor ai = a.sample(i);
            Tensor bi = b.sample(i);
            float[] v = new float[ai.size() + bi.size()];
            ai.copyTo(v, 0);
            bi.copyTo(v, ai.size());
            rows.add(Tensor.wrap(v, 1, a.dim(1) + b.dim(1), a.dim(2)));
        }
        return Tensor.concatBatch(rows);
    }

    private static Tensor zeroSamples(Tensor t, boolean[] zero) {
        List<Tensor> rows = new ArrayList<>();
        for (int i = 0; i < t.batch(); i++) {
            Tensor s = t.sliceBatch(i, i + 1);
            rows.add(zero[i] ? Tensor.zeros(s.shape()) : s);
        }
        return Tensor.concatBatch(rows);
    }
}
