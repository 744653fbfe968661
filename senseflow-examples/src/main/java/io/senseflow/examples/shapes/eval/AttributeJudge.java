package io.senseflow.examples.shapes.eval;

import io.senseflow.examples.shapes.AttributeClassifier;
import io.senseflow.examples.shapes.ShapeAttributes;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.runtime.OrtInputs;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The trained {@link AttributeClassifier} in ONNX Runtime, as the evaluation's judge: predicted attributes and
 * penultimate features of images. Owns its runtime and session. Never a training signal.
 */
public final class AttributeJudge implements AutoCloseable {
    private static final int CHUNK = 256;
    private final OrtRuntime ort;
    private final OrtModel model;

    private AttributeJudge(OnnxModel classifier, int threads) {
        AttributeClassifier.requireClassifier(classifier);
        this.ort = OrtRuntime.create(SessionConfig.builder().intraOpThreads(threads).build());
        try {
            this.model = ort.load(classifier, "classifier", ort.defaultConfig());
        } catch (RuntimeException e) {
            ort.close();
            throw e;
        }
    }

    /**
     * @param classifier a trained classifier graph
     * @param threads ONNX Runtime intra-op threads (0: its choice)
     * @return the judge
     */
    public static AttributeJudge of(OnnxModel classifier, int threads) {
        return new AttributeJudge(classifier, threads);
    }

    /**
     * Logits and features of a batch of images.
     *
     * @param logits {@code [B, 25]}
     * @param features {@code [B, 128]}
     */
    public record Judgement(Tensor logits, Tensor features) {
        /** @return the predicted attributes per image */
        public List<ShapeAttributes> predictions() {
            List<ShapeAttributes> out = new ArrayList<>(logits.batch());
            for (int i = 0; i < logits.batch(); i++) {
                out.add(AttributeClassifier.decode(logits, i));
            }
            return out;
        }

        /** @return the features as rows of doubles, for Fréchet statistics */
        public double[][] featureRows() {
            int n = features.batch();
            int d = features.sampleSize();
            float[] f = features.toArray();
            double[][] rows = new double[n][d];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < d; j++) {
                    rows[i][j] = f[i * d + j];
                }
            }
            return rows;
        }
    }

    /** @param images {@code [B, 3, 32, 32]} in [-1, 1] @return logits and features */
    public Judgement judge(Tensor images) {
        List<Tensor> logits = new ArrayList<>();
        List<Tensor> features = new ArrayList<>();
        for (int i = 0; i < images.batch(); i += CHUNK) {
            Tensor part = images.sliceBatch(i, Math.min(images.batch(), i + CHUNK));
            Map<String, Tensor> out = model.run(OrtInputs.of(Map.of(AttributeClassifier.INPUT, part)),
                    List.of(AttributeClassifier.LOGITS, AttributeClassifier.FEATURES));
            logits.add(out.get(AttributeClassifier.LOGITS));
            features.add(out.get(AttributeClassifier.FEATURES));
        }
        return new Judgement(Tensor.concatBatch(logits), Tensor.concatBatch(features));
    }

    @Override
    public void close() {
        ort.close();
    }
}
