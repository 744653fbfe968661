package io.senseflow.examples.shapes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.image.Image;
import io.senseflow.noise.RandomStream;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ShapesDatasetTest {

    @Test
    void everyCombinationRendersAnImageWhoseGeometryMatchesItsCaption() {
        int wrong = 0;
        StringBuilder first = new StringBuilder();
        for (int i = 0; i < ShapeAttributes.combinations(); i++) {
            ShapeAttributes a = ShapeAttributes.fromIndex(i);
            for (long jitter = 0; jitter < 3; jitter++) {
                Image img = ShapesRenderer.render(a, new RandomStream(7, 1, i * 3L + jitter));
                ShapeAttributes read = ShapeGeometry.read(img);
                if (!read.equals(a)) {
                    wrong++;
                    if (first.length() < 400) {
                        first.append(a.caption()).append(" -> ").append(read.caption()).append("; ");
                    }
                }
            }
        }
        assertThat(wrong).as(first.toString()).isZero();
    }

    @Test
    void samplesAreAPureFunctionOfSeedAndIndex() {
        ShapesDataset a = new ShapesDataset(3, ShapesDataset.Split.TRAIN);
        ShapesDataset b = new ShapesDataset(3, ShapesDataset.Split.TRAIN);
        for (long i = 0; i < 20; i++) {
            assertThat(a.image(i).rgb()).isEqualTo(b.image(i).rgb());
            assertThat(a.attributes(i)).isEqualTo(b.attributes(i));
        }
        assertThat(new ShapesDataset(4, ShapesDataset.Split.TRAIN).image(0).rgb()).isNotEqualTo(a.image(0).rgb());
        assertThat(a.image(5).metadata()).containsEntry("caption", a.attributes(5).caption());
    }

    @Test
    void heldOutPairsNeverAppearInTheTrainingSplit() {
        ShapesDataset train = new ShapesDataset(1, ShapesDataset.Split.TRAIN);
        Set<String> pairs = new HashSet<>();
        for (long i = 0; i < 5000; i++) {
            ShapeAttributes a = train.attributes(i);
            assertThat(ShapesDataset.isHeldOut(a)).isFalse();
            pairs.add(a.color().word() + " " + a.shape().word());
        }
        assertThat(pairs).hasSize(32 - ShapesDataset.HELD_OUT_PAIRS.size());
        assertThat(ShapesDataset.combinations(ShapesDataset.Split.HELD_OUT)).hasSize(6 * 2 * 9 * 2)
                .allMatch(ShapesDataset::isHeldOut);
        assertThat(ShapesDataset.combinations(ShapesDataset.Split.ALL)).hasSize(1152);
    }

    @Test
    void captionsFollowTheGrammarAndParseBack() {
        ShapeAttributes a = new ShapeAttributes(ShapeAttributes.Color.RED, ShapeAttributes.Shape.TRIANGLE,
                ShapeAttributes.Size.SMALL, ShapeAttributes.Position.TOP_LEFT, ShapeAttributes.Background.DARK);
        assertThat(a.caption()).isEqualTo("a small red triangle at the top left on a dark background");
        assertThat(ShapeAttributes.parse("A small red triangle at the top left on a dark background")).isEqualTo(a);
        for (int i = 0; i < ShapeAttributes.combinations(); i++) {
            assertThat(ShapeAttributes.parse(ShapeAttributes.fromIndex(i).caption())).isEqualTo(ShapeAttributes.fromIndex(i));
        }
        assertThatThrownBy(() -> ShapeAttributes.parse("a red blob")).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("caption");
    }
}
