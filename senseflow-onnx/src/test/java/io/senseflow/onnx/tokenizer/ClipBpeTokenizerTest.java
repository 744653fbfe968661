package io.senseflow.onnx.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.ModelLoadException;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.json.Json;
import io.senseflow.model.TokenizedPrompts;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ClipBpeTokenizer} on the shared Optimum folders (slow-tokenizer files only, as Optimum writes them), against
 * the ids the PyTorch pipelines produced ({@code tokens/*} in each {@code ref.safetensors}) and against
 * transformers' slow {@code CLIPTokenizer} on harder prompts ({@code clip-bpe/clip_ids.json}, made by
 * {@code clip-bpe/make_clip_ids.py}).
 */
class ClipBpeTokenizerTest {
    static final Map<String, String> PROMPTS = Map.of(
            "p0", "a small wooden boat on a calm lake",
            "p1", "a snowy mountain village under a starry sky",
            "neg", "dark, noisy, distorted");

    @TempDir
    Path dir;

    static ClipBpeTokenizer load(String folder) {
        return ClipBpeTokenizer.builder(Fixtures.path("optimum-exports/" + folder)).build();
    }

    @Test
    void everySharedFolderGivesThePipelinesIds() {
        String[][] folders = {{"sd3", "tokenizer"}, {"sd3", "tokenizer_2"}, {"flux_dev", "tokenizer"},
            {"sdxl", "tokenizer"}, {"sdxl", "tokenizer_2"}};
        for (String[] f : folders) {
            ClipBpeTokenizer tok = load(f[0] + "/onnx/" + f[1]);
            assertThat(tok.maxLength()).isEqualTo(77);
            assertThat(tok.padId()).isEqualTo(f[1].equals("tokenizer_2") ? 0 : 713);
            try (SafetensorsFile ref = SafetensorsFile.open(Fixtures.path("optimum-exports/" + f[0] + "/reference/ref.safetensors"))) {
                for (Map.Entry<String, String> p : PROMPTS.entrySet()) {
                    long[] want = ref.longs("tokens/" + f[1] + "/" + p.getKey());
                    TokenizedPrompts got = tok.tokenize(List.of(p.getValue()));
                    assertThat(got.ids()[0]).as(f[0] + "/" + f[1] + " " + p.getKey()).containsExactly(want);
                }
            }
        }
        assertThat(load("sd3/onnx/tokenizer").encode(PROMPTS.get("p0")))
                .containsExactly(712, 320, 666, 696, 694, 526, 320, 66, 521, 332, 614, 713);
    }

    @Test
    void matchesTransformersSlowTokenizerOnHardPrompts() throws IOException {
        Map<?, ?> root;
        try (InputStream in = getClass().getResourceAsStream("/clip-bpe/clip_ids.json")) {
            root = (Map<?, ?>) Json.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        Map<?, ?> tokenizers = (Map<?, ?>) root.get("tokenizers");
        assertThat(new ArrayList<Object>(tokenizers.keySet())).containsExactlyInAnyOrder("tokenizer", "tokenizer_2");
        int compared = 0;
        for (Map.Entry<?, ?> t : tokenizers.entrySet()) {
            ClipBpeTokenizer tok = load("sd3/onnx/" + t.getKey());
            List<String> prompts = new ArrayList<>();
            List<long[]> ids = new ArrayList<>();
            List<long[]> masks = new ArrayList<>();
            for (Object c : (List<?>) ((Map<?, ?>) t.getValue()).get("cases")) {
                Map<?, ?> kase = (Map<?, ?>) c;
                prompts.add((String) kase.get("prompt"));
                ids.add(longs(kase.get("ids")));
                masks.add(longs(kase.get("mask")));
                String prompt = (String) kase.get("prompt");
                assertThat(tok.encode(prompt)).as(t.getKey() + " untruncated length of \"" + prompt + "\"")
                        .hasSize(((Number) kase.get("untruncated")).intValue());
            }
            TokenizedPrompts got = tok.tokenize(prompts);
            for (int i = 0; i < prompts.size(); i++) {
                assertThat(got.ids()[i]).as(t.getKey() + " ids of \"" + prompts.get(i) + "\"").containsExactly(ids.get(i));
                assertThat(got.mask()[i]).as(t.getKey() + " mask of \"" + prompts.get(i) + "\"").containsExactly(masks.get(i));
                compared++;
            }
        }
        assertThat(compared).isEqualTo(2 * (19 + 200));
    }

    @Test
    void oneInstanceServesSeveralThreads() throws Exception {
        ClipBpeTokenizer tok = load("sdxl/onnx/tokenizer_2");
        List<String> prompts = new ArrayList<>(PROMPTS.values());
        for (int i = 0; i < 40; i++) {
            prompts.add("word" + i + " and sub-word number " + (i * 7919));
        }
        TokenizedPrompts alone = tok.tokenize(prompts);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            List<java.util.concurrent.Future<TokenizedPrompts>> runs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                runs.add(pool.submit(() -> tok.tokenize(prompts)));
            }
            for (java.util.concurrent.Future<TokenizedPrompts> r : runs) {
                TokenizedPrompts got = r.get();
                for (int i = 0; i < prompts.size(); i++) {
                    assertThat(got.ids()[i]).containsExactly(alone.ids()[i]);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void literalBangIsThePadTokenOnlyWhereItIsAnAddedToken() {
        long[] plain = load("sd3/onnx/tokenizer").encode("boat!");
        long[] withAdded = load("sd3/onnx/tokenizer_2").encode("boat!");
        assertThat(plain).containsExactly(712, 694, 256, 713); // "boat</w>", "!</w>"
        assertThat(withAdded).containsExactly(712, 694, 0, 713); // "!" split off as the added token 0
    }

    @Test
    void mismatchedOrMissingFilesAreTypedErrorsNamingTheFolder() throws IOException {
        Path bad = Fixtures.copy("optimum-exports/sd3/onnx/tokenizer", dir.resolve("tokenizer"));
        List<String> lines = new ArrayList<>(Files.readAllLines(bad.resolve("merges.txt"), StandardCharsets.UTF_8));
        lines.set(5, "q z</w>");
        Files.write(bad.resolve("merges.txt"), lines, StandardCharsets.UTF_8);
        assertThatThrownBy(() -> ClipBpeTokenizer.builder(bad).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("merges.txt in " + bad.toAbsolutePath())
                .hasMessageContaining("line 6: merge \"q z</w>\" makes \"qz</w>\", which is not in vocab.json")
                .hasMessageContaining("does not belong to this vocab.json");

        Files.writeString(bad.resolve("merges.txt"), "#version: 0.2\n日 a\n", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> ClipBpeTokenizer.builder(bad).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("line 2: symbol \"日\" of merge \"日 a\" is not in vocab.json");

        Files.delete(bad.resolve("merges.txt"));
        assertThatThrownBy(() -> ClipBpeTokenizer.builder(bad).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("merges.txt is missing in " + bad.toAbsolutePath()
                        + "; a CLIP tokenizer folder needs vocab.json and merges.txt");

        Files.writeString(bad.resolve("merges.txt"), "#version: 0.2\n", StandardCharsets.UTF_8);
        Files.writeString(bad.resolve("vocab.json"), "{\"a\": 1, \"b\": 1}", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> ClipBpeTokenizer.builder(bad).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("vocab.json in " + bad.toAbsolutePath() + ": id 1 is given to both \"a\" and \"b\"");
    }

    static long[] longs(Object list) {
        return ((List<?>) list).stream().mapToLong(x -> ((Number) x).longValue()).toArray();
    }
}
