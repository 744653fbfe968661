package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Recipe;
import io.senseflow.io.FileTrees;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.tf.run.DistillationRun;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** {@code senseflow distill --prompts}: the front door, a {@link DistillationRun} from an Optimum folder. */
final class FrontDoor {
    private FrontDoor() {
    }

    static int run(DistillCommand c, PrintWriter err, PrintWriter stdout, DistillationConfig ignoredShapesConfig) {
        DistillationRun.Builder b;
        if (c.resume && c.teacher == null) {
            b = DistillationRun.resume(c.out);
        } else {
            if (c.teacher == null) {
                throw InvalidRequestException.of("--teacher", "a teacher model folder", "none");
            }
            b = DistillationRun.builder(c.teacher).folder(c.out).resume(c.resume);
        }
        if (c.prompts != null) {
            b.prompts(c.prompts);
        }
        if (c.backbone != null) {
            b.backbone(c.backbone);
        }
        if (c.data != null) {
            b.realData(c.data);
        }
        if (c.source != null && c.source.config != null) {
            b.config(DistillCommand.readConfig(c.source.config));
        } else if (c.source != null && c.source.preset != null) {
            b.recipe(Recipe.fromId(c.source.preset));
        }
        if (c.iterations != null) {
            b.iterations(c.iterations);
        }
        if (c.batch != null) {
            b.batchSize(c.batch);
        }
        if (c.seed != null) {
            b.seed(c.seed);
        }
        if (c.size != null) {
            String[] wh = c.size.toLowerCase(Locale.ROOT).split("x");
            try {
                b.imageSize(Integer.parseInt(wh[0].trim()), Integer.parseInt(wh[1].trim()));
            } catch (RuntimeException e) {
                throw InvalidRequestException.of("--size", "WxH, e.g. 1024x1024", c.size);
            }
        }
        LoadOptions.Builder lo = LoadOptions.builder();
        if (c.t5Length != null) {
            lo.t5SequenceLength(c.t5Length);
        }
        if (c.threads > 0) {
            lo.sessionConfig(SessionConfig.builder().intraOpThreads(c.threads).interOpThreads(1).build());
        }
        b.loadOptions(lo.build()).threads(c.threads).checkpointEvery(c.checkpointEvery);
        io.senseflow.tf.lora.LoraConfig lora = loraConfig(c);
        if (lora != null) {
            b.lora(lora);
        }
        long stopAt = c.stopAt == null ? Long.MAX_VALUE : c.stopAt;
        long start = System.nanoTime();
        try (InterruptGuard guard = new InterruptGuard(120)) {
            DistillProgress[] progress = new DistillProgress[1];
            if (!c.quiet) {
                b.listener(m -> progress[0].onIteration(m));
            }
            try (DistillationRun run = b.build()) {
                if (!c.quiet) {
                    progress[0] = new DistillProgress(err, "distill", run.config().iterations());
                    err.printf(Locale.ROOT, "senseflow: distilling %s (%s) into %s: %d iterations, batch %d%s%n",
                            run.family().id(), c.presetName(), run.folder(), run.config().iterations(),
                            run.config().batchSize(), run.resumedFrom().map(i -> ", resuming at iteration " + i)
                                    .orElse(""));
                    err.flush();
                }
                run.runUntil(stopAt, guard.token());
                stdout.printf(Locale.ROOT, "losses:      %s%n", run.folder().resolve(DistillationRun.LOSSES));
                stdout.printf(Locale.ROOT, "checkpoints: %s%n", run.folder().resolve(DistillationRun.CHECKPOINTS));
                if (run.iteration() >= run.config().iterations()) {
                    Path student = run.folder().resolve("student");
                    Path fresh = run.folder().resolve("student.new");
                    FileTrees.delete(fresh);
                    run.exportStudent(fresh);
                    FileTrees.delete(student);
                    Files.move(fresh, student);
                    stdout.printf(Locale.ROOT, "student:     %s%n", student);
                    if (run.lora() != null) {
                        Path adapters = run.exportAdapters(run.folder().resolve("adapters.safetensors"));
                        stdout.printf(Locale.ROOT, "adapters:    %s (%s)%n", adapters, run.lora());
                    }
                } else {
                    stdout.printf(Locale.ROOT, "stopped at iteration %d of %d: continue with --resume %s%n",
                            run.iteration(), run.config().iterations(), run.folder());
                }
                stdout.printf(Locale.ROOT, "%d iterations, %.1f s%n", run.iteration(),
                        (System.nanoTime() - start) / 1e9);
                stdout.flush();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return 0;
    }

    /** The LoRA settings of {@code --lora-rank/--lora-alpha/--lora-targets}, or null without {@code --lora-rank}. */
    static io.senseflow.tf.lora.LoraConfig loraConfig(DistillCommand c) {
        if (c.loraRank == null) {
            if (c.loraAlpha != null || c.loraTargets != null) {
                throw InvalidRequestException.of(c.loraAlpha != null ? "--lora-alpha" : "--lora-targets",
                        "--lora-rank R as well", "no --lora-rank");
            }
            return null;
        }
        io.senseflow.tf.lora.LoraConfig.Builder l = io.senseflow.tf.lora.LoraConfig.rank(c.loraRank)
                .targets(c.loraTargets);
        if (c.loraAlpha != null) {
            l.alpha(c.loraAlpha);
        }
        return l.build();
    }
}
