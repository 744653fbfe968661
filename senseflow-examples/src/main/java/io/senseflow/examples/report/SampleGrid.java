package io.senseflow.examples.report;

import io.senseflow.InvalidRequestException;
import io.senseflow.image.Image;
import io.senseflow.tensor.Tensor;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A labelled comparison grid: one row per sampler (its label at the left), one column per prompt (its caption, wrapped,
 * above), images upscaled with nearest neighbours so the pixels stay visible. Same prompt and seed down a column.
 */
public final class SampleGrid {
    private static final int GAP = 4;
    private static final Font LABEL = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final Font HEADER = new Font(Font.SANS_SERIF, Font.PLAIN, 10);

    private SampleGrid() {
    }

    /**
     * @param rows one tensor {@code [N, 3, H, W]} in [-1, 1] per row, all with the same N
     * @param rowLabels one label per row
     * @param columnLabels one caption per column
     * @param scale the upscaling factor
     * @param title a title above the grid, or null
     * @return the grid image
     */
    public static Image of(List<Tensor> rows, List<String> rowLabels, List<String> columnLabels, int scale, String title) {
        if (rows.isEmpty() || rows.size() != rowLabels.size()) {
            throw InvalidRequestException.of("grid rows", rowLabels.size() + " image rows", rows.size());
        }
        int cols = rows.get(0).batch();
        for (Tensor r : rows) {
            if (r.batch() != cols) {
                throw InvalidRequestException.of("grid row", cols + " images", r.batch());
            }
        }
        if (columnLabels.size() != cols) {
            throw InvalidRequestException.of("grid column labels", cols + " captions", columnLabels.size());
        }
        int cellW = rows.get(0).dim(3) * scale;
        int cellH = rows.get(0).dim(2) * scale;
        BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D pg = probe.createGraphics();
        FontMetrics lm = pg.getFontMetrics(LABEL);
        FontMetrics hm = pg.getFontMetrics(HEADER);
        pg.dispose();
        int labelW = GAP * 2 + rowLabels.stream().mapToInt(lm::stringWidth).max().orElse(0);
        List<List<String>> wrapped = new ArrayList<>();
        int headerLines = 1;
        for (String c : columnLabels) {
            List<String> lines = wrap(c, hm, cellW);
            wrapped.add(lines);
            headerLines = Math.max(headerLines, lines.size());
        }
        int titleH = title == null ? 0 : lm.getHeight() + GAP;
        int headerH = headerLines * hm.getHeight() + GAP;
        int width = labelW + cols * (cellW + GAP) + GAP;
        int height = titleH + headerH + rows.size() * (cellH + GAP) + GAP;
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            g.setColor(Color.BLACK);
            if (title != null) {
                g.setFont(LABEL.deriveFont(Font.BOLD));
                g.drawString(title, GAP, lm.getAscent() + GAP / 2);
            }
            g.setFont(HEADER);
            for (int c = 0; c < cols; c++) {
                int x = labelW + c * (cellW + GAP);
                List<String> lines = wrapped.get(c);
                for (int l = 0; l < lines.size(); l++) {
                    g.drawString(lines.get(l), x, titleH + hm.getAscent() + l * hm.getHeight());
                }
            }
            g.setFont(LABEL);
            for (int r = 0; r < rows.size(); r++) {
                int y = titleH + headerH + r * (cellH + GAP);
                g.setColor(Color.BLACK);
                g.drawString(rowLabels.get(r), GAP, y + cellH / 2 + lm.getAscent() / 2);
                for (int c = 0; c < cols; c++) {
                    BufferedImage cell = Image.fromTensor(rows.get(r), c, Map.of()).toBufferedImage();
                    g.drawImage(cell, labelW + c * (cellW + GAP), y, cellW, cellH, null);
                }
            }
        } finally {
            g.dispose();
        }
        return Image.fromBufferedImage(img, Map.of("Software", "SenseFlow for Java"));
    }

    /** Greedy word wrap to a pixel width. */
    static List<String> wrap(String text, FontMetrics fm, int width) {
        List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : text.split(" ")) {
            String candidate = line.length() == 0 ? word : line + " " + word;
            if (fm.stringWidth(candidate) > width && line.length() > 0) {
                lines.add(line.toString());
                line = new StringBuilder(word);
            } else {
                line = new StringBuilder(candidate);
            }
        }
        if (line.length() > 0) {
            lines.add(line.toString());
        }
        return lines;
    }
}
