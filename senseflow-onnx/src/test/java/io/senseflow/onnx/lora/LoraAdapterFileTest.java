package io.senseflow.onnx.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.ModelLoadException;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.OnnxGraph;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adapter files on the sampling side, on the shared sd3 Optimum fixture (a MatMul weight stored {@code in x out} and a
 * Gemm weight with {@code transB = 1}) and a small graph reading its weight through a Transpose: the merged weights
 * against a direct double computation, {@code Models.load} with adapters changing the images and nothing else, and
 * every kind of bad file refused with the file named. The end-to-end check against a real LoRA run's merged export
 * is senseflow-tf's {@code LoraAdapterLoadTest}.
 */
class LoraAdapterFileTest {
    static final String MATMUL = "onnx::MatMul_1154"; // context_embedder, stored [80, 36]: in 80, out 36
    static final String GEMM = "time_text_embed.timestep_embedder.linear_1.weight"; // stored [36, 256], transB = 1
    static final LoadOptions OPTIONS = LoadOptions.builder().sessionConfig(SessionConfig.builder().intraOpThreads(1)
            .interOpThreads(1).build()).build();

    @TempDir
    Path dir;
    Path teacher;

    @BeforeEach
    void copy() {
        teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("sd3"));
    }

    /** An adapter of the given sizes with seeded values, scaled up so the change is visible in the images. */
    static void adapter(SafetensorsWriter w, String weight, int in, int out, int rank, long seed) {
        RandomStream rs = new RandomStream(seed, 3, 0);
        float[] down = new float[in * rank];
        float[] up = new float[rank * out];
        for (int i = 0; i < down.length; i++) {
            down[i] = (float) rs.nextGaussian();
        }
        for (int i = 0; i < up.length; i++) {
            up[i] = (float) (0.2 * rs.nextGaussian());
        }
        w.addFloats(weight + LoraAdapterFile.DOWN, down, in, rank);
        w.addFloats(weight + LoraAdapterFile.UP, up, rank, out);
    }

    static SafetensorsWriter withMetadata(int rank, double alpha) {
        SafetensorsWriter w = new SafetensorsWriter();
        w.metadata(LoraAdapterFile.CONFIG_KEY, "{\"rank\":" + rank + ",\"alpha\":" + alpha + "}");
        w.metadata(LoraAdapterFile.SCALE_KEY, Double.toString(alpha / rank));
        return w;
    }

    Path sd3Adapters(String name) {
        SafetensorsWriter w = withMetadata(3, 5);
        adapter(w, MATMUL, 80, 36, 3, 1);
        adapter(w, GEMM, 256, 36, 3, 2);
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    Path transformer() {
        return teacher.resolve("transformer").resolve("model.onnx");
    }

    /** W'[r][c] computed straight from the definition, in double, for a weight stored {@code in x out} or transposed. */
    static void assertMerged(float[] base, float[] merged, float[] down, float[] up, int in, int out, int rank,
                             double scale, boolean transposed) {
        int checked = 0;
        for (int r = 0; r < (transposed ? out : in); r++) {
            for (int c = 0; c < (transposed ? in : out); c++) {
                int i = transposed ? c : r;
                int o = transposed ? r : c;
                double dot = 0;
                for (int k = 0; k < rank; k++) {
                    dot += (double) down[i * rank + k] * (double) up[k * out + o];
                }
                int at = r * (transposed ? in : out) + c;
                assertThat(merged[at]).isEqualTo((float) (base[at] + scale * dot));
                checked++;
            }
        }
        assertThat(checked).isEqualTo(in * out);
    }

    @Test
    void mergesMatMulAndGemmWeightsAndNothingElse() throws IOException {
        Path file = sd3Adapters("adapters.safetensors");
        LoraAdapterFile a = LoraAdapterFile.read(file);
        assertThat(a.rank()).isEqualTo(3);
        assertThat(a.scale()).isEqualTo(5.0 / 3);
        assertThat(a.weights()).containsExactly(MATMUL, GEMM);
        OnnxModel base = OnnxModel.read(transformer());
        OnnxModel merged = a.applyTo(base, "sd3 transformer");
        assertThat(merged.graph().nodes()).isEqualTo(base.graph().nodes());
        try (io.senseflow.onnx.safetensors.SafetensorsFile st = io.senseflow.onnx.safetensors.SafetensorsFile.open(file)) {
            assertMerged(base.graph().initializer(MATMUL).orElseThrow().toFloats(), merged.graph().initializer(MATMUL)
                    .orElseThrow().toFloats(), st.floats(MATMUL + ".lora_down"), st.floats(MATMUL + ".lora_up"), 80, 36, 3,
                    5.0 / 3, false);
            assertMerged(base.graph().initializer(GEMM).orElseThrow().toFloats(), merged.graph().initializer(GEMM)
                    .orElseThrow().toFloats(), st.floats(GEMM + ".lora_down"), st.floats(GEMM + ".lora_up"), 256, 36, 3,
                    5.0 / 3, true);
        }
        int changed = 0;
        for (TensorValue t : base.graph().initializers()) {
            TensorValue m = merged.graph().initializer(t.name()).orElseThrow();
            if (t.name().equals(MATMUL) || t.name().equals(GEMM)) {
                assertThat(m.toFloats()).isNotEqualTo(t.toFloats());
                changed++;
            } else {
                assertThat(m).as(t.name()).isSameAs(t);
            }
        }
        assertThat(changed).isEqualTo(2);
    }

    @Test
    void mergesAWeightReadThroughATranspose() {
        // y = x @ Transpose(W), W stored out x in (3 x 5), as exporters write x @ W.T
        float[] w = new float[15];
        for (int i = 0; i < w.length; i++) {
            w[i] = 0.1f * i - 0.7f;
        }
        OnnxGraph g = OnnxGraph.of("t", List.of(new OnnxNode("Transpose", List.of("W"), List.of("Wt"), "tr", "", List.of()),
                        new OnnxNode("MatMul", List.of("x", "Wt"), List.of("y"), "mm", "", List.of())),
                List.of(TensorValue.ofFloats("W", w, 3, 5)), List.of(ValueInfo.tensor("x", DataType.FLOAT, new Dim.Fixed(2), new Dim.Fixed(5))),
                List.of(ValueInfo.tensor("y", DataType.FLOAT, new Dim.Fixed(2), new Dim.Fixed(3))));
        OnnxModel m = OnnxModel.read(transformer()).withGraph(g);
        SafetensorsWriter sw = withMetadata(2, 4);
        adapter(sw, "W", 5, 3, 2, 9);
        Path p = dir.resolve("t.safetensors");
        sw.write(p);
        LoraAdapterFile a = LoraAdapterFile.read(p);
        float[] merged = a.applyTo(m, "tiny").graph().initializer("W").orElseThrow().toFloats();
        try (io.senseflow.onnx.safetensors.SafetensorsFile st = io.senseflow.onnx.safetensors.SafetensorsFile.open(p)) {
            assertMerged(w, merged, st.floats("W.lora_down"), st.floats("W.lora_up"), 5, 3, 2, 2.0, true);
        }
        // the same weight also read by an Add: nothing an adapter can be folded into
        OnnxGraph also = g.withNodes(List.of(g.nodes().get(0), g.nodes().get(1),
                new OnnxNode("Add", List.of("W", "W"), List.of("z"), "add", "", List.of())));
        assertThatThrownBy(() -> a.applyTo(m.withGraph(also), "tiny")).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("Add node 'add'");
    }

    @Test
    void modelsLoadAppliesTheAdaptersToTheDenoiser() {
        Path file = sd3Adapters("adapters.safetensors");
        GenerationRequest r = GenerationRequest.builder().prompt("a red cat").numInferenceSteps(2).seed(4).width(32)
                .height(32).build();
        Tensor plain;
        Tensor adapted;
        try (LoadedModel m = Models.load(teacher, OPTIONS)) {
            plain = m.pipeline().generate(r).latents();
        }
        try (LoadedModel m = Models.load(teacher, OPTIONS.toBuilder().adapters(file).build())) {
            adapted = m.pipeline().generate(r).latents();
            assertThat(m.pipeline().generate(r).latents()).as("deterministic").isEqualTo(adapted);
        }
        // the same merged weights written as a plain model file: the same latents, bit for bit
        OnnxModel merged = LoraAdapterFile.read(file).applyTo(OnnxModel.read(transformer()), "sd3");
        Path copy = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("merged"));
        merged.write(copy.resolve("transformer").resolve("model.onnx"));
        try (LoadedModel m = Models.load(copy, OPTIONS)) {
            assertThat(m.pipeline().generate(r).latents()).isEqualTo(adapted);
        }
        // the teacher's transformer with its weights in an external data file, as Optimum writes models over 2 GB:
        // the untouched weights stay references into it, and the adapted model samples the same
        Path external = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("external"));
        Path externalModel = external.resolve("transformer").resolve("model.onnx");
        OnnxModel.read(transformer()).write(externalModel, io.senseflow.onnx.ir.WriteOptions.externalData(1024));
        assertThat(externalModel.resolveSibling("model.onnx_data")).isRegularFile();
        assertThat(OnnxModel.read(externalModel).graph().initializer("pos_embed.proj.weight").orElseThrow().isExternal())
                .isTrue();
        try (LoadedModel m = Models.load(external, OPTIONS.toBuilder().adapters(file).build())) {
            assertThat(m.pipeline().generate(r).latents()).isEqualTo(adapted);
        }
        float[] a = adapted.toArray();
        float[] b = plain.toArray();
        double diff = 0;
        for (int i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
        }
        assertThat(diff).as("adapters change the latents").isGreaterThan(1e-3);
    }

    @Test
    void adaptsTheInHouseTransformerWhoseWeightsAreReadThroughTransposes() {
        Path folder = io.senseflow.onnx.testing.TinyModelFolders.senseflow(dir.resolve("tiny"), 5).dir();
        Path model = folder.resolve("transformer").resolve("model.onnx");
        OnnxModel base = OnnxModel.read(model);
        // every float matrix read only through a 2-D Transpose into a MatMul: stored out x in
        java.util.Set<String> inits = new java.util.HashSet<>();
        base.graph().initializers().forEach(t -> inits.add(t.name()));
        SafetensorsWriter w = withMetadata(2, 3);
        java.util.List<String> adapted = new java.util.ArrayList<>();
        for (OnnxNode n : base.graph().nodes()) {
            if (LoraMerge.isTranspose2d(n) && inits.contains(n.inputs().get(0)) && adapted.size() < 3) {
                String name = n.inputs().get(0);
                long[] dims = base.graph().initializer(name).orElseThrow().dims();
                adapter(w, name, (int) dims[1], (int) dims[0], 2, adapted.size());
                adapted.add(name);
            }
        }
        assertThat(adapted).hasSize(3);
        Path file = dir.resolve("tiny-adapters.safetensors");
        w.write(file);
        GenerationRequest r = GenerationRequest.builder().prompt("a red fox").seed(3).build();
        Tensor plain;
        Tensor withAdapters;
        try (LoadedModel m = Models.load(folder, OPTIONS)) {
            plain = m.pipeline().generate(r).latents();
        }
        try (LoadedModel m = Models.load(folder, OPTIONS.toBuilder().adapters(file).build())) {
            withAdapters = m.pipeline().generate(r).latents();
        }
        OnnxModel merged = LoraAdapterFile.read(file).applyTo(base, "tiny");
        for (String name : adapted) {
            assertThat(merged.graph().initializer(name).orElseThrow().toFloats())
                    .isNotEqualTo(base.graph().initializer(name).orElseThrow().toFloats());
        }
        merged.write(model);
        try (LoadedModel m = Models.load(folder, OPTIONS)) {
            assertThat(m.pipeline().generate(r).latents()).isEqualTo(withAdapters);
        }
        assertThat(withAdapters).isNotEqualTo(plain);
    }

    @Test
    void refusesFilesThatAreNotAdaptersOfThisModel() throws IOException {
        Path notSafetensors = dir.resolve("notes.safetensors");
        Files.writeString(notSafetensors, "these are not tensors, just some text that is long enough");
        assertRefused(notSafetensors, notSafetensors.toString());

        Path noMeta = dir.resolve("nometa.safetensors");
        SafetensorsWriter w = new SafetensorsWriter();
        adapter(w, MATMUL, 80, 36, 3, 1);
        w.write(noMeta);
        assertRefused(noMeta, "expected LoRA metadata 'senseflow.lora'");

        assertRefused(oneAdapter("other", 3, "transformer_blocks.7.attn.to_q.weight", 80, 36, false),
                "'transformer_blocks.7.attn.to_q.weight', which");
        assertRefused(oneAdapter("swapped", 3, MATMUL, 36, 80, false), "stores it as [80, 36]");
        assertRefused(oneAdapter("rank", 4, MATMUL, 80, 36, false), "rank 4 from the metadata");
        assertRefused(oneAdapter("stray", 3, MATMUL, 80, 36, true), "found 'optimizer.step'");
        assertRefused(oneAdapter("conv", 3, "pos_embed.proj.weight", 64, 36, false), "expected a float32 matrix");

        // adapters and replacement weights for the denoiser at once
        Path good = sd3Adapters("good.safetensors");
        Path weights = dir.resolve("w.safetensors");
        new SafetensorsWriter().addFloats(MATMUL, new float[80 * 36], 80, 36).write(weights);
        assertThatThrownBy(() -> Models.load(teacher, OPTIONS.toBuilder().adapters(good).weights("transformer", weights)
                .build())).isInstanceOf(ModelLoadException.class).hasMessageContaining(good.toString())
                .hasMessageContaining("replacement weights");
    }

    /** A file with one rank-3 adapter, metadata of the given rank, and optionally a stray tensor. */
    Path oneAdapter(String name, int metadataRank, String weight, int in, int out, boolean stray) {
        SafetensorsWriter w = withMetadata(metadataRank, 5);
        adapter(w, weight, in, out, 3, 1);
        if (stray) {
            w.addFloats("optimizer.step", new float[] {1}, 1);
        }
        Path p = dir.resolve(name + ".safetensors");
        w.write(p);
        return p;
    }

    void assertRefused(Path file, String says) {
        assertThatThrownBy(() -> {
            try (LoadedModel m = Models.load(teacher, OPTIONS.toBuilder().adapters(file).build())) {
                m.family();
            }
        }).isInstanceOf(ModelLoadException.class).hasMessageContaining(file.toString()).hasMessageContaining(says);
    }

}
