package io.senseflow.examples.shapes;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.onnx.runtime.OrtInputs;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClassifierTrainingTest {

    @Test
    void shortTrainingLowersTheLossAndTheExportRunsInOnnxRuntime() {
        ClassifierTraining.Result r = ClassifierTraining.train(new ClassifierTraining.Settings(80, 16, 3e-3, 1), s -> { });
        List<Double> l = r.losses();
        double first = (l.get(0) + l.get(1) + l.get(2)) / 3;
        double last = (l.get(l.size() - 1) + l.get(l.size() - 2) + l.get(l.size() - 3)) / 3;
        assertThat(last).as("loss %s -> %s", first, last).isLessThan(0.85 * first);
        ShapesDataset data = new ShapesDataset(99, ShapesDataset.Split.ALL);
        ClassifierTraining.Batch b = ClassifierTraining.batch(data, 0, 4);
        try (OrtRuntime ort = OrtRuntime.create();
             OrtModel m = ort.load(r.model(), "classifier", io.senseflow.onnx.runtime.SessionConfig.defaults())) {
            Tensor logits = m.runSingle(OrtInputs.of(java.util.Map.of(AttributeClassifier.INPUT, b.images())), AttributeClassifier.LOGITS);
            assertThat(logits.shape()).containsExactly(4, 25);
            assertThat(logits.isFinite()).isTrue();
            Tensor features = m.runSingle(OrtInputs.of(java.util.Map.of(AttributeClassifier.INPUT, b.images())), AttributeClassifier.FEATURES);
            assertThat(features.shape()).containsExactly(4, AttributeClassifier.FEATURE_WIDTH);
        }
    }

    @Test
    void crossEntropyGradientMatchesFiniteDifferences() {
        Tensor logits = io.senseflow.noise.GaussianNoise.sample(3, 0, 0, 2, 25);
        int[][] labels = {{1, 2, 0, 5, 1}, {7, 3, 1, 0, 0}};
        Tensor[] ce = AttributeClassifier.crossEntropy(logits, labels);
        float[] z = logits.toArray();
        for (int i = 0; i < z.length; i += 3) {
            float orig = z[i];
            z[i] = orig + 1e-2f;
            double up = AttributeClassifier.crossEntropy(Tensor.of(z, 2, 25), labels)[0].get(0);
            z[i] = orig - 1e-2f;
            double down = AttributeClassifier.crossEntropy(Tensor.of(z, 2, 25), labels)[0].get(0);
            z[i] = orig;
            assertThat(ce[1].get(i)).isCloseTo((float) ((up - down) / 2e-2), org.assertj.core.api.Assertions.within(2e-3f));
        }
        assertThat(AttributeClassifier.decode(logits, 0)).isNotNull();
    }
}
