package io.senseflow.tf.run;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.ImageEncoder;
import io.senseflow.onnx.runtime.OrtFluxGenerator;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.tensor.Tensor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * The run's real samples ({@code --data}), in the generator's space, for the forward-noised branch and the GAN's real
 * side: a folder of PNG images of the run's image size, encoded once with the teacher's VAE encoder
 * ({@code vae_encoder/}), or a safetensors file of latents {@code [N, C, h, w]} (already scaled as the generator sees
 * them, e.g. what the VAE encoder gives; FLUX's are packed by the run) or of samples shaped like the generator's.
 * They are held in memory for the whole run; sample {@code k} of iteration {@code i} is {@code (i B + k) mod N}.
 * Encoded images are also written to the run folder ({@link #CACHE}, keyed by the images' SHA-256 and the teacher
 * fingerprint), so a resume reads them instead of running the VAE encoder again.
 *
 * <p>An immutable value once read.
 *
 * @param source the file or folder read
 * @param samples every sample, {@code [N, ...sample shape]}
 * @param sha256 the SHA-256 over the source's bytes (file by file in name order for a folder), recorded in run.json
 * @param encodedImages how many images were run through the VAE encoder here (0 for latents or a cache hit)
 */
record RealData(Path source, Tensor samples, String sha256, int encodedImages) {
    /** The encoded images' cache inside the run folder. */
    static final String CACHE = EmbeddingCache.DIR + "/real_samples.safetensors";

    /** @return the number of samples */
    int count() {
        return samples.batch();
    }

    /** @return the samples of a batch */
    Tensor batch(long iteration, int size) {
        List<Tensor> parts = new ArrayList<>();
        for (int j = 0; j < size; j++) {
            int k = (int) Math.floorMod(iteration * size + j, (long) count());
            parts.add(samples.sliceBatch(k, k + 1));
        }
        return Tensor.concatBatch(parts);
    }

    /**
     * Reads and checks the data; images are encoded here.
     *
     * @param source a folder of {@code .png} images or a {@code .safetensors} file of latents
     * @param encoder the teacher's VAE encoder, if the folder has one
     * @param teacher the teacher folder (for messages)
     * @param channels latent channels
     * @param lh latent height
     * @param lw latent width
     * @param width image width in pixels
     * @param height image height in pixels
     * @param packed whether the generator takes FLUX's packed tokens
     * @return the samples
     * @throws InvalidRequestException naming the file: no such file, a folder without PNG images, an unreadable image
     *     or one of another size, images without a VAE encoder, a latents file without a float tensor or of the wrong
     *     shape or channels
     */
    static RealData read(Path source, Optional<ImageEncoder> encoder, Path teacher, int channels, int lh, int lw,
                         int width, int height, boolean packed) {
        return read(source, encoder, teacher, channels, lh, lw, width, height, packed, null, "");
    }

    /**
     * As {@link #read(Path, Optional, Path, int, int, int, int, int, boolean)}, taking encoded images from
     * {@code cache} when it holds the samples of exactly these images for this teacher.
     *
     * @param cache a file written by {@link #writeCache}, or null
     * @param teacherFingerprint the teacher's fingerprint (part of the cache's key)
     */
    static RealData read(Path source, Optional<ImageEncoder> encoder, Path teacher, int channels, int lh, int lw,
                         int width, int height, boolean packed, Path cache, String teacherFingerprint) {
        source = source.toAbsolutePath().normalize();
        MessageDigest md = sha();
        Tensor latents;
        if (Files.isDirectory(source)) {
            List<Path> images;
            try (Stream<Path> s = Files.list(source)) {
                images = s.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")).sorted()
                        .toList();
            } catch (IOException e) {
                throw InvalidRequestException.of("data " + source, "a readable folder of PNG images", e.toString());
            }
            if (images.isEmpty()) {
                throw InvalidRequestException.of("data " + source, "a folder of PNG images (or a latents .safetensors"
                        + " file)", "no .png files");
            }
            if (encoder.isEmpty()) {
                throw InvalidRequestException.of("data " + source, "latents (a .safetensors file), or images with a"
                        + " teacher that has a VAE encoder", "PNG images, and no vae_encoder/ in " + teacher);
            }
            List<BufferedImage> decoded = new ArrayList<>();
            for (Path f : images) {
                byte[] bytes;
                BufferedImage img;
                try {
                    bytes = Files.readAllBytes(f);
                    img = ImageIO.read(new java.io.ByteArrayInputStream(bytes));
                } catch (IOException e) {
                    throw InvalidRequestException.of("data " + f, "a readable PNG image", e.toString());
                }
                if (img == null) {
                    throw InvalidRequestException.of("data " + f, "a readable PNG image", "bytes no image reader"
                            + " understands");
                }
                if (img.getWidth() != width || img.getHeight() != height) {
                    throw InvalidRequestException.of("data " + f, width + " x " + height + " pixels (the run's image"
                            + " size)", img.getWidth() + " x " + img.getHeight());
                }
                md.update(f.getFileName().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                md.update(bytes);
                decoded.add(img);
            }
            String sha = HexFormat.of().formatHex(md.digest());
            int[] want = packed ? new int[] {images.size(), (lh / 2) * (lw / 2), 4 * channels}
                    : new int[] {images.size(), channels, lh, lw};
            Tensor cached = cached(cache, sha, teacherFingerprint, want);
            if (cached != null) {
                return new RealData(source, cached, sha, 0);
            }
            List<Tensor> parts = new ArrayList<>();
            for (BufferedImage img : decoded) {
                parts.add(encoder.get().encode(pixels(img)));
            }
            latents = Tensor.concatBatch(parts);
            requireLatentShape(source, latents, channels, lh, lw);
            return new RealData(source, packed ? OrtFluxGenerator.pack(latents) : latents, sha, parts.size());
        } else {
            if (!Files.isRegularFile(source)) {
                throw InvalidRequestException.of("data " + source, "a folder of PNG images or a latents .safetensors"
                        + " file", "no such file or folder");
            }
            try {
                md.update(Files.readAllBytes(source));
            } catch (IOException e) {
                throw InvalidRequestException.of("data " + source, "a readable latents file", e.toString());
            }
            try (SafetensorsFile f = SafetensorsFile.open(source)) {
                String name = f.contains("latents") ? "latents" : f.names().size() == 1 ? f.names().get(0) : null;
                if (name == null) {
                    throw InvalidRequestException.of("data " + source, "a tensor named 'latents' (or a single tensor)",
                            "tensors " + f.names());
                }
                if (!f.dtype(name).toString().startsWith("F") && !f.dtype(name).toString().startsWith("BF")) {
                    throw InvalidRequestException.of("data " + source + " " + name, "a floating-point tensor",
                            f.dtype(name));
                }
                latents = f.tensor(name);
            } catch (InvalidRequestException e) {
                throw e;
            } catch (RuntimeException e) {
                throw InvalidRequestException.of("data " + source, "a safetensors file of latents", e.getMessage());
            }
            boolean alreadyPacked = packed && latents.rank() == 3 && latents.dim(1) == (lh / 2) * (lw / 2)
                    && latents.dim(2) == 4 * channels;
            if (!alreadyPacked) {
                requireLatentShape(source, latents, channels, lh, lw);
            }
            if (alreadyPacked) {
                return new RealData(source, latents, HexFormat.of().formatHex(md.digest()), 0);
            }
        }
        Tensor samples = packed ? OrtFluxGenerator.pack(latents) : latents;
        return new RealData(source, samples, HexFormat.of().formatHex(md.digest()), 0);
    }

    /** The cached samples when {@code cache} holds them for these images and this teacher, else null. */
    private static Tensor cached(Path cache, String sha, String teacherFingerprint, int[] shape) {
        if (cache == null || !Files.isRegularFile(cache)) {
            return null;
        }
        try (SafetensorsFile f = SafetensorsFile.open(cache)) {
            if (!sha.equals(f.metadata().get("data_sha256")) || !teacherFingerprint.equals(f.metadata().get(
                    "teacher_fingerprint")) || !f.contains("samples")) {
                return null;
            }
            Tensor t = f.tensor("samples");
            return Arrays.equals(t.shape(), shape) ? t : null;
        } catch (RuntimeException e) {
            return null; // unreadable: encode again, and the run rewrites it
        }
    }

    /**
     * Writes the encoded samples to the run folder's cache (atomically).
     *
     * @param runFolder the run folder (exists)
     * @param teacherFingerprint the teacher's fingerprint
     */
    void writeCache(Path runFolder, String teacherFingerprint) {
        Path f = runFolder.resolve(CACHE);
        try {
            Files.createDirectories(f.getParent());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("creating " + f.getParent(), e);
        }
        new SafetensorsWriter().add("samples", samples).metadata("data_sha256", sha256)
                .metadata("teacher_fingerprint", teacherFingerprint).metadata("source", source.toString()).write(f);
    }

    private static void requireLatentShape(Path source, Tensor t, int channels, int lh, int lw) {
        int[] s = t.shape();
        if (s.length != 4 || s[0] < 1 || s[1] != channels || s[2] != lh || s[3] != lw) {
            throw InvalidRequestException.of("data " + source + " shape", "[N, " + channels + ", " + lh + ", " + lw
                    + "] (N latents of the teacher's " + channels + " channels at the run's image size)",
                    Arrays.toString(s));
        }
    }

    /** An image as {@code [1, 3, H, W]} in [-1, 1]. */
    private static Tensor pixels(BufferedImage img) {
        int h = img.getHeight();
        int w = img.getWidth();
        float[] v = new float[3 * h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y);
                v[y * w + x] = ((rgb >> 16) & 0xff) / 127.5f - 1;
                v[h * w + y * w + x] = ((rgb >> 8) & 0xff) / 127.5f - 1;
                v[2 * h * w + y * w + x] = (rgb & 0xff) / 127.5f - 1;
            }
        }
        return Tensor.wrap(v, 1, 3, h, w);
    }

    private static MessageDigest sha() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
