package io.senseflow.onnx.reliability;

import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.TextToImagePipeline;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Run in a child JVM by {@link NativeMemoryTest}: generates from a model folder and prints the process's resident
 * memory ({@code VmRSS} of {@code /proc/self/status}) after given numbers of generations, one line each:
 * {@code rss <generations> <kB>}. Arguments: the mode ({@code generate} or {@code reload}), the folder, then the
 * counts in increasing order.
 *
 * <ul>
 *   <li>{@code generate}: one model, generations of four images each with varying prompts and seeds;</li>
 *   <li>{@code reload}: each "generation" loads the whole folder (five sessions, a tokenizer), generates once and
 *       closes it again, so leaked sessions, tokenizers or runtimes would accumulate.</li>
 * </ul>
 */
public final class RssProbe {
    static final int IMAGES = 4;
    private static final List<String> PROMPTS = List.of("a red cat", "the blue dog on a mat", "a fox", "");

    private RssProbe() {
    }

    public static void main(String[] args) throws IOException {
        String mode = args[0];
        Path folder = Path.of(args[1]);
        LoadOptions options = LoadOptions.builder()
                .sessionConfig(SessionConfig.builder().intraOpThreads(1).interOpThreads(1).build()).build();
        int done = 0;
        LoadedModel model = mode.equals("generate") ? Models.load(folder, options) : null;
        try {
            for (int a = 2; a < args.length; a++) {
                int until = Integer.parseInt(args[a]);
                for (; done < until; done++) {
                    GenerationRequest r = GenerationRequest.builder().prompt(PROMPTS.get(done % PROMPTS.size()))
                            .imagesPerPrompt(IMAGES).seed(done).build();
                    if (model != null) {
                        generate(model.pipeline(), r);
                    } else {
                        try (LoadedModel m = Models.load(folder, options)) {
                            generate(m.pipeline(), r);
                        }
                    }
                }
                System.gc();
                System.out.println("rss " + done + " " + residentKb());
                System.out.flush();
            }
        } finally {
            if (model != null) {
                model.close();
                System.out.println("closed, open models " + model.runtime().openModels());
            }
        }
    }

    private static void generate(TextToImagePipeline p, GenerationRequest r) {
        if (p.generate(r).images().size() != IMAGES) {
            throw new AssertionError("expected " + IMAGES + " images");
        }
    }

    /** @return VmRSS in kB */
    static long residentKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
            }
        }
        throw new IOException("/proc/self/status has no VmRSS line");
    }
}
