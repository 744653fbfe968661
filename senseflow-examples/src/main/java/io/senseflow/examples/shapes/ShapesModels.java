package io.senseflow.examples.shapes;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.io.AtomicFiles;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * The bundled Shapes models, loadable from the classpath in one call: the autoencoder, the teacher (a SenseFlow folder:
 * tokenizer, text encoder, flow transformer, VAE) and the evaluation classifier. Each lives under
 * {@value #ROOT}{@code <name>/} with a {@value #INDEX} listing its files (path, size, SHA-256) and a
 * {@link Provenance#FILE}; the files are checked against the index when copied out.
 *
 * <pre>{@code
 * try (LoadedModel teacher = ShapesModels.teacher()) {
 *     teacher.pipeline().generate(GenerationRequest.builder()
 *             .prompt("a large red circle in the center on a dark background").seed(7).build());
 * }
 * }</pre>
 */
public final class ShapesModels {
    /** Where the bundled models live on the classpath. */
    public static final String ROOT = "/io/senseflow/examples/shapes/models/";
    /** The file list of each bundled model folder. */
    public static final String INDEX = "files.txt";
    /** The bundled teacher's folder name. */
    public static final String TEACHER = "teacher";
    /** The bundled 4-step SenseFlow student's folder name. */
    public static final String STUDENT = "student";
    /** The bundled autoencoder's folder name. */
    public static final String AUTOENCODER = "autoencoder";
    /** The bundled classifier's folder name. */
    public static final String CLASSIFIER = "classifier";
    /** The classifier's graph file inside its folder. */
    public static final String CLASSIFIER_FILE = "model.onnx";

    private ShapesModels() {
    }

    /** @param name a bundled model's folder name @return whether it is on the classpath */
    public static boolean isBundled(String name) {
        return ShapesModels.class.getResource(ROOT + name + "/" + INDEX) != null;
    }

    /**
     * Loads the bundled teacher with the default options (CPU).
     *
     * @return the loaded model; closing it closes its sessions
     * @throws ModelLoadException if the teacher is not on the classpath or damaged
     */
    public static LoadedModel teacher() {
        return teacher(LoadOptions.defaults());
    }

    /**
     * @param options load options (execution provider, threads)
     * @return the loaded bundled teacher
     */
    public static LoadedModel teacher(LoadOptions options) {
        return load(TEACHER, options);
    }

    /**
     * Loads the bundled 4-step SenseFlow student (distilled from the bundled teacher by {@code quickstart}) with the
     * default options (CPU): the embedded default model for applications, 4 network evaluations per image, no
     * guidance.
     *
     * @return the loaded model; closing it closes its sessions
     * @throws ModelLoadException if the student is not on the classpath or damaged
     */
    public static LoadedModel student() {
        return student(LoadOptions.defaults());
    }

    /**
     * @param options load options (execution provider, threads)
     * @return the loaded bundled student
     */
    public static LoadedModel student(LoadOptions options) {
        return load(STUDENT, options);
    }

    private static LoadedModel load(String name, LoadOptions options) {
        Path tmp = null;
        try {
            tmp = Files.createTempDirectory("senseflow-shapes-" + name);
            Path dir = copyTo(name, tmp.resolve(name));
            return Models.load(dir, options); // the sessions and tokenizer hold what they need once created
        } catch (IOException e) {
            throw new ModelLoadException("could not copy the bundled Shapes " + name + " to a temporary folder: " + e, e);
        } finally {
            deleteQuietly(tmp);
        }
    }

    /**
     * Copies a bundled model folder out of the classpath, verifying every file against the index.
     *
     * @param name {@link #TEACHER}, {@link #AUTOENCODER} or {@link #CLASSIFIER}
     * @param target the destination folder (created; files in it are replaced)
     * @return {@code target}
     * @throws ModelLoadException if the model is not bundled or a file does not match the index
     */
    public static Path copyTo(String name, Path target) {
        for (IndexEntry e : index(name)) {
            byte[] bytes = resource(name, e.path());
            if (bytes.length != e.size()) {
                throw new ModelLoadException(ROOT + name + "/" + e.path() + ": " + bytes.length + " bytes, " + INDEX
                        + " records " + e.size() + " (truncated or replaced)");
            }
            String sha = sha256(bytes);
            if (!sha.equals(e.sha256())) {
                throw new ModelLoadException(ROOT + name + "/" + e.path() + ": SHA-256 " + sha + ", " + INDEX
                        + " records " + e.sha256() + " (the file was altered or damaged)");
            }
            AtomicFiles.write(target.resolve(e.path()), bytes);
        }
        return target;
    }

    /** Folder of the bundled teacher's evaluation rows ({@link #EVALUATION_CACHE}). */
    public static final String EVALUATION = "evaluation";
    /** The bundled teacher's comparison rows for the default evaluation settings. */
    public static final String EVALUATION_CACHE = "comparison-cache.json";

    /**
     * The teacher's comparison rows measured when it was bundled (quickstart's and ablation's default settings, the
     * bundled classifier as the judge), so that those commands only sample the students; empty when not bundled.
     *
     * @return the rows
     */
    public static io.senseflow.examples.report.ComparisonCache evaluationCache() {
        String where = ROOT + EVALUATION + "/" + EVALUATION_CACHE;
        try (InputStream in = ShapesModels.class.getResourceAsStream(where)) {
            if (in == null) {
                return io.senseflow.examples.report.ComparisonCache.empty();
            }
            return io.senseflow.examples.report.ComparisonCache.parse(new String(in.readAllBytes(),
                    StandardCharsets.UTF_8), where);
        } catch (IOException e) {
            throw new ModelLoadException("could not read " + where + ": " + e, e);
        }
    }

    /**
     * Reads the bundled rows and those of an earlier run's cache file, if it exists.
     *
     * @param file a cache file written by an earlier run (may not exist)
     * @return both sets of rows
     */
    public static io.senseflow.examples.report.ComparisonCache evaluationCache(Path file) {
        io.senseflow.examples.report.ComparisonCache c = evaluationCache();
        if (Files.isRegularFile(file)) {
            try {
                c.putAll(io.senseflow.examples.report.ComparisonCache.parse(Files.readString(file,
                        StandardCharsets.UTF_8), file.toString()));
            } catch (IOException e) {
                throw new ModelLoadException("could not read " + file + ": " + e, e);
            }
        }
        return c;
    }

    /** @return the bundled evaluation classifier's graph */
    public static OnnxModel classifier() {
        return OnnxModel.parse(resource(CLASSIFIER, CLASSIFIER_FILE), ROOT + CLASSIFIER + "/" + CLASSIFIER_FILE);
    }

    /** @return the bundled autoencoder's encoder graph */
    public static OnnxModel encoder() {
        return OnnxModel.parse(resource(AUTOENCODER, "vae_encoder/model.onnx"), ROOT + AUTOENCODER + "/vae_encoder/model.onnx");
    }

    /** @return the bundled autoencoder's decoder graph */
    public static OnnxModel decoder() {
        return OnnxModel.parse(resource(AUTOENCODER, "vae_decoder/model.onnx"), ROOT + AUTOENCODER + "/vae_decoder/model.onnx");
    }

    /** @param name a bundled model's folder name @return its provenance.json text */
    public static String provenance(String name) {
        return new String(resource(name, Provenance.FILE), StandardCharsets.UTF_8);
    }

    /**
     * The classifier a command should use: {@code null} means the bundled one (or none if not bundled), {@code none}
     * means none, anything else is a classifier folder (holding {@value #CLASSIFIER_FILE}) or an {@code .onnx} file.
     *
     * @param option the option's value
     * @return the classifier graph, or null for none
     * @throws InvalidRequestException if a given path holds no classifier
     */
    public static OnnxModel classifierOption(String option) {
        if (option == null) {
            return isBundled(CLASSIFIER) ? classifier() : null;
        }
        if (option.equals("none")) {
            return null;
        }
        return readClassifier(Path.of(option));
    }

    /**
     * @param path a classifier folder (with {@value #CLASSIFIER_FILE}) or a graph file
     * @return the graph
     * @throws InvalidRequestException if there is no classifier there
     */
    public static OnnxModel readClassifier(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve(CLASSIFIER_FILE) : path;
        if (!Files.isRegularFile(file)) {
            throw InvalidRequestException.of("--classifier", "a classifier folder with " + CLASSIFIER_FILE + " or an .onnx file",
                    path + " (no such file: " + file + ")");
        }
        OnnxModel m = OnnxModel.read(file);
        AttributeClassifier.requireClassifier(m);
        return m;
    }

    /**
     * Writes an autoencoder folder ({@code vae_encoder/model.onnx}, {@code vae_decoder/model.onnx}).
     *
     * @param dir the folder
     * @param encoder the encoder graph
     * @param decoder the decoder graph
     * @return {@code dir}
     */
    public static Path writeAutoencoder(Path dir, OnnxModel encoder, OnnxModel decoder) {
        encoder.write(dir.resolve("vae_encoder/model.onnx"));
        decoder.write(dir.resolve("vae_decoder/model.onnx"));
        return dir;
    }

    /**
     * Reads an autoencoder folder written by {@link #writeAutoencoder}.
     *
     * @param dir the folder
     * @return {encoder, decoder}
     * @throws InvalidRequestException if a graph is missing
     */
    public static OnnxModel[] readAutoencoder(Path dir) {
        Path e = dir.resolve("vae_encoder/model.onnx");
        Path d = dir.resolve("vae_decoder/model.onnx");
        for (Path p : List.of(e, d)) {
            if (!Files.isRegularFile(p)) {
                throw InvalidRequestException.of("--autoencoder", "a folder with vae_encoder/model.onnx and vae_decoder/model.onnx",
                        dir + " (missing " + p + ")");
            }
        }
        return new OnnxModel[] {OnnxModel.read(e), OnnxModel.read(d)};
    }

    /** One line of an index: a file's path inside the model folder, its size and SHA-256. */
    record IndexEntry(String path, long size, String sha256) {
    }

    static List<IndexEntry> index(String name) {
        String text = new String(resource(name, INDEX), StandardCharsets.UTF_8);
        List<IndexEntry> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.trim().split("\\s+");
            if (f.length != 3) {
                throw new ModelLoadException(ROOT + name + "/" + INDEX + ": expected '<sha256> <size> <path>' per line, got '"
                        + line + "'");
            }
            out.add(new IndexEntry(f[2], Long.parseLong(f[1]), f[0]));
        }
        return out;
    }

    /**
     * Writes the {@value #INDEX} of a model folder (every regular file but the index itself, sorted).
     *
     * @param dir the folder
     * @return the index file
     */
    public static Path writeIndex(Path dir) {
        StringBuilder b = new StringBuilder("# <sha256> <size> <path>, for ShapesModels; regenerate after changing a file\n");
        try (Stream<Path> s = Files.walk(dir)) {
            List<Path> files = s.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().equals(INDEX))
                    .sorted(Comparator.comparing(p -> dir.relativize(p).toString())).toList();
            for (Path p : files) {
                byte[] bytes = Files.readAllBytes(p);
                b.append(sha256(bytes)).append(' ').append(bytes.length).append(' ')
                        .append(dir.relativize(p).toString().replace('\\', '/')).append('\n');
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not index " + dir, e);
        }
        Path index = dir.resolve(INDEX);
        AtomicFiles.write(index, b.toString().getBytes(StandardCharsets.UTF_8));
        return index;
    }

    private static byte[] resource(String name, String path) {
        String where = ROOT + name + "/" + path;
        try (InputStream in = ShapesModels.class.getResourceAsStream(where)) {
            if (in == null) {
                throw new ModelLoadException(where + " is not on the classpath; the bundled Shapes " + name
                        + " ships in senseflow-examples' resources");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new ModelLoadException("could not read " + where + ": " + e, e);
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JVM", e);
        }
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a leftover in the temp folder is harmless
        }
    }
}
