package io.senseflow.image;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.SenseFlowException;
import io.senseflow.io.AtomicFiles;
import io.senseflow.tensor.Tensor;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import org.w3c.dom.NodeList;

/**
 * An 8-bit RGB image with text metadata (the generation parameters). Writes PNG through {@code javax.imageio},
 * the metadata as PNG {@code tEXt} chunks, one per key — the same place other tools put their parameters.
 * Immutable.
 *
 * <p>Immutable (pixels are copied in and out): safe to share between threads.
 */
public final class Image {
    private final int width;
    private final int height;
    private final byte[] rgb;
    private final Map<String, String> metadata;

    private Image(int width, int height, byte[] rgb, Map<String, String> metadata) {
        this.width = width;
        this.height = height;
        this.rgb = rgb;
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /**
     * @param width width in pixels
     * @param height height in pixels
     * @param rgb interleaved RGB bytes, row-major, {@code 3 * width * height} of them (copied)
     * @param metadata text metadata
     * @return the image
     */
    public static Image ofRgb(int width, int height, byte[] rgb, Map<String, String> metadata) {
        if (width < 1 || height < 1 || rgb.length != 3 * width * height) {
            throw InvalidRequestException.of("rgb", 3 * width * height + " bytes for " + width + "x" + height, rgb.length);
        }
        return new Image(width, height, rgb.clone(), metadata);
    }

    /**
     * Converts one sample of a {@code [B, 3, H, W]} tensor in [-1, 1] (values outside are clipped).
     *
     * @param images the tensor
     * @param index the sample
     * @param metadata text metadata
     * @return the image
     */
    public static Image fromTensor(Tensor images, int index, Map<String, String> metadata) {
        if (images.rank() != 4 || images.dim(1) != 3) {
            throw InvalidRequestException.of("images", "a [B, 3, H, W] tensor", java.util.Arrays.toString(images.shape()));
        }
        int h = images.dim(2);
        int w = images.dim(3);
        float[] px = images.sample(index).toArray();
        byte[] rgb = new byte[3 * w * h];
        int plane = w * h;
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < plane; i++) {
                float v = (px[c * plane + i] + 1f) * 127.5f;
                int q = Float.isNaN(v) ? 0 : Math.round(Math.max(0f, Math.min(255f, v)));
                rgb[3 * i + c] = (byte) q;
            }
        }
        return new Image(w, h, rgb, metadata);
    }

    /** @return this image as a {@code [1, 3, H, W]} tensor in [-1, 1] */
    public Tensor toTensor() {
        int plane = width * height;
        float[] out = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                out[c * plane + i] = (rgb[3 * i + c] & 0xff) / 127.5f - 1f;
            }
        }
        return Tensor.wrap(out, 1, 3, height, width);
    }

    /** @return width in pixels */
    public int width() {
        return width;
    }

    /** @return height in pixels */
    public int height() {
        return height;
    }

    /** @return a copy of the interleaved RGB bytes */
    public byte[] rgb() {
        return rgb.clone();
    }

    /** @param x column @param y row @return the pixel as {@code 0xRRGGBB} */
    public int rgbAt(int x, int y) {
        int i = 3 * (y * width + x);
        return ((rgb[i] & 0xff) << 16) | ((rgb[i + 1] & 0xff) << 8) | (rgb[i + 2] & 0xff);
    }

    /** @return the text metadata (unmodifiable) */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** @param extra entries to add or replace @return a copy with merged metadata */
    public Image withMetadata(Map<String, String> extra) {
        Map<String, String> m = new LinkedHashMap<>(metadata);
        m.putAll(extra);
        return new Image(width, height, rgb, m);
    }

    /** @return a {@link BufferedImage} copy (TYPE_INT_RGB) */
    public BufferedImage toBufferedImage() {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, rgbAt(x, y));
            }
        }
        return img;
    }

    /**
     * @param img any image
     * @param metadata text metadata
     * @return its RGB content
     */
    public static Image fromBufferedImage(BufferedImage img, Map<String, String> metadata) {
        int w = img.getWidth();
        int h = img.getHeight();
        byte[] rgb = new byte[3 * w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = img.getRGB(x, y);
                int i = 3 * (y * w + x);
                rgb[i] = (byte) (p >> 16);
                rgb[i + 1] = (byte) (p >> 8);
                rgb[i + 2] = (byte) p;
            }
        }
        return new Image(w, h, rgb, metadata);
    }

    /** @return the PNG encoding, metadata included */
    public byte[] toPng() {
        try {
            BufferedImage img = toBufferedImage();
            ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
            try {
                ImageTypeSpecifier type = ImageTypeSpecifier.createFromRenderedImage(img);
                IIOMetadata meta = writer.getDefaultImageMetadata(type, writer.getDefaultWriteParam());
                if (!metadata.isEmpty()) {
                    IIOMetadataNode text = new IIOMetadataNode("tEXt");
                    for (Map.Entry<String, String> e : metadata.entrySet()) {
                        IIOMetadataNode entry = new IIOMetadataNode("tEXtEntry");
                        entry.setAttribute("keyword", e.getKey());
                        entry.setAttribute("value", e.getValue());
                        text.appendChild(entry);
                    }
                    IIOMetadataNode root = new IIOMetadataNode("javax_imageio_png_1.0");
                    root.appendChild(text);
                    meta.mergeTree("javax_imageio_png_1.0", root);
                }
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                try (ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
                    writer.setOutput(out);
                    writer.write(new IIOImage(img, null, meta));
                }
                return bytes.toByteArray();
            } finally {
                writer.dispose();
            }
        } catch (IOException e) {
            throw new SenseFlowException("PNG encoding failed", e);
        }
    }

    /**
     * Writes the PNG atomically (temporary file, then rename): a reader never sees a half-written file.
     *
     * @param path destination
     */
    public void writePng(Path path) {
        AtomicFiles.write(path, toPng());
    }

    /**
     * Reads a PNG (or any format {@code javax.imageio} reads) with its text metadata.
     *
     * @param path the file
     * @return the image
     */
    public static Image read(Path path) {
        try (InputStream in = Files.newInputStream(path); ImageInputStream iis = ImageIO.createImageInputStream(in)) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(iis);
            if (!readers.hasNext()) {
                throw new ModelLoadException(path + ": not an image format javax.imageio can read");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(iis);
                BufferedImage img = reader.read(0);
                Map<String, String> meta = new LinkedHashMap<>();
                IIOMetadata m = reader.getImageMetadata(0);
                if (m != null && java.util.Arrays.asList(m.getMetadataFormatNames()).contains("javax_imageio_png_1.0")) {
                    IIOMetadataNode root = (IIOMetadataNode) m.getAsTree("javax_imageio_png_1.0");
                    NodeList entries = root.getElementsByTagName("tEXtEntry");
                    for (int i = 0; i < entries.getLength(); i++) {
                        IIOMetadataNode e = (IIOMetadataNode) entries.item(i);
                        meta.put(e.getAttribute("keyword"), e.getAttribute("value"));
                    }
                }
                return fromBufferedImage(img, meta);
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new ModelLoadException(path + ": cannot read image: " + e.getMessage(), e);
        }
    }
}
