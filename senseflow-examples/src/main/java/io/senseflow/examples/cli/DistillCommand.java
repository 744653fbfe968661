package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.examples.distill.DistillRun;
import io.senseflow.examples.distill.ShapesRun;
import io.senseflow.examples.distill.PeriodicEvaluation;
import io.senseflow.examples.distill.RunHistory;
import io.senseflow.examples.distill.ShapesPresets;
import io.senseflow.examples.distill.TeacherFolder;
import io.senseflow.examples.shapes.ShapesModels;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.onnx.checkpoint.Checkpoint;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tf.run.DistillationRun;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code senseflow distill}: distil a many-step teacher into a few-step student with a SenseFlow preset. */
@Command(name = "distill", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Distil a teacher in the SDK's own layout into a few-step student (DMD2 + IDA + ISG + GAN).",
                "Writes checkpoints, loss curves and the deployable student into --out; Ctrl-C saves a checkpoint that"
                        + " --resume continues bit for bit."},
        footer = {"", "Presets (same budget, same constants; they differ in the terms that are on):",
                "  vanilla-dmd   DMD2 distribution matching with TTUR and backward simulation",
                "  dmd+ida       + implicit distribution alignment",
                "  dmd+ida+isg   + intra-segment guidance",
                "  senseflow     + GAN term (discriminator heads on the fake score's features)",
                "", "Examples:",
                "  senseflow distill --teacher shapes-teacher --preset senseflow --out runs/sf",
                "  senseflow distill --teacher shapes-teacher --out runs/sf --resume",
                "  senseflow distill --preset dmd+ida --print-config > my-config.json",
                "  senseflow distill --teacher shapes-teacher --config my-config.json --out runs/mine",
                "", "The front door (Optimum SD3/SD3.5, FLUX.1, SDXL or SDK-layout folders; the student lands in"
                        + " RUN/student):",
                "  senseflow distill --teacher sd35-onnx --prompts prompts.txt --recipe senseflow --out runs/sd35",
                "  senseflow distill --resume runs/sd35"})
final class DistillCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--teacher", paramLabel = "DIR", description = "the teacher model folder: with --prompts, an"
            + " Optimum SD3/SD3.5, FLUX.1 or SDXL export or a folder in the SDK's layout; without, a Shapes teacher in"
            + " the SDK's layout with a vae_encoder")
    Path teacher;

    @ArgGroup(exclusive = true)
    Source source;

    static final class Source {
        @Option(names = {"--preset", "--recipe"}, paramLabel = "NAME", description = "vanilla-dmd, dmd+ida, dmd+ida+isg or senseflow"
                + " (default: senseflow; with --resume: the checkpoint's config)")
        String preset;

        @Option(names = "--config", paramLabel = "FILE", description = "a DistillationConfig JSON file (see"
                + " --print-config)")
        Path config;
    }

    @Option(names = "--out", paramLabel = "DIR", description = "the run's folder (checkpoints, curves, student)")
    Path out;

    @Option(names = "--resume", arity = "0..1", fallbackValue = "", paramLabel = "RUN", description = "continue the run"
            + " in RUN (or --out) from its latest checkpoint")
    String resumeRun;

    boolean resume;

    @Option(names = "--prompts", paramLabel = "FILE", description = "the front door: distil an Optimum SD3/SD3.5,"
            + " FLUX.1, SDXL or SDK-layout --teacher folder on these prompts (a UTF-8 text file, one prompt per line, or .jsonl"
            + " with \"prompt\" and \"negative_prompt\")")
    Path prompts;

    @Option(names = "--size", paramLabel = "WxH", description = "front door: image size of the run (default: the"
            + " folder's)")
    String size;

    @Option(names = "--t5-length", paramLabel = "N", description = "front door: T5 tokens per prompt (default: the"
            + " folder's)")
    Integer t5Length;

    @Option(names = "--iterations", paramLabel = "N", description = "override the config's iterations")
    Long iterations;

    @Option(names = "--batch", paramLabel = "N", description = "override the config's batch size")
    Integer batch;

    @Option(names = "--seed", paramLabel = "N", description = "override the config's seed")
    Long seed;

    @Option(names = "--checkpoint-every", paramLabel = "N", defaultValue = "250",
            description = "save a checkpoint every N iterations (default: ${DEFAULT-VALUE})")
    long checkpointEvery;

    @Option(names = "--eval-every", paramLabel = "N", defaultValue = "500", description = "evaluate the student every N"
            + " iterations and at the end: FD-T, FD-data, adherence on --eval-samples images, judged by the classifier"
            + " (0: only at the end) (default: ${DEFAULT-VALUE})")
    long evalEvery;

    @Option(names = "--eval-samples", paramLabel = "N", defaultValue = "256",
            description = "images per periodic evaluation (default: ${DEFAULT-VALUE})")
    int evalSamples;

    @Option(names = "--classifier", paramLabel = "DIR", description = "the evaluation classifier (default: the bundled"
            + " one if this build has it; none: no evaluation, loss curves only)")
    String classifier;

    @Option(names = "--stop-at", paramLabel = "N", description = "stop before iteration N as an interruption would"
            + " (a checkpoint is saved; continue with --resume)")
    Long stopAt;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "intra-op threads of ONNX Runtime"
            + " and TensorFlow, 0 for their default (keep it the same when resuming) (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--backbone", paramLabel = "FILE", description = "an ONNX vision backbone (e.g. a DINOv2 export)"
            + " for configs with gan.discriminator vfm; front door: the VFM discriminator's backbone (heads on it, behind"
            + " the teacher's VAE decoder)")
    Path backbone;

    @Option(names = "--data", paramLabel = "DIR|FILE", description = "front door: real samples for the forward-noised"
            + " branch and the GAN's real side: a folder of PNG images of the run's size (encoded with the teacher's"
            + " vae_encoder/) or a .safetensors file of latents [N, C, h, w]")
    Path data;

    @Option(names = "--eval-seed", paramLabel = "N", defaultValue = "2024", description = "prompts and noise of the"
            + " periodic evaluation; choose another seed than the final evaluation's to tune on (default: ${DEFAULT-VALUE})")
    long evalSeed;

    @Option(names = "--track-every", paramLabel = "N", defaultValue = "25", description = "measure the fake-score"
            + " tracking probe (track.* columns of losses.csv) every N iterations, 0 for never (default: ${DEFAULT-VALUE})")
    long trackEvery;

    @Option(names = "--workers", paramLabel = "N", defaultValue = "1", description = "front door: run data-parallel"
            + " on N local worker JVMs (loopback ports); each computes batch / N samples of every global batch, the"
            + " gradients are averaged; worker 0 writes the run folder (default: ${DEFAULT-VALUE})")
    int workers;

    @Option(names = "--cluster", paramLabel = "HOST:PORT,...", description = "front door: join a multi-machine"
            + " data-parallel run as worker --task of these workers (the same command on every machine but --task; a"
            + " shared --out folder)")
    String cluster;

    @Option(names = "--task", paramLabel = "I", description = "front door, with --cluster: this machine's worker index"
            + " (0 is the group leader and writes the run folder)")
    Integer task;

    @Option(names = "--collective-timeout-ms", paramLabel = "MS", defaultValue = "60000", description = "data-parallel:"
            + " bound of every all-reduce; a worker that hangs longer stops the run (default: ${DEFAULT-VALUE})")
    long collectiveTimeoutMs;

    @Option(names = "--max-restarts", paramLabel = "N", defaultValue = "2", description = "--workers: restarts of all"
            + " workers from the last checkpoint after a worker died or hung (default: ${DEFAULT-VALUE})")
    int maxRestarts;

    @Option(names = "--print-config", description = "print the config JSON (preset or file, with overrides) and exit")
    boolean printConfig;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Option(names = "--lora-rank", paramLabel = "R", description = "train rank-R LoRA adapters on the denoiser's"
            + " projections instead of every weight (G and F over one frozen base); the front door exports the merged"
            + " student and RUN/adapters.safetensors, the Shapes path the student in its base + adapters form")
    Integer loraRank;

    @Option(names = "--lora-alpha", paramLabel = "A", description = "with --lora-rank: the adapters' alpha (scale"
            + " alpha / R; default: R)")
    Double loraAlpha;

    @Option(names = "--lora-targets", paramLabel = "PATTERN", description = "with --lora-rank: adapt only MatMul/Gemm"
            + " projections whose node or weight name contains a match of this regular expression (default: all)")
    String loraTargets;

    @Option(names = "--lora-bf16", description = "with --lora-rank: hold the frozen base (and a TensorFlow teacher) in"
            + " bfloat16 and run its matrix products in bfloat16; the adapters, their gradients and AdamW moments stay"
            + " float32 (docs/memory.md, \"bfloat16 compute\")")
    boolean loraBf16;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        DistillationConfig explicit = explicitConfig();   // an unknown preset or a bad file fails here, first
        if (printConfig) {
            stdout.println(withOverrides(explicit != null ? explicit : ShapesPresets.named("senseflow")).toJson());
            stdout.flush();
            return 0;
        }
        resolveOut();
        // the front door: a prompt file, or a resume of its run (a resume without --teacher of a folder that is not a
        // Shapes run is one: a folder that is no run is refused naming its run.json)
        if (frontDoor()) {
            if (workers != 1 || cluster != null || task != null) {
                return FrontDoor.runDataParallel(this, err, stdout);
            }
            return FrontDoor.run(this, err, stdout, explicit);
        }
        if (workers != 1 || cluster != null || task != null) {
            throw InvalidRequestException.of("--workers/--cluster", "a front-door run (--prompts, or --resume of one)",
                    "a Shapes teacher run (not data-parallel)");
        }
        if (teacher == null && resume) {
            teacher = ShapesRun.recordedTeacher(out).orElse(null);   // --resume RUN alone: the teacher run.json names
        }
        if (teacher == null) {
            throw InvalidRequestException.of("--teacher", "a teacher model folder", "none");
        }
        TeacherFolder t = TeacherFolder.read(teacher);
        Path outDir = DistillRun.requireWritableFolder(out, "--out");
        Optional<Checkpoint> latest = resume ? latestCheckpoint(outDir) : Optional.empty();
        DistillationConfig cfg = withOverrides(explicit != null ? explicit : latest
                .map(c -> DistillationConfig.fromJson(c.snapshot().configJson()))
                .orElseGet(() -> ShapesPresets.named("senseflow")));
        if (evalSamples < 2) {
            throw InvalidRequestException.of("--eval-samples", "at least 2", evalSamples);
        }
        OnnxModel judgeGraph = ShapesModels.classifierOption(classifier);
        DistillRun run = DistillRun.prepare(new DistillRun.Request(t, cfg, presetName(), outDir, null, resume,
                checkpointEvery, evalEvery, stopAt == null ? -1 : stopAt, new ShapesRun.Settings(threads, backbone, null,
                trackEvery).withLora(FrontDoor.loraConfig(this)), commandLine()));
        if (!quiet) {
            err.printf(Locale.ROOT, "senseflow: distilling %s (%s) into %s: %d iterations, batch %d%s%n", t.dir(),
                    presetName(), outDir, cfg.iterations(), cfg.batchSize(), run.resumingFrom()
                            .map(c -> ", resuming at iteration " + c.iteration()).orElse(""));
            err.flush();
        }
        DistillRun.Result result;
        if (judgeGraph == null && !quiet) {
            err.println("senseflow: no evaluation classifier (" + (classifier == null ? "none bundled" : "--classifier none")
                    + "): loss curves only");
        }
        try (InterruptGuard guard = new InterruptGuard(120);
             AttributeJudge judge = judgeGraph == null ? null : AttributeJudge.of(judgeGraph, threads)) {
            DistillProgress progress = new DistillProgress(err, "distill", cfg.iterations());
            PeriodicEvaluation eval = judge == null ? null : new PeriodicEvaluation(judge, evalSamples, evalSeed);
            result = run.run(guard.token(), quiet ? List.of() : List.of(progress), eval, m -> {
                if (!quiet) {
                    err.println("senseflow: " + m);
                    err.flush();
                }
            });
        }
        stdout.printf(Locale.ROOT, "student:     %s%n", result.student());
        stdout.printf(Locale.ROOT, "curves:      %s%n", outDir.resolve("curves.png"));
        stdout.printf(Locale.ROOT, "losses:      %s%n", outDir.resolve("losses.csv"));
        stdout.printf(Locale.ROOT, "checkpoints: %s%n", outDir.resolve(DistillRun.CHECKPOINTS));
        stdout.printf(Locale.ROOT, "%d iterations, %.1f s of distillation%n", result.iterations(), result.trainingSeconds());
        List<RunHistory.Row> evals = result.history().evaluations();
        if (!evals.isEmpty()) {
            RunHistory.Row last = evals.get(evals.size() - 1);
            stdout.printf(Locale.ROOT, "evaluation after %d iterations (%d images): %s%n", last.iteration(), evalSamples,
                    last.values());
        }
        stdout.flush();
        return 0;
    }

    /** Sets {@link #resume} and {@link #out} from {@code --resume [RUN]} and {@code --out}. */
    void resolveOut() {
        resume = resumeRun != null;
        if (resumeRun != null && !resumeRun.isEmpty()) {
            if (out != null && !out.toAbsolutePath().normalize().equals(Path.of(resumeRun).toAbsolutePath().normalize())) {
                throw InvalidRequestException.of("--resume " + resumeRun, "the same folder as --out " + out,
                        "another folder");
            }
            out = Path.of(resumeRun);
        }
        if (out == null) {
            throw InvalidRequestException.of("--out", "the run's folder", "none");
        }
    }

    /** @return whether this command is a front-door run ({@link DistillationRun}) */
    boolean frontDoor() {
        if (prompts != null) {
            return true;
        }
        // a Shapes run's folder is a front-door folder too, continued by the Shapes path (its data and discriminator
        // are the Shapes plug-ins, not a prompt file)
        return resume && !ShapesRun.isShapesRun(out) && (DistillationRun.isRun(out) || teacher == null);
    }

    /** @return the arguments as given on the command line */
    List<String> originalArgs() {
        return spec.commandLine().getParseResult().originalArgs();
    }

    String presetName() {
        if (source != null && source.config != null) {
            return "config " + source.config.getFileName();
        }
        return source != null && source.preset != null ? source.preset.toLowerCase(Locale.ROOT) : "senseflow";
    }

    /** @return the config of --config or --preset, or null when neither was given */
    DistillationConfig explicitConfig() {
        if (source != null && source.config != null) {
            return readConfig(source.config);
        }
        if (source != null && source.preset != null) {
            return ShapesPresets.named(source.preset);
        }
        return null;
    }

    /** @return the config with --iterations, --batch and --seed applied */
    DistillationConfig withOverrides(DistillationConfig base) {
        DistillationConfig.Builder b = base.toBuilder();
        if (iterations != null) {
            b.iterations(iterations);
        }
        if (batch != null) {
            b.batchSize(batch);
        }
        if (seed != null) {
            b.seed(seed);
        }
        try {
            return b.build();
        } catch (InvalidRequestException e) {
            throw new InvalidRequestException("--iterations/--batch/--seed: " + e.getMessage(), e);
        }
    }

    static DistillationConfig readConfig(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw InvalidRequestException.of("--config", "a DistillationConfig JSON file", file + " (no such file)");
        } catch (IOException e) {
            throw InvalidRequestException.of("--config", "a readable DistillationConfig JSON file", file + " (" + e + ")");
        }
        try {
            return DistillationConfig.fromJson(text);
        } catch (InvalidRequestException e) {
            throw new InvalidRequestException("--config " + file + ": " + e.getMessage()
                    + " (print a valid one with: " + Launcher.command()
                    + " distill --preset senseflow --print-config)", e);
        }
    }

    private static Optional<Checkpoint> latestCheckpoint(Path outDir) {
        Path root = outDir.resolve(DistillRun.CHECKPOINTS);
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        return CheckpointStore.at(root).latest().map(CheckpointStore::load);
    }

    private String commandLine() {
        List<String> args = spec.commandLine().getParseResult().originalArgs();
        return "senseflow " + String.join(" ", args);
    }
}
