package io.senseflow.examples.shapes;

import io.senseflow.image.Image;

/**
 * Reads the attributes back from a rendered Shapes image by exact geometry — no learning: background from the
 * corners, colour from the most covered pixels, position from the coverage centroid, shape and size by matching
 * noise-free renderings of every shape and size placed at that centroid. Used to check that captions and images agree; it is not the evaluation classifier.
 */
public final class ShapeGeometry {
    private ShapeGeometry() {
    }

    /**
     * @param img a Shapes image
     * @return the attributes it shows
     */
    public static ShapeAttributes read(Image img) {
        return read(img, null);
    }

    static ShapeAttributes read(Image img, double[] features) {
        int w = img.width();
        int h = img.height();
        // background: the mean of the four corners
        int[] corners = {img.rgbAt(0, 0), img.rgbAt(w - 1, 0), img.rgbAt(0, h - 1), img.rgbAt(w - 1, h - 1)};
        double bgLum = 0;
        for (int c : corners) {
            bgLum += luminance(c) / 4;
        }
        ShapeAttributes.Background bg = bgLum < 128 ? ShapeAttributes.Background.DARK : ShapeAttributes.Background.LIGHT;
        int bgRgb = bg.rgb();
        // the shape's colour: the pixel farthest from the background, averaged over pixels nearly as far
        double far = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                far = Math.max(far, distance(img.rgbAt(x, y), bgRgb));
            }
        }
        double[] sum = new double[3];
        int n = 0;
        double[] cover = new double[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = img.rgbAt(x, y);
                double d = distance(p, bgRgb);
                cover[y * w + x] = Math.min(1, d / far);
                if (d >= 0.9 * far) {
                    sum[0] += (p >> 16) & 0xff;
                    sum[1] += (p >> 8) & 0xff;
                    sum[2] += p & 0xff;
                    n++;
                }
            }
        }
        int mean = ((int) (sum[0] / n) << 16) | ((int) (sum[1] / n) << 8) | (int) (sum[2] / n);
        ShapeAttributes.Color color = ShapeAttributes.Color.RED;
        double best = Double.MAX_VALUE;
        for (ShapeAttributes.Color c : ShapeAttributes.Color.values()) {
            double d = distance(mean, c.rgb());
            if (d < best) {
                best = d;
                color = c;
            }
        }
        // area and centroid (coverage-weighted)
        double area = 0;
        double cx = 0;
        double cy = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double c = cover[y * w + x];
                area += c;
                cx += c * (x + 0.5);
                cy += c * (y + 0.5);
            }
        }
        cx /= area;
        cy /= area;
        ShapeAttributes.Position pos = ShapeAttributes.Position.of(cell(cy, h), cell(cx, w));
        // shape and size: match against noise-free renderings of every shape and size placed at the same centroid
        ShapeAttributes.Shape shape = ShapeAttributes.Shape.CIRCLE;
        ShapeAttributes.Size size = ShapeAttributes.Size.SMALL;
        double bestErr = Double.MAX_VALUE;
        for (ShapeAttributes.Shape s : ShapeAttributes.Shape.values()) {
            for (ShapeAttributes.Size z : ShapeAttributes.Size.values()) {
                double[] off = Templates.centroidOffset(s, z);
                float[] t = ShapesRenderer.coverage(s, z, cx - off[0], cy - off[1]);
                double err = 0;
                for (int i = 0; i < t.length; i++) {
                    err += Math.abs(t[i] - cover[i]);
                }
                if (err < bestErr) {
                    bestErr = err;
                    shape = s;
                    size = z;
                }
            }
        }
        if (features != null) {
            features[0] = bestErr;
            features[1] = area;
        }
        return new ShapeAttributes(color, shape, size, pos, bg);
    }

    private static int cell(double coordinate, int side) {
        return Math.min(2, Math.max(0, (int) Math.floor(coordinate / (side / 3.0))));
    }

    private static double luminance(int rgb) {
        return 0.299 * ((rgb >> 16) & 0xff) + 0.587 * ((rgb >> 8) & 0xff) + 0.114 * (rgb & 0xff);
    }

    private static double distance(int a, int b) {
        double dr = ((a >> 16) & 0xff) - ((b >> 16) & 0xff);
        double dg = ((a >> 8) & 0xff) - ((b >> 8) & 0xff);
        double db = (a & 0xff) - (b & 0xff);
        return Math.sqrt(dr * dr + dg * dg + db * db);
    }

    /** Where each noise-free shape's coverage centroid lies relative to its drawing origin. */
    private static final class Templates {
        private static final double[][] OFFSETS = new double[8][];

        static synchronized double[] centroidOffset(ShapeAttributes.Shape s, ShapeAttributes.Size z) {
            int k = s.ordinal() * 2 + z.ordinal();
            if (OFFSETS[k] == null) {
                double o = ShapesRenderer.SIZE / 2.0;
                float[] c = ShapesRenderer.coverage(s, z, o, o);
                double sum = 0;
                double sx = 0;
                double sy = 0;
                for (int i = 0; i < c.length; i++) {
                    sum += c[i];
                    sx += c[i] * (i % ShapesRenderer.SIZE + 0.5);
                    sy += c[i] * (i / ShapesRenderer.SIZE + 0.5);
                }
                OFFSETS[k] = new double[] {sx / sum - o, sy / sum - o};
            }
            return OFFSETS[k];
        }
    }
}
