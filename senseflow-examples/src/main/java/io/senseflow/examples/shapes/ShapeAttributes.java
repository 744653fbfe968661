package io.senseflow.examples.shapes;

import io.senseflow.InvalidRequestException;
import java.util.Locale;

/**
 * The attributes of one Shapes image, and the caption grammar: "a small red triangle at the top left on a dark
 * background" (the centre cell reads "in the center").
 *
 * @param color the shape's colour
 * @param shape the shape
 * @param size small or large
 * @param position the cell of a 3x3 grid
 * @param background dark or light
 */
public record ShapeAttributes(Color color, Shape shape, Size size, Position position, Background background) {

    /** Eight colours that stand out on both backgrounds. */
    public enum Color {
        RED(220, 40, 40), GREEN(40, 180, 60), BLUE(50, 90, 230), YELLOW(235, 215, 40),
        PURPLE(150, 60, 200), ORANGE(245, 140, 30), CYAN(40, 200, 210), PINK(240, 110, 180);

        private final int r;
        private final int g;
        private final int b;

        Color(int r, int g, int b) {
            this.r = r;
            this.g = g;
            this.b = b;
        }

        /** @return 0xRRGGBB */
        public int rgb() {
            return (r << 16) | (g << 8) | b;
        }

        /** @return the caption word */
        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Four shapes. */
    public enum Shape {
        CIRCLE, SQUARE, TRIANGLE, DIAMOND;

        /** @return the caption word */
        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Two sizes. */
    public enum Size {
        SMALL, LARGE;

        /** @return the caption word */
        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The cells of a 3x3 grid, row-major. */
    public enum Position {
        TOP_LEFT("at the top left"), TOP("at the top"), TOP_RIGHT("at the top right"),
        LEFT("on the left"), CENTER("in the center"), RIGHT("on the right"),
        BOTTOM_LEFT("at the bottom left"), BOTTOM("at the bottom"), BOTTOM_RIGHT("at the bottom right");

        private final String phrase;

        Position(String phrase) {
            this.phrase = phrase;
        }

        /** @return the caption phrase */
        public String phrase() {
            return phrase;
        }

        /** @return grid row 0..2 */
        public int row() {
            return ordinal() / 3;
        }

        /** @return grid column 0..2 */
        public int column() {
            return ordinal() % 3;
        }

        /** @param row 0..2 @param column 0..2 @return the cell */
        public static Position of(int row, int column) {
            return values()[row * 3 + column];
        }
    }

    /** Two backgrounds. */
    public enum Background {
        DARK(0x141414), LIGHT(0xEBEBEB);

        private final int rgb;

        Background(int rgb) {
            this.rgb = rgb;
        }

        /** @return 0xRRGGBB */
        public int rgb() {
            return rgb;
        }

        /** @return the caption word */
        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** @return the caption */
    public String caption() {
        return "a " + size.word() + " " + color.word() + " " + shape.word() + " " + position.phrase() + " on a "
                + background.word() + " background";
    }

    /** @return the number of distinct attribute combinations */
    public static int combinations() {
        return Color.values().length * Shape.values().length * Size.values().length * Position.values().length
                * Background.values().length;
    }

    /**
     * @param index 0..combinations()-1
     * @return the combination with that index (colour-major)
     */
    public static ShapeAttributes fromIndex(int index) {
        if (index < 0 || index >= combinations()) {
            throw InvalidRequestException.of("combination index", "in [0, " + combinations() + ")", index);
        }
        int i = index;
        Background bg = Background.values()[i % 2];
        i /= 2;
        Position pos = Position.values()[i % 9];
        i /= 9;
        Size size = Size.values()[i % 2];
        i /= 2;
        Shape shape = Shape.values()[i % 4];
        i /= 4;
        return new ShapeAttributes(Color.values()[i], shape, size, pos, bg);
    }

    /**
     * Parses a caption of this grammar.
     *
     * @param caption the caption
     * @return its attributes
     * @throws InvalidRequestException if the caption is not of the grammar
     */
    public static ShapeAttributes parse(String caption) {
        ShapeAttributes a = Captions.BY_CAPTION.get(caption.trim().toLowerCase(Locale.ROOT));
        if (a != null) {
            return a;
        }
        throw InvalidRequestException.of("caption", "\"a <size> <color> <shape> <position> on a <dark|light> background\"",
                "\"" + caption + "\"");
    }

    /** Lazily built caption index. */
    private static final class Captions {
        static final java.util.Map<String, ShapeAttributes> BY_CAPTION = new java.util.HashMap<>();

        static {
            for (int i = 0; i < combinations(); i++) {
                ShapeAttributes a = fromIndex(i);
                BY_CAPTION.put(a.caption(), a);
            }
        }
    }
}
