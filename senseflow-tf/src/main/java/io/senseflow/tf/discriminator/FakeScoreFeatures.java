package io.senseflow.tf.discriminator;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.importer.ImportedGraph;
import io.senseflow.train.ModuleInputs;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Output;

/**
 * Features from the fake score's own graph (DMD2's discriminator): the sample {@code x} is noised to a level
 * {@code s} with noise {@code eps} ({@code x_s = (1 - s) x + s eps}, both drawn per call by {@link #randomize}), fed
 * with the conditioning through the fake score's bindings into a view of its graph over its variables, and the taps
 * (intermediate features, e.g. the middle block's image tokens) are folded into grids. The fake score's parameters
 * are read, never trained, here: its variables are shared, so the features follow every update of the fake score
 * (its own flow-matching step and the IDA blend towards the generator).
 */
final class FakeScoreFeatures implements FeatureSource {
    private final TfModule fakeScore;
    private final List<Tap> taps;
    private final List<String> tapValues;
    private final TimestepSampler levels;
    private final List<String> inputs = new ArrayList<>();
    private final Map<String, ValueInfo> graphInputs = new LinkedHashMap<>();
    private final int patchH;
    private final int patchW;

    private final int[] tokenGrid;

    FakeScoreFeatures(TfModule fakeScore, List<Tap> taps, TimestepSampler levels, int[] tokenGrid) {
        this.tokenGrid = tokenGrid == null ? null : tokenGrid.clone();
        if (taps.isEmpty()) {
            throw InvalidRequestException.of("fake-score discriminator taps", "at least one tap (one head per tap)",
                    "none");
        }
        this.fakeScore = fakeScore;
        this.taps = List.copyOf(taps);
        this.levels = levels;
        String image = fakeScore.bindings().stream().filter(b -> b.moduleInput().equals(ModuleInputs.X))
                .map(InputBinding::graphInput).findFirst().orElse(null);
        BackboneStructure structure = BackboneStructure.of(fakeScore.model(), image);
        this.tapValues = structure.resolveAll(taps);
        this.patchH = structure.patchSize().map(BackboneStructure.PatchSize::height).orElse(0);
        this.patchW = structure.patchSize().map(BackboneStructure.PatchSize::width).orElse(0);
        Map<String, ValueInfo> declared = new LinkedHashMap<>();
        for (ValueInfo v : fakeScore.model().graph().inputs()) {
            declared.put(v.name(), v);
        }
        boolean hasX = false;
        boolean hasSigma = false;
        inputs.add(ModuleInputs.X);
        inputs.add(ModuleInputs.SIGMA);
        inputs.add(Discriminator.NOISE);
        for (InputBinding b : fakeScore.bindings()) {
            hasX |= b.moduleInput().equals(ModuleInputs.X);
            hasSigma |= b.moduleInput().equals(ModuleInputs.SIGMA);
            graphInputs.put(b.moduleInput(), declared.get(b.graphInput()));
            if (!inputs.contains(b.moduleInput())) {
                inputs.add(b.moduleInput());
            }
        }
        if (hasX && !hasSigma && fakeScore.bindings().stream().anyMatch(b -> b.moduleInput().equals(ModuleInputs.TIMESTEP))) {
            throw InvalidRequestException.of("fake-score discriminator: module " + fakeScore.name(), "a flow-convention"
                    + " denoiser bound to 'sigma' (the features are read at x_s = (1 - s) x + s eps)", "a DDPM epsilon"
                    + " model bound to 'timestep' (an SDXL UNet); its block feature maps resolve (BackboneStructure.of(model,"
                    + " \"sample\")), but noising it needs the epsilon-to-flow input scaling inside the view, which this"
                    + " discriminator does not do: use the vfm kind for such models");
        }
        if (!hasX || !hasSigma) {
            throw InvalidRequestException.of("fake-score discriminator: module " + fakeScore.name() + " bindings",
                    "inputs 'x' and 'sigma' (a flow-convention denoiser)",
                    fakeScore.bindings().stream().map(InputBinding::moduleInput).toList());
        }
    }

    @Override
    public List<String> inputs() {
        return inputs;
    }

    /** @return the declared graph input behind a module input of the fake score, or null */
    ValueInfo graphInput(String moduleInput) {
        return graphInputs.get(moduleInput);
    }

    @Override
    public int[] shapeFor(String in, int[] x) {
        if (in.equals(ModuleInputs.SIGMA)) {
            return new int[] {x[0]};
        }
        if (in.equals(Discriminator.NOISE)) {
            return x.clone();
        }
        ValueInfo info = graphInputs.get(in);
        if (info == null || info.shape() == null) {
            return null;
        }
        int[] s = new int[info.shape().size()];
        for (int i = 0; i < s.length; i++) {
            Dim d = info.shape().get(i);
            if (i == 0) {
                s[i] = x[0];
            } else if (d instanceof Dim.Fixed f) {
                s[i] = (int) f.value();
            } else {
                return null;
            }
        }
        return s;
    }

    @Override
    public List<String> tapValues() {
        return tapValues;
    }

    @Override
    public ModuleInputs randomize(ModuleInputs in, RandomStream rng) {
        Tensor x = in.x();
        int batch = x.batch();
        double[] s = levels.sample(batch, rng);
        float[] sf = new float[batch];
        for (int b = 0; b < batch; b++) {
            sf[b] = (float) s[b];
        }
        float[] eps = new float[x.size()];
        for (int i = 0; i < eps.length; i++) {
            eps[i] = (float) rng.nextGaussian();
        }
        return in.with(ModuleInputs.SIGMA, Tensor.of(sf, batch)).with(Discriminator.NOISE, Tensor.wrap(eps, x.shape()));
    }

    @Override
    public String describe() {
        return "fake score '" + fakeScore.name() + "' features, taps " + tapValues;
    }

    @Override
    public List<Output<?>> build(GraphOps scope, Map<String, Output<?>> in) {
        Output<?> x = in.get(ModuleInputs.X);
        long[] xs = FeatureSource.staticShape(x, "discriminator input x");
        GraphOps g = scope.scoped("noise");
        long[] bshape = new long[xs.length];
        java.util.Arrays.fill(bshape, 1);
        bshape[0] = xs[0];
        Output<?> s = g.reshape(in.get(ModuleInputs.SIGMA), bshape);
        Output<?> noised = g.binary("AddV2", g.binary("Mul", g.binary("Sub", g.scalar(1f), s), x),
                g.binary("Mul", s, in.get(Discriminator.NOISE)));
        Map<String, Output<?>> feeds = new LinkedHashMap<>();
        for (InputBinding b : fakeScore.bindings()) {
            String k = b.moduleInput();
            feeds.put(k, k.equals(ModuleInputs.X) ? noised : in.get(k));
        }
        ImportedGraph view = fakeScore.importView(scope.scoped("fake_score"), feeds, tapValues);
        if (xs.length == 4 && patchH > 0 && (xs[2] % patchH != 0 || xs[3] % patchW != 0)) {
            throw InvalidRequestException.of("discriminator input x " + java.util.Arrays.toString(xs), "a size that is a"
                    + " multiple of the fake score's patch size " + patchH + "x" + patchW, xs[2] + "x" + xs[3]);
        }
        long gh = xs.length == 4 && patchH > 0 ? xs[2] / patchH : 0;
        long gw = xs.length == 4 && patchW > 0 ? xs[3] / patchW : 0;
        if (xs.length == 3) { // packed tokens (FLUX): the grid is not in the shape
            if (tokenGrid == null) {
                throw InvalidRequestException.of("fake-score discriminator on token input x "
                        + java.util.Arrays.toString(xs), "the token grid (Discriminator.Builder.tokenGrid(rows, columns);"
                        + " FLUX packs 2 x 2 latent cells per token: latent height / 2 by latent width / 2)", "none");
            }
            if ((long) tokenGrid[0] * tokenGrid[1] != xs[1]) {
                throw InvalidRequestException.of("token grid " + tokenGrid[0] + "x" + tokenGrid[1], "rows x columns = the"
                        + " " + xs[1] + " tokens of x " + java.util.Arrays.toString(xs), (long) tokenGrid[0] * tokenGrid[1]);
            }
            gh = tokenGrid[0];
            gw = tokenGrid[1];
        }
        List<Output<?>> grids = new ArrayList<>();
        GraphOps t = scope.scoped("taps");
        for (int i = 0; i < tapValues.size(); i++) {
            grids.add(FeatureSource.toGrid(t, view.output(tapValues.get(i)), gh, gw, -1, Backbone.ClsToken.DROP,
                    "fake-score " + taps.get(i) + " ('" + tapValues.get(i) + "')"));
        }
        return grids;
    }
}
