package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.image.Image;
import io.senseflow.noise.NoiseSource;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.ModelFamily;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.ExecutionProvider;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code senseflow generate}: load a model folder, generate, write PNGs that carry their parameters. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate images from a text prompt with a model folder (Optimum export of SD3/SD3.5, FLUX.1, "
                + "SDXL, or a SenseFlow folder).",
                "Each PNG carries its prompt, seed, steps, sigmas, guidance and size in text chunks."},
        footer = {"", "Examples:",
                "  senseflow generate --model sd3.5-medium-onnx --prompt \"a red fox in the snow\" --steps 28 --out fox.png",
                "  senseflow generate --model senseflow-sd35 --prompt \"a red fox\" --batch 4 --seed 7 --out out/",
                "  senseflow generate --model sd3.5-medium-onnx --adapters run/adapters.safetensors --senseflow"
                        + " --prompt \"a red fox\" --out fox.png"})
final class GenerateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "the model folder")
    Path model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT",
            description = "the prompt; repeat for several prompts in one batch")
    List<String> prompts;

    @Option(names = "--negative-prompt", paramLabel = "TEXT", description = "what to steer away from (CFG models)")
    String negativePrompt;

    @ArgGroup(exclusive = true)
    Schedule schedule;

    static final class Schedule {
        @Option(names = "--steps", paramLabel = "N", description = "sampling steps (default: the model's)")
        Integer steps;

        @Option(names = "--sigmas", split = ",", paramLabel = "a,b,c",
                description = "explicit noise levels in (0, 1], decreasing; 0 is appended")
        double[] sigmas;
    }

    @Option(names = "--guidance", paramLabel = "W", description = "guidance scale (default: the model's)")
    Double guidance;

    @Option(names = "--seed", defaultValue = "0", description = "noise seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--noise", defaultValue = "sdk", paramLabel = "sdk|torch",
            description = {"noise source (default: ${DEFAULT-VALUE}): sdk = the SDK's counter-based noise (each image its "
                    + "own key, batch-independent); torch = PyTorch's CPU generator seeded with --seed, as diffusers "
                    + "draws it, so a seed gives the same image as the Python pipeline"})
    String noise;

    @Option(names = "--width", paramLabel = "PX", description = "image width (default: the model's)")
    Integer width;

    @Option(names = "--height", paramLabel = "PX", description = "image height (default: the model's)")
    Integer height;

    @Option(names = "--batch", defaultValue = "1", paramLabel = "N", description = "images per prompt (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--provider", defaultValue = "cpu", paramLabel = "cpu|cuda",
            description = "execution provider; cuda falls back to cpu with a warning (default: ${DEFAULT-VALUE})")
    String provider;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "threads per operator, 0 for ONNX Runtime's choice (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--family", paramLabel = "NAME", description = "sd3, flux, sdxl or senseflow (default: detected)")
    String family;

    @Option(names = "--senseflow", negatable = true,
            description = "treat the weights as a SenseFlow checkpoint (few-step anchors, no CFG); default: the marker "
                    + "in model_index.json")
    Boolean senseflow;

    @Option(names = "--t5-length", paramLabel = "N", description = "T5 tokens per prompt (default: the model preset)")
    Integer t5Length;

    @Option(names = "--adapters", paramLabel = "FILE",
            description = "LoRA adapters (a LoRA distillation's adapters.safetensors) folded into the denoiser's weights;"
                    + " with a run's adapters, --model is its teacher and --senseflow samples it as the student")
    Path adapters;

    @Option(names = "--out", required = true, paramLabel = "FILE_OR_DIR",
            description = "a .png file (one image; several get -0, -1, ... suffixes) or a folder")
    Path out;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        GenerationRequest request = request();
        LoadOptions options = options();
        List<Path> targets = targets(request.batchSize());
        try (LoadedModel m = Models.load(model, options)) {
            if (!quiet) {
                err.println("senseflow: " + m.describe());
                err.flush();
            }
            GenerationResult result;
            try {
                result = m.pipeline().generate(request,
                        quiet ? io.senseflow.pipeline.ProgressListener.none() : new ProgressBar(err, "sampling"),
                        CancellationToken.none());
            } catch (InvalidRequestException e) {
                throw withOptionNames(e);
            }
            for (int i = 0; i < result.images().size(); i++) {
                Map<String, String> extra = new LinkedHashMap<>();
                extra.put("model_family", m.family().id());
                extra.put("senseflow_checkpoint", Boolean.toString(m.senseflowCheckpoint()));
                if (adapters != null) {
                    extra.put("lora_adapters", adapters.getFileName().toString());
                }
                Image image = result.images().get(i).withMetadata(extra);
                Path target = targets.get(i);
                if (target.getParent() != null) {
                    Files.createDirectories(target.getParent());
                }
                image.writePng(target);
                stdout.println(target);
            }
            stdout.flush();
            if (!quiet) {
                err.printf(Locale.ROOT, "senseflow: %d image(s) in %.2f s (text %.2f s, sampling %.2f s, decoding %.2f s)%n",
                        result.images().size(), result.timings().totalNanos() / 1e9, result.timings().encodeNanos() / 1e9,
                        result.timings().denoiseNanos() / 1e9, result.timings().decodeNanos() / 1e9);
                err.flush();
            }
        }
        return 0;
    }

    /** Request field names as the command line spells them, for messages. */
    private static final Map<String, String> OPTION_NAMES = Map.of("numInferenceSteps", "--steps", "sigmas", "--sigmas",
            "guidanceScale", "--guidance", "width", "--width", "height", "--height", "imagesPerPrompt", "--batch",
            "prompts", "--prompt", "negativePrompts", "--negative-prompt", "noise", "--noise");

    /** @return the exception with a leading request field name replaced by its option name */
    static InvalidRequestException withOptionNames(InvalidRequestException e) {
        String m = e.getMessage();
        for (Map.Entry<String, String> n : OPTION_NAMES.entrySet()) {
            if (m.startsWith(n.getKey() + ":") || m.startsWith(n.getKey() + "[")) {
                return new InvalidRequestException(n.getValue() + m.substring(n.getKey().length()), e);
            }
        }
        return e;
    }

    GenerationRequest request() {
        GenerationRequest.Builder b = GenerationRequest.builder().prompts(prompts).seed(seed).imagesPerPrompt(batch);
        if (negativePrompt != null) {
            b.negativePrompt(negativePrompt);
        }
        try {
            b.noiseSource(NoiseSource.fromId(noise));
        } catch (InvalidRequestException e) {
            throw withOptionNames(e);
        }
        if (schedule != null && schedule.steps != null) {
            b.numInferenceSteps(schedule.steps);
        }
        if (schedule != null && schedule.sigmas != null) {
            b.sigmas(schedule.sigmas);
        }
        if (guidance != null) {
            b.guidanceScale(guidance);
        }
        if (width != null) {
            b.width(width);
        }
        if (height != null) {
            b.height(height);
        }
        try {
            return b.build();
        } catch (InvalidRequestException e) {
            throw withOptionNames(e);
        }
    }

    LoadOptions options() {
        ExecutionProvider p;
        switch (provider.toLowerCase(Locale.ROOT)) {
            case "cpu" -> p = ExecutionProvider.CPU;
            case "cuda" -> p = ExecutionProvider.CUDA;
            default -> throw InvalidRequestException.of("--provider", "cpu or cuda", provider);
        }
        if (threads < 0) {
            throw InvalidRequestException.of("--threads", "0 or more", threads);
        }
        SessionConfig config = SessionConfig.builder().executionProvider(p).intraOpThreads(threads).build();
        LoadOptions.Builder b = LoadOptions.builder().sessionConfig(config).senseflowCheckpoint(senseflow)
                .t5SequenceLength(t5Length).adapters(adapters);
        if (family != null) {
            try {
                b.family(ModelFamily.fromId(family));
            } catch (InvalidRequestException e) {
                throw new InvalidRequestException("--family: " + e.getMessage().replaceFirst("^family: ", ""), e);
            }
        }
        return b.build();
    }

    /** Where each image goes: a .png path for one image (suffixed for several), otherwise files in a folder. */
    List<Path> targets(int count) {
        String name = out.getFileName() == null ? "" : out.getFileName().toString();
        boolean png = name.toLowerCase(Locale.ROOT).endsWith(".png");
        if (png && Files.isDirectory(out)) {
            throw InvalidRequestException.of("--out", "a .png file or a folder", out + " (a folder named like a file)");
        }
        if (!png && Files.exists(out) && !Files.isDirectory(out)) {
            throw InvalidRequestException.of("--out", "a .png file or a folder", out + " (an existing file that is not .png)");
        }
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            if (png) {
                String stem = name.substring(0, name.length() - 4);
                paths.add(count == 1 ? out : out.resolveSibling(stem + "-" + i + ".png"));
            } else {
                paths.add(out.resolve(String.format(Locale.ROOT, "senseflow-%d-%03d.png", seed, i)));
            }
        }
        return paths;
    }
}
