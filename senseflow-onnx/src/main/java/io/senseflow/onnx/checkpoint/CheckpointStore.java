package io.senseflow.onnx.checkpoint;

import io.senseflow.CheckpointException;
import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.distill.DistillationListener;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.io.AtomicFiles;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.OptimizerState;
import io.senseflow.train.ParameterSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A folder of training checkpoints, one sub-folder per saved iteration ({@code checkpoint-000001200}). Backend-neutral:
 * it persists a {@link TrainingSnapshot} (any backend's, the reference one included) and needs only the api and
 * safetensors.
 *
 * <p>A checkpoint folder holds {@code config.json} (the run's config), per module {@code <module>.safetensors} (its
 * parameters under their original names) and, for modules with an optimizer, {@code <module>.optimizer.safetensors}
 * (the slots, {@code m/<name>} and {@code v/<name>} for AdamW), the caller's extra files under {@code extras/}, and
 * {@code manifest.json} (iteration, skip count, per module the step counter and an architecture fingerprint, and the
 * size and SHA-256 of every file).
 *
 * <p><b>Saving is atomic.</b> Everything is written into a hidden temporary folder beside the checkpoints, each file
 * forced to disk, the folder forced, and only then renamed to its final name in one step; older checkpoints are
 * deleted (with {@link Builder#keepLast}) only after the new one is complete. A save that fails at any point removes
 * its temporary folder and leaves every earlier checkpoint as it was. Saving the same iteration again replaces that
 * checkpoint, also atomically from a reader's point of view (the old one is moved aside, then deleted).
 *
 * <p><b>Loading verifies.</b> Sizes and checksums of every file against the manifest (a truncated or altered file is
 * a {@link CheckpointException} naming it), the safetensors headers, each module's parameter count and architecture
 * fingerprint. {@link Checkpoint#requireConfig} and {@link Checkpoint#requireArchitecture} then compare against the
 * resuming run. Writes are deterministic: the same snapshot gives byte-identical files.
 *
 * <p>One writer per folder at a time (a save removes stale temporary folders of earlier crashed saves).
 *
 * <p>Not thread-safe: use one store per folder, saving from one thread (the training thread).
 */
public final class CheckpointStore {
    private static final Logger LOG = LoggerFactory.getLogger(CheckpointStore.class);
    private static final Pattern FOLDER = Pattern.compile("checkpoint-(\\d{9,19})");
    private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.\\-]{0,127}");
    private static final String TEMP_PREFIX = ".checkpoint-tmp-";
    private static final String OLD_PREFIX = ".checkpoint-old-";
    private static final String EXTRAS = "extras";

    private final Path root;
    private final int keepLast;

    private CheckpointStore(Builder b) {
        this.root = b.root.toAbsolutePath().normalize();
        this.keepLast = b.keepLast;
    }

    /**
     * @param root the folder that holds (or will hold) the checkpoints
     * @return a store keeping every checkpoint
     */
    public static CheckpointStore at(Path root) {
        return builder(root).build();
    }

    /** @param root the folder of the checkpoints @return a builder */
    public static Builder builder(Path root) {
        return new Builder(root);
    }

    /** @return the folder of the checkpoints */
    public Path root() {
        return root;
    }

    /** @return how many checkpoints a save keeps (0: all) */
    public int keepLast() {
        return keepLast;
    }

    /** @param iteration an iteration @return the folder a checkpoint at that iteration has */
    public Path folderFor(long iteration) {
        return root.resolve(String.format(java.util.Locale.ROOT, "checkpoint-%09d", iteration));
    }

    // ------------------------------------------------------------------ save

    /**
     * Saves a snapshot as the checkpoint of its iteration.
     *
     * @param snapshot the state
     * @return the checkpoint folder
     * @throws CheckpointException if writing fails; earlier checkpoints are untouched
     */
    public Path save(TrainingSnapshot snapshot) {
        return save(snapshot, Map.of(), Map.of());
    }

    /**
     * Saves a snapshot with extra files and provenance.
     *
     * @param snapshot the state
     * @param extras extra files of the caller by simple name (a data loader's position, a trainer's own state), each
     *     produced into an open channel; stored under {@code extras/} and verified like the rest
     * @param metadata free-form provenance recorded in the manifest (a description of the data, the code version)
     * @return the checkpoint folder
     * @throws CheckpointException if writing fails; earlier checkpoints are untouched
     * @throws InvalidRequestException if a module or extra name is not a simple file name
     */
    public Path save(TrainingSnapshot snapshot, Map<String, AtomicFiles.Writer> extras, Map<String, String> metadata) {
        java.util.Objects.requireNonNull(snapshot, "snapshot");
        TreeSet<String> modules = new TreeSet<>(snapshot.parameters().keySet());
        for (String m : snapshot.optimizers().keySet()) {
            if (!modules.contains(m)) {
                throw new InvalidRequestException("snapshot: optimizer state for module '" + m + "' without parameters");
            }
        }
        for (String m : modules) {
            requireSafeName("module name", m);
        }
        for (String e : extras.keySet()) {
            requireSafeName("extra file name", e);
        }
        Path tmp = null;
        try {
            Files.createDirectories(root);
            removeStale();
            tmp = Files.createTempDirectory(root, TEMP_PREFIX);
            Map<String, CheckpointManifest.FileEntry> files = new TreeMap<>();
            Map<String, CheckpointManifest.ModuleEntry> entries = new TreeMap<>();
            writeFile(tmp, CheckpointManifest.CONFIG_FILE, snapshot.configJson().getBytes(StandardCharsets.UTF_8), files);
            for (String m : modules) {
                Map<String, Tensor> params = snapshot.parameters().get(m);
                SafetensorsWriter w = new SafetensorsWriter().metadata("module", m).metadata("kind", "parameters");
                List<ParameterSpec> specs = new ArrayList<>();
                long count = 0;
                for (Map.Entry<String, Tensor> e : new TreeMap<>(params).entrySet()) {
                    w.add(e.getKey(), e.getValue());
                    specs.add(new ParameterSpec(e.getKey(), e.getValue().shape()));
                    count += e.getValue().size();
                }
                String pFile = m + ".safetensors";
                writeSafetensors(tmp, pFile, w, files);
                OptimizerState st = snapshot.optimizers().get(m);
                String oFile = null;
                if (st != null) {
                    SafetensorsWriter ow = new SafetensorsWriter().metadata("module", m).metadata("kind", "optimizer")
                            .metadata("step", Long.toString(st.step()));
                    new TreeMap<>(st.slots()).forEach(ow::add);
                    oFile = m + ".optimizer.safetensors";
                    writeSafetensors(tmp, oFile, ow, files);
                }
                entries.put(m, new CheckpointManifest.ModuleEntry(pFile, count, CheckpointManifest.fingerprint(specs),
                        oFile, st == null ? 0 : st.step()));
            }
            List<String> extraNames = new ArrayList<>();
            for (Map.Entry<String, AtomicFiles.Writer> e : new TreeMap<>(extras).entrySet()) {
                String rel = EXTRAS + "/" + e.getKey();
                AtomicFiles.write(tmp.resolve(rel), e.getValue());
                files.put(rel, describe(tmp.resolve(rel)));
                extraNames.add(rel);
            }
            if (!extraNames.isEmpty()) {
                syncDirectory(tmp.resolve(EXTRAS));
            }
            CheckpointManifest manifest = new CheckpointManifest(CheckpointManifest.VERSION, snapshot.iteration(),
                    snapshot.skippedBatches(), entries, files, extraNames, metadata);
            AtomicFiles.write(tmp.resolve(CheckpointManifest.FILE_NAME),
                    manifest.toJson().getBytes(StandardCharsets.UTF_8));
            syncDirectory(tmp);
            Path target = folderFor(snapshot.iteration());
            publish(tmp, target);
            tmp = null;
            prune();
            LOG.debug("checkpoint saved: {}", target);
            return target;
        } catch (IOException e) {
            throw new CheckpointException("could not save the checkpoint of iteration " + snapshot.iteration() + " in "
                    + root + ": " + e, e);
        } catch (InvalidRequestException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new CheckpointException("could not save the checkpoint of iteration " + snapshot.iteration() + " in "
                    + root + " (earlier checkpoints are untouched): " + (e instanceof CheckpointException
                    ? e.getMessage() : e.toString()), e);
        } finally {
            if (tmp != null) {
                deleteQuietly(tmp);
            }
        }
    }

    /**
     * A listener that saves the distiller's state every {@code every} iterations (after the iteration completes).
     *
     * @param distiller the run
     * @param every the interval, at least 1
     * @return the listener, to add with {@link Distiller#addListener}
     */
    public DistillationListener saveEvery(Distiller distiller, long every) {
        if (every < 1) {
            throw InvalidRequestException.of("checkpoint interval", "at least 1", every);
        }
        return m -> {
            if ((m.iteration() + 1) % every == 0) {
                save(distiller.snapshot());
            }
        };
    }

    private static void requireSafeName(String what, String name) {
        if (!SAFE_NAME.matcher(name).matches()) {
            throw InvalidRequestException.of(what, "a simple file name (letters, digits, '_', '.', '-'; starting with a"
                    + " letter or digit; at most 128 characters)", "\"" + name + "\"");
        }
    }

    private static void writeFile(Path dir, String rel, byte[] bytes, Map<String, CheckpointManifest.FileEntry> files)
            throws IOException {
        AtomicFiles.write(dir.resolve(rel), bytes);
        files.put(rel, describe(dir.resolve(rel)));
    }

    private static void writeSafetensors(Path dir, String rel, SafetensorsWriter w,
                                         Map<String, CheckpointManifest.FileEntry> files) throws IOException {
        w.write(dir.resolve(rel));
        files.put(rel, describe(dir.resolve(rel)));
    }

    /** Size and checksum, read back from the disk (which also proves the file is readable). */
    private static CheckpointManifest.FileEntry describe(Path file) throws IOException {
        return new CheckpointManifest.FileEntry(Files.size(file), sha256(file));
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest d = CheckpointManifest.sha256();
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (ch.read(buf) >= 0) {
                buf.flip();
                d.update(buf);
                buf.clear();
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }

    private void publish(Path tmp, Path target) throws IOException {
        Path old = null;
        if (Files.exists(target)) {
            old = Files.createTempDirectory(root, OLD_PREFIX);
            Files.delete(old);
            move(target, old);
        }
        try {
            move(tmp, target);
        } catch (IOException e) {
            if (old != null) {
                move(old, target);
            }
            throw e;
        }
        syncDirectory(root);
        if (old != null) {
            deleteQuietly(old);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    private void prune() {
        if (keepLast <= 0) {
            return;
        }
        List<Path> all = list();
        for (int i = 0; i < all.size() - keepLast; i++) {
            retire(all.get(i));
        }
    }

    /**
     * Deletes a checkpoint so that a crash midway never leaves a half-deleted folder under a checkpoint's name: it is
     * first renamed to a temporary name (which {@link #list} ignores and the next save removes), then deleted.
     */
    private void retire(Path checkpoint) {
        Path doomed;
        try {
            doomed = Files.createTempDirectory(root, TEMP_PREFIX);
            Files.delete(doomed);
            move(checkpoint, doomed);
        } catch (IOException e) {
            LOG.warn("could not move {} aside to delete it: {}", checkpoint, e.toString());
            return;
        }
        deleteQuietly(doomed);
    }

    /**
     * Cleans up after a save that was interrupted (a crash, a kill): temporary folders go; a checkpoint that was moved
     * aside to be replaced goes back to its place if the replacement never arrived.
     */
    private void removeStale() throws IOException {
        List<Path> stale = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(root)) {
            for (Path p : s) {
                String n = p.getFileName().toString();
                if ((n.startsWith(TEMP_PREFIX) || n.startsWith(OLD_PREFIX)) && Files.isDirectory(p)) {
                    stale.add(p);
                }
            }
        }
        for (Path p : stale) {
            if (p.getFileName().toString().startsWith(OLD_PREFIX)) {
                Path back = replacedFolder(p);
                if (back != null && !Files.exists(back)) {
                    LOG.warn("restoring checkpoint {} that an interrupted save had moved aside", back);
                    move(p, back);
                    continue;
                }
            }
            LOG.warn("removing the leftover of an interrupted checkpoint save: {}", p);
            deleteQuietly(p);
        }
    }

    private Path replacedFolder(Path old) {
        try {
            String text = new String(Files.readAllBytes(old.resolve(CheckpointManifest.FILE_NAME)), StandardCharsets.UTF_8);
            return folderFor(CheckpointManifest.fromJson(text, old.toString()).iteration());
        } catch (IOException | CheckpointException e) {
            return null;
        }
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not every platform can open a folder; the renames are atomic regardless
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                    Files.delete(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (NoSuchFileException ignored) {
            // already gone
        } catch (IOException e) {
            LOG.warn("could not delete {}: {}", dir, e.toString());
        }
    }

    // ------------------------------------------------------------------ list and load

    /** @return the complete checkpoint folders, oldest iteration first */
    public List<Path> list() {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        TreeMap<Long, Path> found = new TreeMap<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(root)) {
            for (Path p : s) {
                Matcher m = FOLDER.matcher(p.getFileName().toString());
                if (m.matches() && Files.isDirectory(p) && Files.isRegularFile(p.resolve(CheckpointManifest.FILE_NAME))) {
                    found.put(Long.parseLong(m.group(1)), p);
                }
            }
        } catch (IOException e) {
            throw new CheckpointException("could not list checkpoints in " + root + ": " + e, e);
        }
        return new ArrayList<>(found.values());
    }

    /** @return the checkpoint with the highest iteration, if any */
    public Optional<Path> latest() {
        List<Path> all = list();
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    /** @return the latest checkpoint, loaded and verified, if there is one */
    public Optional<Checkpoint> loadLatest() {
        return latest().map(CheckpointStore::load);
    }

    /**
     * Reads and verifies a checkpoint folder.
     *
     * @param folder a folder written by {@link #save}
     * @return the checkpoint
     * @throws CheckpointException naming the file if anything is missing, truncated, altered or inconsistent
     */
    public static Checkpoint load(Path folder) {
        Path manifestPath = folder.resolve(CheckpointManifest.FILE_NAME);
        String text;
        try {
            text = new String(Files.readAllBytes(manifestPath), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(folder + " is not a complete checkpoint: " + CheckpointManifest.FILE_NAME
                    + " is missing");
        } catch (IOException e) {
            throw new CheckpointException("could not read " + manifestPath + ": " + e, e);
        }
        CheckpointManifest manifest = CheckpointManifest.fromJson(text, manifestPath.toString());
        for (Map.Entry<String, CheckpointManifest.FileEntry> e : manifest.files().entrySet()) {
            verify(folder, e.getKey(), e.getValue());
        }
        requireListed(folder, manifest, CheckpointManifest.CONFIG_FILE);
        String config;
        try {
            config = new String(Files.readAllBytes(folder.resolve(CheckpointManifest.CONFIG_FILE)), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CheckpointException("could not read " + folder.resolve(CheckpointManifest.CONFIG_FILE) + ": " + e, e);
        }
        Map<String, Map<String, Tensor>> params = new LinkedHashMap<>();
        Map<String, OptimizerState> optimizers = new LinkedHashMap<>();
        for (Map.Entry<String, CheckpointManifest.ModuleEntry> e : manifest.modules().entrySet()) {
            String module = e.getKey();
            CheckpointManifest.ModuleEntry m = e.getValue();
            requireListed(folder, manifest, m.parameters());
            Map<String, Tensor> values = readTensors(folder.resolve(m.parameters()));
            List<ParameterSpec> specs = new ArrayList<>();
            long count = 0;
            for (Map.Entry<String, Tensor> t : values.entrySet()) {
                specs.add(new ParameterSpec(t.getKey(), t.getValue().shape()));
                count += t.getValue().size();
            }
            if (count != m.parameterCount() || !CheckpointManifest.fingerprint(specs).equals(m.architecture())) {
                throw new CheckpointException(folder.resolve(m.parameters()) + ": its parameters (" + values.size()
                        + " tensors, " + count + " values) do not match the manifest's architecture of module '" + module
                        + "' (" + m.parameterCount() + " values)");
            }
            params.put(module, values);
            if (m.optimizer() != null) {
                requireListed(folder, manifest, m.optimizer());
                optimizers.put(module, new OptimizerState(m.optimizerStep(), readTensors(folder.resolve(m.optimizer()))));
            }
        }
        Map<String, byte[]> extras = new LinkedHashMap<>();
        for (String rel : manifest.extras()) {
            requireListed(folder, manifest, rel);
            try {
                extras.put(rel.substring(EXTRAS.length() + 1), Files.readAllBytes(folder.resolve(rel)));
            } catch (IOException e) {
                throw new CheckpointException("could not read " + folder.resolve(rel) + ": " + e, e);
            }
        }
        TrainingSnapshot snap = new TrainingSnapshot(manifest.iteration(), manifest.skippedBatches(), config, params,
                optimizers);
        return new Checkpoint(folder, manifest, snap, extras);
    }

    private static void requireListed(Path folder, CheckpointManifest manifest, String rel) {
        if (!manifest.files().containsKey(rel)) {
            throw new CheckpointException(folder.resolve(CheckpointManifest.FILE_NAME) + ": refers to " + rel
                    + ", which its file list does not cover");
        }
    }

    private static void verify(Path folder, String rel, CheckpointManifest.FileEntry entry) {
        Path file = folder.resolve(rel).normalize();
        if (!file.startsWith(folder.normalize())) {
            throw new CheckpointException(folder.resolve(CheckpointManifest.FILE_NAME) + ": file " + rel
                    + " lies outside the checkpoint folder");
        }
        try {
            long size = Files.size(file);
            if (size != entry.bytes()) {
                throw new CheckpointException(file + ": " + size + " bytes, the manifest records " + entry.bytes()
                        + (size < entry.bytes() ? " (truncated)" : "") + "; the checkpoint is damaged");
            }
            String sum = sha256(file);
            if (!sum.equals(entry.sha256())) {
                throw new CheckpointException(file + ": SHA-256 " + sum + " differs from the manifest's " + entry.sha256()
                        + "; the file was altered or damaged");
            }
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file + ": missing (listed in the manifest)");
        } catch (IOException e) {
            throw new CheckpointException("could not read " + file + ": " + e, e);
        }
    }

    private static Map<String, Tensor> readTensors(Path file) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.names()) {
                out.put(name, f.tensor(name));
            }
        } catch (ModelLoadException | InvalidRequestException e) {
            throw new CheckpointException(file + ": " + e.getMessage(), e);
        }
        return out;
    }

    /** Builder of {@link CheckpointStore}. */
    public static final class Builder {
        private final Path root;
        private int keepLast;

        private Builder(Path root) {
            this.root = java.util.Objects.requireNonNull(root, "root");
        }

        /**
         * @param n keep the {@code n} most recent checkpoints, deleting older ones after each successful save (0, the
         *     default: keep all)
         * @return this
         */
        public Builder keepLast(int n) {
            if (n < 0) {
                throw InvalidRequestException.of("keepLast", "0 (all) or more", n);
            }
            this.keepLast = n;
            return this;
        }

        /** @return the store */
        public CheckpointStore build() {
            return new CheckpointStore(this);
        }
    }
}
