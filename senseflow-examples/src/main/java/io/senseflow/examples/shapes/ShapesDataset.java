package io.senseflow.examples.shapes;

import io.senseflow.image.Image;
import io.senseflow.noise.RandomStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The Shapes task: 32x32 RGB images of one coloured shape, with captions from a small grammar (8 colours x 4 shapes
 * x 2 sizes x 9 positions x 2 backgrounds = 1,152 combinations). Sample {@code i} of seed {@code s} is a pure
 * function of {@code (s, i)}.
 *
 * <p>A fixed set of colour-shape pairs is <b>held out</b>: it never appears in the training split (for teacher
 * training or distillation data) and is used to measure compositional generalisation.
 */
public final class ShapesDataset {
    /** The held-out colour-shape pairs; every colour and every shape still appears with other partners in training. */
    public static final Set<String> HELD_OUT_PAIRS = Set.of("red triangle", "blue circle", "green diamond",
            "yellow square", "purple triangle", "cyan square");

    /** Which combinations a split contains. */
    public enum Split {
        /** Every combination except the held-out colour-shape pairs. */
        TRAIN,
        /** Only the held-out colour-shape pairs. */
        HELD_OUT,
        /** Everything. */
        ALL
    }

    private final long seed;
    private final Split split;
    private final List<ShapeAttributes> combos;

    /**
     * @param seed the dataset seed
     * @param split which combinations to draw from
     */
    public ShapesDataset(long seed, Split split) {
        this.seed = seed;
        this.split = split;
        this.combos = combinations(split);
    }

    /** @param a attributes @return whether their colour-shape pair is held out */
    public static boolean isHeldOut(ShapeAttributes a) {
        return HELD_OUT_PAIRS.contains(a.color().word() + " " + a.shape().word());
    }

    /** @param split a split @return its combinations in a fixed order */
    public static List<ShapeAttributes> combinations(Split split) {
        List<ShapeAttributes> out = new ArrayList<>();
        for (int i = 0; i < ShapeAttributes.combinations(); i++) {
            ShapeAttributes a = ShapeAttributes.fromIndex(i);
            boolean held = isHeldOut(a);
            if (split == Split.ALL || (split == Split.HELD_OUT) == held) {
                out.add(a);
            }
        }
        return out;
    }

    /** @return the split */
    public Split split() {
        return split;
    }

    /** @return the combinations this dataset draws from */
    public List<ShapeAttributes> combinations() {
        return combos;
    }

    /** @param index sample index @return the attributes of sample {@code index} (uniform over the split) */
    public ShapeAttributes attributes(long index) {
        RandomStream rng = new RandomStream(seed, 0x5348, index);
        return combos.get(rng.nextInt(combos.size()));
    }

    /** @param index sample index @return the image of sample {@code index} (its caption in the metadata) */
    public Image image(long index) {
        return ShapesRenderer.render(attributes(index), new RandomStream(seed, 0x5349, index));
    }
}
