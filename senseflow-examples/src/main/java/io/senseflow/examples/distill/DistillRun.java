package io.senseflow.examples.distill;

import io.senseflow.CancelledException;
import io.senseflow.CheckpointException;
import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationListener;
import io.senseflow.json.Json;
import io.senseflow.onnx.checkpoint.Checkpoint;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tf.run.DistillationRun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * One Shapes distillation run into an output folder, the engine behind {@code distill} (without {@code --prompts}),
 * {@code quickstart} and {@code ablation}: a {@link DistillationRun} with the Shapes plug-ins ({@link ShapesRun}) and
 * the Shapes commands' bookkeeping around it. The folder is a front-door run folder:
 *
 * <pre>
 * OUT/run.json         the front door's record (teacher, fingerprint, config, plug-ins, threads; info: path shapes,
 *                      preset, discriminator, command)
 * OUT/config.json      the run's DistillationConfig (JSON)
 * OUT/checkpoints/     verified, atomic checkpoints (the last two kept); each carries the curves so far
 * OUT/losses.csv       every iteration's losses and time (ms), one column per term
 * OUT/eval.csv         the periodic evaluations (when an evaluation is given)
 * OUT/curves.png       losses (smoothed) and evaluation metrics over iterations
 * OUT/student/         the deployable student (SDK layout, few-step scheduler, provenance.json; or elsewhere)
 * </pre>
 *
 * <p>{@link #prepare} does every check that can fail before any work: the output folder is writable; a folder that
 * already holds checkpoints is only continued with {@code resume}; a resumed run's checkpoint was written with the
 * same config (the differing fields are named) and the same teacher (fingerprint). {@link #run} then builds the run,
 * trains with periodic checkpoints and evaluations, and exports the student. A cancelled run (Ctrl-C,
 * {@link Request#stopAt}) saves a checkpoint at the iteration it stopped before and throws {@link CancelledException};
 * {@code resume} continues it bit for bit. {@code DistillationRun.resume(OUT)} with the same plug-ins continues it
 * too.
 */
public final class DistillRun {
    /** Sub-folder of the checkpoints. */
    public static final String CHECKPOINTS = DistillationRun.CHECKPOINTS;
    /** Sub-folder of the exported student. */
    public static final String STUDENT = "student";
    private static final String LOSSES_CSV = DistillationRun.LOSSES;
    private static final String EVAL_CSV = "eval.csv";
    private static final String CONFIG_JSON = "config.json";
    private static final String CURVES_PNG = "curves.png";
    /** The files this class writes in the run folder beside the front door's own. */
    private static final List<String> OWN_FILES = List.of(DistillationRun.RUN_JSON, CONFIG_JSON, LOSSES_CSV, EVAL_CSV,
            CURVES_PNG);

    private final Request request;
    private final Path out;
    private final CheckpointStore store;
    private final Checkpoint checkpoint;

    /**
     * What to run.
     *
     * @param teacher the teacher
     * @param config the config
     * @param preset the preset name the config came from (or {@code config file})
     * @param out the output folder
     * @param student where the student goes (null: {@code out/student})
     * @param resume continue from the latest checkpoint in {@code out}
     * @param checkpointEvery save a checkpoint every this many iterations
     * @param evalEvery evaluate every this many iterations (0: only at the end, when an evaluation is given)
     * @param stopAt stop before this iteration as if interrupted (checkpoint saved), or -1 to run to the end
     * @param settings engines and discriminator
     * @param command the command line, for provenance
     */
    public record Request(TeacherFolder teacher, DistillationConfig config, String preset, Path out, Path student,
                          boolean resume,
                          long checkpointEvery, long evalEvery, long stopAt, ShapesRun.Settings settings,
                          String command) {
        public Request {
            Objects.requireNonNull(teacher, "teacher");
            Objects.requireNonNull(config, "config");
            Objects.requireNonNull(out, "out");
            Objects.requireNonNull(settings, "settings");
            student = student != null ? student.toAbsolutePath().normalize()
                    : out.toAbsolutePath().normalize().resolve(STUDENT);
            if (checkpointEvery < 1) {
                throw InvalidRequestException.of("--checkpoint-every", "at least 1 iteration", checkpointEvery);
            }
            if (evalEvery < 0) {
                throw InvalidRequestException.of("--eval-every", "0 (at the end only) or more iterations", evalEvery);
            }
            if (stopAt != -1 && (stopAt < 1 || stopAt > config.iterations())) {
                throw InvalidRequestException.of("--stop-at", "an iteration in [1, " + config.iterations() + "]", stopAt);
            }
        }
    }

    /**
     * Evaluates the in-training student (the run's periodic evaluation hook).
     */
    @FunctionalInterface
    public interface Evaluation {
        /**
         * @param run the run (sample the student with {@link ShapesRun#studentPipeline}, the teacher with
         *     {@link DistillationRun#teacherModel()})
         * @param iteration completed iterations
         * @return named metrics (FD-T, adherence, ...)
         */
        Map<String, Double> evaluate(DistillationRun run, long iteration);
    }

    /**
     * What a finished run produced.
     *
     * @param student the exported student folder
     * @param iterations iterations run in total (over every resume)
     * @param trainingSeconds the sum of the iterations' times over every resume (setup and evaluation excluded)
     * @param processSeconds wall time of this process's part of the run, setup and export included
     * @param history the curves
     */
    public record Result(Path student, long iterations, double trainingSeconds, double processSeconds,
                         RunHistory history) {
    }

    private DistillRun(Request request, Path out, CheckpointStore store, Checkpoint checkpoint) {
        this.request = request;
        this.out = out;
        this.store = store;
        this.checkpoint = checkpoint;
    }

    /**
     * Checks everything that can be checked before work starts.
     *
     * @param request the run
     * @return the prepared run (holding the checkpoint to resume from, if any)
     * @throws InvalidRequestException if the output folder is unusable or holds another run, or a run of an earlier
     *     version of this command
     * @throws CheckpointException if the checkpoint to resume from is damaged or of another config or teacher
     */
    public static DistillRun prepare(Request request) {
        ShapesRun.requireBackboneFits(request.config(), request.settings());
        Path out = requireWritableFolder(request.out(), "--out");
        CheckpointStore store = CheckpointStore.builder(out.resolve(CHECKPOINTS)).keepLast(2).build();
        Optional<Path> latest = Files.isDirectory(store.root()) ? store.latest() : Optional.empty();
        Path runJson = out.resolve(DistillationRun.RUN_JSON);
        if (Files.exists(runJson) && !DistillationRun.isRun(out)) {
            throw InvalidRequestException.of("--out " + runJson, "the run.json of a run this version of senseflow"
                    + " distill started (a front-door run folder)", "another run.json (a run of an earlier version, or"
                    + " not a run); start the run again in a new folder");
        }
        if (!request.resume()) {
            if (latest.isPresent()) {
                throw InvalidRequestException.of("--out", "a folder without a run in it, or --resume to continue the run"
                        + " there", out + " (it holds checkpoints up to " + latest.get().getFileName() + ")");
            }
            if (ShapesRun.isShapesRun(out)) {
                // an earlier attempt that never reached its first checkpoint: its files are made again from scratch
                for (String f : OWN_FILES) {
                    deleteIfExists(out.resolve(f));
                }
                deleteIfExists(store.root());
            }
            return new DistillRun(request, out, store, null);
        }
        if (latest.isEmpty()) {
            throw new CheckpointException("--resume: no checkpoint to resume from in " + store.root()
                    + " (a run saves one every --checkpoint-every iterations and when it is interrupted)");
        }
        Checkpoint cp = CheckpointStore.load(latest.get());
        cp.requireConfig(request.config().toJson());
        String fingerprint = cp.manifest().metadata().get("teacher_fingerprint");
        if (fingerprint != null && !fingerprint.equals(request.teacher().fingerprint())) {
            throw new CheckpointException(latest.get() + ": the checkpoint was distilled from another teacher (fingerprint "
                    + abbrev(fingerprint) + ", " + request.teacher().dir() + " has " + abbrev(request.teacher().fingerprint())
                    + "); resume with the teacher the run started with ("
                    + ShapesRun.recordedTeacher(out).map(Path::toString).or(() -> Optional.ofNullable(cp.manifest()
                            .metadata().get("teacher"))).orElse("see " + runJson) + ")");
        }
        if (cp.iteration() >= request.config().iterations()) {
            throw InvalidRequestException.of("--resume", "a run that has iterations left", "the checkpoint at iteration "
                    + cp.iteration() + " of " + request.config().iterations() + " (the run is complete: "
                    + request.student() + ")");
        }
        if (request.stopAt() != -1 && request.stopAt() <= cp.iteration()) {
            throw InvalidRequestException.of("--stop-at", "an iteration after the checkpoint's " + cp.iteration(),
                    request.stopAt());
        }
        return new DistillRun(request, out, store, cp);
    }

    /** @return the checkpoint the run resumes from, if any */
    public Optional<Checkpoint> resumingFrom() {
        return Optional.ofNullable(checkpoint);
    }

    /**
     * Runs the distillation to its end (or to {@link Request#stopAt}) and exports the student.
     *
     * @param token cancellation (checked before every iteration)
     * @param listeners called after every iteration, after the run's own bookkeeping (a progress bar)
     * @param evaluation periodic evaluation, or null
     * @param log one-line messages (checkpoints, export)
     * @return what was produced
     * @throws CancelledException when cancelled or stopped early; a checkpoint was saved first
     */
    public Result run(CancellationToken token, List<DistillationListener> listeners, Evaluation evaluation,
                      Consumer<String> log) {
        long start = System.nanoTime();
        DistillationConfig cfg = request.config();
        TeacherFolder teacher = request.teacher();
        RunHistory history = checkpoint == null ? new RunHistory() : RunHistory.restore(
                RunHistory.text(checkpoint.extras().get(LOSSES_CSV)), RunHistory.text(checkpoint.extras().get(EVAL_CSV)),
                checkpoint.iteration());
        DistillationRun.Builder b = ShapesRun.builder(teacher, cfg, request.settings(), out)
                .resume(checkpoint != null).checkpointEvery(request.checkpointEvery())
                .listener(history::add)
                .lossesFile(r -> utf8(history.lossesCsv()))
                .checkpointMetadata("teacher_fingerprint", teacher.fingerprint())
                .checkpointMetadata("preset", String.valueOf(request.preset()))
                .checkpointExtra(LOSSES_CSV, r -> utf8(history.lossesCsv()))
                .checkpointExtra(EVAL_CSV, r -> utf8(history.evaluationsCsv()))
                .runFile(CONFIG_JSON, r -> utf8(cfg.toJson() + "\n"))
                .runFile(EVAL_CSV, r -> history.evaluations().isEmpty() ? null : utf8(history.evaluationsCsv()))
                .runFile(CURVES_PNG, r -> Curves.png(history))
                .runInfo("preset", String.valueOf(request.preset()))
                .runInfo("discriminator", cfg.gan().enabled() ? cfg.gan().discriminator().id() : "none")
                .runInfo("command", String.valueOf(request.command()))
                .exporter((r, dir) -> StudentExport.write(teacher, r.modules().studentGraph(), r.shippedStudent(),
                        cfg.anchors(), "senseflow-shapes-student", provenance(cfg, r.iteration(),
                                trainingSeconds(history), history), dir));
        listeners.forEach(b::listener);
        if (evaluation != null) {
            b.every(request.evalEvery() > 0 ? request.evalEvery() : cfg.iterations(),
                    (r, done, m) -> history.addEvaluation(done, evaluation.evaluate(r, done)));
        }
        try (DistillationRun run = b.build()) {
            if (checkpoint != null) {
                log.accept("resumed from " + checkpoint.folder() + " (iteration " + checkpoint.iteration() + ")");
            }
            if (evaluation != null && run.iteration() == 0 && request.evalEvery() > 0) {
                // the starting point of the curves: G is still the teacher, sampled in the student's few steps
                history.addEvaluation(0, evaluation.evaluate(run, 0));
            }
            long stopAt = request.stopAt() == -1 ? cfg.iterations() : request.stopAt();
            try {
                run.runUntil(stopAt, token);
            } catch (CancelledException e) {
                throw stopped(run, cfg);
            }
            if (run.iteration() < cfg.iterations()) {
                throw stopped(run, cfg);
            }
            double trainingSeconds = trainingSeconds(history);
            Path student = run.exportStudent(request.student());
            log.accept("student exported to " + student);
            return new Result(student, run.iteration(), trainingSeconds, (System.nanoTime() - start) / 1e9, history);
        }
    }

    private CancelledException stopped(DistillationRun run, DistillationConfig cfg) {
        return new CancelledException("distillation stopped before iteration " + run.iteration() + " of "
                + cfg.iterations() + "; checkpoint " + store.folderFor(run.iteration()) + "; continue with --resume --out " + out);
    }

    private static double trainingSeconds(RunHistory history) {
        return history.losses().stream().mapToDouble(r -> r.values().getOrDefault("ms", 0.0)).sum() / 1e3;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void deleteIfExists(Path p) {
        try {
            if (Files.isDirectory(p)) {
                if (io.senseflow.io.FileTrees.isEmptyDirectory(p)) {
                    Files.delete(p);
                }
            } else {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw InvalidRequestException.of("--out " + p, "a file this process can remove (left by an earlier"
                    + " attempt that never reached a checkpoint)", e.toString());
        }
    }

    private Map<String, Object> provenance(DistillationConfig cfg, long iterations, double seconds, RunHistory h) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("made_by", "senseflow distill (io.senseflow.examples.distill.DistillRun)");
        m.put("command", String.valueOf(request.command()));
        m.put("preset", String.valueOf(request.preset()));
        m.put("teacher", request.teacher().dir().toString());
        m.put("teacher_fingerprint", request.teacher().fingerprint());
        m.put("seed", cfg.seed());
        m.put("iterations", iterations);
        m.put("distillation_seconds", Math.round(seconds * 10) / 10.0);
        m.put("machine", machine());
        m.put("config", Json.parse(cfg.toJson()));
        if (!h.evaluations().isEmpty()) {
            m.put("metrics_at_end", new LinkedHashMap<>(h.evaluations().get(h.evaluations().size() - 1).values()));
        }
        return m;
    }

    /** @return a short description of this machine: cores, OS, JVM and, on Linux, the CPU model */
    public static String machine() {
        String cpu = "";
        try {
            Path info = Path.of("/proc/cpuinfo");
            if (Files.isReadable(info)) {
                cpu = Files.readAllLines(info).stream().filter(l -> l.startsWith("model name")).findFirst()
                        .map(l -> l.substring(l.indexOf(':') + 1).trim() + ", ").orElse("");
            }
        } catch (IOException e) {
            cpu = "";
        }
        return String.format(Locale.ROOT, "%s%d cores available to the JVM, %s %s, Java %s", cpu,
                Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"), System.getProperty("os.arch"),
                System.getProperty("java.version"));
    }

    private static String abbrev(String sha) {
        return sha.length() > 12 ? sha.substring(0, 12) + "…" : sha;
    }

    /**
     * Creates the folder if needed and proves that files can be written into it.
     *
     * @param dir the folder
     * @param option the option that named it, for the message
     * @return the absolute folder
     * @throws InvalidRequestException naming the option and the reason
     */
    public static Path requireWritableFolder(Path dir, String option) {
        Path abs = dir.toAbsolutePath().normalize();
        if (Files.exists(abs) && !Files.isDirectory(abs)) {
            throw InvalidRequestException.of(option, "a folder", abs + " (an existing file)");
        }
        try {
            Files.createDirectories(abs);
            Path probe = Files.createTempFile(abs, ".write-probe-", ".tmp");
            Files.delete(probe);
        } catch (IOException | SecurityException e) {
            throw InvalidRequestException.of(option, "a folder this process can write to", abs + " (" + e + ")");
        }
        return abs;
    }

    /** @return the folders a finished run wrote, for messages */
    public List<Path> outputs() {
        List<Path> p = new ArrayList<>();
        p.add(request.student());
        p.add(out.resolve(CURVES_PNG));
        p.add(out.resolve(LOSSES_CSV));
        p.add(out.resolve(CHECKPOINTS));
        return p;
    }
}
