package io.senseflow.onnx.runtime;

import io.senseflow.tensor.Tensor;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Random;

/** Shared test helpers: fixture paths, one-thread session settings, random tensors, comparisons. */
final class Fixtures {
    /** One thread each way keeps the tests light on a shared machine. */
    static final SessionConfig CPU1 = SessionConfig.builder().intraOpThreads(1).interOpThreads(1).build();

    private Fixtures() {
    }

    static Path torchExport(String name) {
        try {
            return Path.of(Fixtures.class.getResource("/fixtures/torch-exports/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Tensor random(long seed, int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return Tensor.wrap(v, shape);
    }

    static float maxAbsDiff(Tensor a, Tensor b) {
        if (!a.sameShape(b)) {
            throw new AssertionError("shapes differ: " + java.util.Arrays.toString(a.shape()) + " vs "
                    + java.util.Arrays.toString(b.shape()));
        }
        return a.sub(b).maxAbs();
    }
}
