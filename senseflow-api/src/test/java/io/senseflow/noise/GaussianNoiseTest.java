package io.senseflow.noise;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.tensor.Tensor;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class GaussianNoiseTest {

    @Test
    void sameCoordinatesGiveTheSameBits() {
        Tensor a = GaussianNoise.sample(42, 0, 0, 3, 4, 5, 5);
        Tensor b = GaussianNoise.sample(42, 0, 0, 3, 4, 5, 5);
        assertThat(a).isEqualTo(b);
        assertThat(GaussianNoise.sample(43, 0, 0, 3, 4, 5, 5)).isNotEqualTo(a);
        assertThat(GaussianNoise.sample(42, 0, 1, 3, 4, 5, 5)).isNotEqualTo(a);
    }

    @Test
    void sampleIOfABatchEqualsABatchOfOneForKeyI() {
        Tensor batch = GaussianNoise.sample(7, 0, 0, 4, 2, 3, 3);
        for (int i = 0; i < 4; i++) {
            assertThat(GaussianNoise.sample(7, i, 0, 1, 2, 3, 3)).isEqualTo(batch.sample(i).copy());
            assertThat(GaussianNoise.sample(new NoiseKey[] {new NoiseKey(7, i)}, 0, 1, 18)).isEqualTo(batch.sample(i).reshape(1, 18));
        }
    }

    @Test
    void resultDoesNotDependOnThreads() {
        Tensor serial = GaussianNoise.sample(11, 0, 5, 16, 1024);
        Tensor[] parallel = IntStream.range(0, 16).parallel()
                .mapToObj(i -> GaussianNoise.sample(11, i, 5, 1, 1024)).toArray(Tensor[]::new);
        assertThat(Tensor.concatBatch(parallel)).isEqualTo(serial);
    }

    @Test
    void valuesAreStandardNormal() {
        Tensor t = GaussianNoise.sample(123, 0, 0, 1, 400_000);
        float[] v = t.toArray();
        double mean = t.mean();
        double var = t.sumOfSquares() / v.length - mean * mean;
        double m3 = 0;
        double m4 = 0;
        int beyond2 = 0;
        for (float x : v) {
            m3 += x * x * x;
            m4 += (double) x * x * x * x;
            if (Math.abs(x) > 2) {
                beyond2++;
            }
        }
        assertThat(mean).isCloseTo(0, within(0.005));
        assertThat(var).isCloseTo(1, within(0.01));
        assertThat(m3 / v.length).isCloseTo(0, within(0.03));
        assertThat(m4 / v.length).isCloseTo(3, within(0.05));
        assertThat(beyond2 / (double) v.length).isCloseTo(0.0455, within(0.002));
        // adjacent elements are uncorrelated (they come from the same Philox block)
        double c = 0;
        for (int i = 0; i + 1 < v.length; i += 2) {
            c += v[i] * v[i + 1];
        }
        assertThat(c / (v.length / 2.0)).isCloseTo(0, within(0.01));
    }

    @Test
    void uniformsAreInTheOpenUnitInterval() {
        RandomStream r = new RandomStream(1, 2, 3);
        double sum = 0;
        for (int i = 0; i < 100_000; i++) {
            double u = r.nextUniform();
            assertThat(u).isGreaterThan(0).isLessThan(1);
            sum += u;
        }
        assertThat(sum / 100_000).isCloseTo(0.5, within(0.005));
        assertThat(r.position()).isEqualTo(100_000);
    }

    @Test
    void aLargeBatchDrawnInParallelChunksEqualsTheSerialFillBitForBit() {
        // sizes around the parallel threshold and the chunk size, not multiples of 4 or of the chunk
        for (int[] shape : new int[][] {{8, 4, 16, 16}, {3, 5, 37, 29}, {1, 16, 50, 41}, {2, 4097}, {5, 1, 1, 7}}) {
            NoiseKey[] keys = new NoiseKey[shape[0]];
            for (int b = 0; b < keys.length; b++) {
                keys[b] = new NoiseKey(900 + b * 7L, 3 + b);
            }
            Tensor batch = GaussianNoise.sample(keys, 2, shape);
            int per = batch.size() / shape[0];
            float[] all = batch.toArray();
            for (int b = 0; b < keys.length; b++) {
                float[] serial = new float[per];
                GaussianNoise.fill(keys[b].seed(), keys[b].sample(), 2, serial, 0, per);
                float[] got = java.util.Arrays.copyOfRange(all, b * per, (b + 1) * per);
                assertThat(got).as("shape %s sample %d", java.util.Arrays.toString(shape), b).containsExactly(serial);
            }
        }
    }
}
