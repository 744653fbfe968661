package io.senseflow.examples.shapes;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.examples.shapes.eval.Adherence;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.examples.shapes.eval.ClassifierAccuracy;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import org.junit.jupiter.api.Test;

/** The bundled evaluation classifier loads from the classpath and judges exact renders it never saw. */
class BundledClassifierTest {

    @Test
    void judgesFreshRendersOfSeenAndHeldOutCombinations() {
        try (AttributeJudge judge = AttributeJudge.of(ShapesModels.classifier(), 1)) {
            for (ShapesDataset.Split split : new ShapesDataset.Split[] {ShapesDataset.Split.TRAIN,
                ShapesDataset.Split.HELD_OUT}) {
                // a seed the classifier was not trained on (it trained on seed 1): new jitter of every kind
                Adherence a = ClassifierAccuracy.measure(judge, split, 500, 31337);
                // measured at bundling: 100 % on 2,000 renders per split
                assertThat(a.all()).as("%s: %s", split, a).isGreaterThanOrEqualTo(0.99);
                assertThat(a.of("shape")).as("%s: %s", split, a).isGreaterThanOrEqualTo(0.99);
            }
        }
        JsonObject p = Json.parseObject(ShapesModels.provenance(ShapesModels.CLASSIFIER));
        assertThat(p.getString("artifact")).isEqualTo("shapes-attribute-classifier");
        assertThat(p.getLong("iterations")).isPositive();
        assertThat(p.getDouble("wall_time_s")).isPositive();
        assertThat(p.has("machine")).isTrue();
        assertThat(p.getObject("metrics").getObject("accuracy_on_renders").getObject("train").getDouble("all"))
                .isGreaterThanOrEqualTo(0.99);
    }
}
