package io.senseflow.examples.shapes.eval;

import io.senseflow.examples.shapes.ClassifierTraining;
import io.senseflow.examples.shapes.ShapesDataset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The judge's accuracy on exact renders, per split: the ceiling of every adherence figure it reports. */
public final class ClassifierAccuracy {
    private ClassifierAccuracy() {
    }

    /**
     * @param judge the classifier
     * @param count images per split
     * @param seed data seed (not the training seed)
     * @return {@code train} and {@code held_out} adherence maps ({@link Adherence#toMap()})
     */
    public static Map<String, Object> onRenders(AttributeJudge judge, int count, long seed) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (ShapesDataset.Split split : List.of(ShapesDataset.Split.TRAIN, ShapesDataset.Split.HELD_OUT)) {
            out.put(split == ShapesDataset.Split.TRAIN ? "train" : "held_out", measure(judge, split, count, seed).toMap());
        }
        return out;
    }

    /**
     * @param judge the classifier
     * @param split which combinations
     * @param count images
     * @param seed data seed
     * @return the accuracy as an adherence record (renders judged against their own captions)
     */
    public static Adherence measure(AttributeJudge judge, ShapesDataset.Split split, int count, long seed) {
        Adherence a = new Adherence();
        ShapesDataset data = new ShapesDataset(seed, split);
        for (int first = 0; first < count; first += 256) {
            ClassifierTraining.Batch b = ClassifierTraining.batch(data, first, Math.min(256, count - first));
            a.add(b.attributes(), judge.judge(b.images()).predictions());
        }
        return a;
    }
}
