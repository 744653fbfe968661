package io.senseflow.examples.shapes;

import io.senseflow.image.Image;
import io.senseflow.tensor.Tensor;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Map;

/** Tiles images into one PNG-ready grid (nearest-neighbour upscaled, a gap between cells, optional row labels). */
public final class ImageGrid {
    private ImageGrid() {
    }

    /**
     * @param rows rows of images, each {@code [N, 3, H, W]} in [-1, 1] (rows may differ in length)
     * @param labels a label per row (drawn at the left), or null
     * @param scale the upscaling factor
     * @return the grid
     */
    public static Image of(List<Tensor> rows, List<String> labels, int scale) {
        int h = rows.get(0).dim(2);
        int w = rows.get(0).dim(3);
        int cols = rows.stream().mapToInt(Tensor::batch).max().orElse(0);
        int gap = 2;
        int labelWidth = labels == null ? 0 : 8 + 7 * labels.stream().mapToInt(String::length).max().orElse(0);
        int cellW = w * scale + gap;
        int cellH = h * scale + gap;
        BufferedImage out = new BufferedImage(labelWidth + cols * cellW + gap, rows.size() * cellH + gap,
                BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setColor(new Color(128, 128, 128));
            g.fillRect(0, 0, out.getWidth(), out.getHeight());
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            for (int r = 0; r < rows.size(); r++) {
                Tensor row = rows.get(r);
                for (int c = 0; c < row.batch(); c++) {
                    BufferedImage cell = Image.fromTensor(row, c, Map.of()).toBufferedImage();
                    g.drawImage(cell, labelWidth + gap + c * cellW, gap + r * cellH, w * scale, h * scale, null);
                }
                if (labels != null) {
                    g.setColor(Color.WHITE);
                    g.drawString(labels.get(r), 4, gap + r * cellH + cellH / 2 + 4);
                }
            }
        } finally {
            g.dispose();
        }
        return Image.fromBufferedImage(out, Map.of());
    }
}
