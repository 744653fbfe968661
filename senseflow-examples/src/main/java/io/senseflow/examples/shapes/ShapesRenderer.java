package io.senseflow.examples.shapes;

import io.senseflow.image.Image;
import io.senseflow.noise.RandomStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.util.Map;

/**
 * Draws one Shapes image with Java2D (headless, anti-aliased). The shape is centred in its 3x3 grid cell with a
 * small seeded jitter of position, size and colour, so images of one caption differ but stay unambiguous.
 */
public final class ShapesRenderer {
    /** Image side in pixels. */
    public static final int SIZE = 32;
    private static final double CELL = SIZE / 3.0;

    private ShapesRenderer() {
    }

    /**
     * @param a the attributes
     * @param rng jitter source
     * @return the image (metadata: the caption)
     */
    public static Image render(ShapeAttributes a, RandomStream rng) {
        BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
            g.setColor(new java.awt.Color(a.background().rgb()));
            g.fillRect(0, 0, SIZE, SIZE);
            double half = nominalHalf(a.size()) * (1 + 0.08 * (rng.nextUniform() - 0.5));
            double cx = (a.position().column() + 0.5) * CELL + 0.8 * (rng.nextUniform() - 0.5);
            double cy = (a.position().row() + 0.5) * CELL + 0.8 * (rng.nextUniform() - 0.5);
            g.setColor(jitter(a.color().rgb(), rng));
            java.awt.Shape s = outline(a.shape(), half);
            g.fill(AffineTransform.getTranslateInstance(cx, cy).createTransformedShape(s));
        } finally {
            g.dispose();
        }
        return Image.fromBufferedImage(img, Map.of("caption", a.caption()));
    }

    /** @param size a size @return the nominal half-extent in pixels */
    static double nominalHalf(ShapeAttributes.Size size) {
        return size == ShapeAttributes.Size.SMALL ? 3.0 : 4.6;
    }

    /**
     * The anti-aliased coverage (0..1) of a shape drawn with its origin at {@code (ox, oy)}, no jitter.
     *
     * @param shape the shape
     * @param size the size
     * @param ox origin x
     * @param oy origin y
     * @return coverage per pixel, row-major
     */
    static float[] coverage(ShapeAttributes.Shape shape, ShapeAttributes.Size size, double ox, double oy) {
        BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_BYTE_GRAY);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
            g.setColor(java.awt.Color.WHITE);
            g.fill(AffineTransform.getTranslateInstance(ox, oy).createTransformedShape(outline(shape, nominalHalf(size))));
        } finally {
            g.dispose();
        }
        float[] c = new float[SIZE * SIZE];
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                c[y * SIZE + x] = (img.getRaster().getSample(x, y, 0)) / 255f;
            }
        }
        return c;
    }

    private static java.awt.Shape outline(ShapeAttributes.Shape shape, double half) {
        switch (shape) {
            case CIRCLE:
                return new Ellipse2D.Double(-half, -half, 2 * half, 2 * half);
            case SQUARE: {
                double h = half * 0.9; // equal area impression with the circle
                return new Rectangle2D.Double(-h, -h, 2 * h, 2 * h);
            }
            case TRIANGLE: {
                Path2D.Double p = new Path2D.Double();
                p.moveTo(0, -half * 1.1);
                p.lineTo(half * 1.1, half * 0.9);
                p.lineTo(-half * 1.1, half * 0.9);
                p.closePath();
                return p;
            }
            case DIAMOND: {
                Path2D.Double p = new Path2D.Double();
                double h = half * 1.15;
                p.moveTo(0, -h);
                p.lineTo(h, 0);
                p.lineTo(0, h);
                p.lineTo(-h, 0);
                p.closePath();
                return p;
            }
            default:
                throw new AssertionError(shape);
        }
    }

    private static java.awt.Color jitter(int rgb, RandomStream rng) {
        int r = clamp(((rgb >> 16) & 0xff) + (int) Math.round(16 * (rng.nextUniform() - 0.5)));
        int g = clamp(((rgb >> 8) & 0xff) + (int) Math.round(16 * (rng.nextUniform() - 0.5)));
        int b = clamp((rgb & 0xff) + (int) Math.round(16 * (rng.nextUniform() - 0.5)));
        return new java.awt.Color(r, g, b);
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }
}
