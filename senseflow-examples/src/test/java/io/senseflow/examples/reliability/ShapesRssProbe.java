package io.senseflow.examples.reliability;

import io.senseflow.examples.shapes.ShapesModels;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.GenerationRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Run in a child JVM by {@link BundledModelMemoryTest}: loads the bundled Shapes teacher once and generates from it
 * (two prompts a request, the model's default 50 steps, a new seed each time), printing the process's resident memory
 * ({@code VmRSS}) after the given numbers of generations, one line each: {@code rss <generations> <kB> <seconds>}.
 * Arguments: the counts, in increasing order.
 */
public final class ShapesRssProbe {
    private static final List<String> PROMPTS = List.of("a large red circle in the center on a dark background",
            "a small blue square at the top left on a light background", "a green triangle at the bottom right",
            "a medium yellow star on a light background", "a purple circle at the top");

    private ShapesRssProbe() {
    }

    public static void main(String[] args) throws IOException {
        LoadOptions options = LoadOptions.builder()
                .sessionConfig(SessionConfig.builder().intraOpThreads(1).interOpThreads(1).build()).build();
        long t0 = System.nanoTime();
        int done = 0;
        try (LoadedModel model = ShapesModels.teacher(options)) {
            for (String count : args) {
                for (int until = Integer.parseInt(count); done < until; done++) {
                    GenerationRequest r = GenerationRequest.builder()
                            .prompts(List.of(PROMPTS.get(done % PROMPTS.size()), PROMPTS.get((done + 2) % PROMPTS.size())))
                            .seed(done).build();
                    if (model.pipeline().generate(r).images().size() != 2) {
                        throw new AssertionError("expected 2 images");
                    }
                }
                System.gc();
                System.out.printf(java.util.Locale.ROOT, "rss %d %d %.1f%n", done, residentKb(), (System.nanoTime() - t0) / 1e9);
                System.out.flush();
            }
        }
        System.out.println("closed");
    }

    /** @return VmRSS of this process in kB */
    static long residentKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
            }
        }
        throw new IOException("/proc/self/status has no VmRSS line");
    }
}
