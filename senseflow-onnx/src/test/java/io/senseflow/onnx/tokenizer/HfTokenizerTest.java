package io.senseflow.onnx.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.model.TokenizedPrompts;
import io.senseflow.onnx.runtime.LogCapture;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokenizers written by the tests themselves (WordLevel and BPE tokenizer.json files); nothing is downloaded. */
class HfTokenizerTest {
    @TempDir
    Path dir;

    private static String added(int id, String content) {
        return "{\"id\":" + id + ",\"content\":\"" + content + "\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                + "\"normalized\":false,\"special\":true}";
    }

    /** A template post-processor wrapping every sequence as {@code bos $A eos}. */
    private static String template(String bos, int bosId, String eos, int eosId) {
        return "{\"type\":\"TemplateProcessing\","
                + "\"single\":[{\"SpecialToken\":{\"id\":\"" + bos + "\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
                + "{\"SpecialToken\":{\"id\":\"" + eos + "\",\"type_id\":0}}],"
                + "\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],"
                + "\"special_tokens\":{\"" + bos + "\":{\"id\":\"" + bos + "\",\"ids\":[" + bosId + "],\"tokens\":[\"" + bos + "\"]},"
                + "\"" + eos + "\":{\"id\":\"" + eos + "\",\"ids\":[" + eosId + "],\"tokens\":[\"" + eos + "\"]}}}";
    }

    /** WordLevel over whitespace-split, lower-cased words: [PAD]=0 [BOS]=1 [EOS]=2 [UNK]=3, then a=4 red=5 ... */
    static String wordLevel(String padding) {
        return "{\"version\":\"1.0\",\"truncation\":null,\"padding\":" + padding + ","
                + "\"added_tokens\":[" + added(0, "[PAD]") + "," + added(1, "[BOS]") + "," + added(2, "[EOS]") + ","
                + added(3, "[UNK]") + "],"
                + "\"normalizer\":{\"type\":\"Lowercase\"},\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
                + "\"post_processor\":" + template("[BOS]", 1, "[EOS]", 2) + ",\"decoder\":null,"
                + "\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"[PAD]\":0,\"[BOS]\":1,\"[EOS]\":2,\"[UNK]\":3,"
                + "\"a\":4,\"red\":5,\"cat\":6,\"on\":7,\"the\":8,\"mat\":9},\"unk_token\":\"[UNK]\"}}";
    }

    /** BPE with merges c+a and ca+t: "cat" is one token, "cats" two. */
    static String bpe() {
        return "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
                + "\"added_tokens\":[" + added(0, "<unk>") + "," + added(1, "<s>") + "," + added(2, "</s>") + ","
                + added(3, "<pad>") + "],"
                + "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
                + "\"post_processor\":" + template("<s>", 1, "</s>", 2) + ",\"decoder\":null,"
                + "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":null,"
                + "\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,"
                + "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"<pad>\":3,\"c\":4,\"a\":5,\"t\":6,\"s\":7,\"ca\":8,\"cat\":9},"
                + "\"merges\":[\"c a\",\"ca t\"]}}";
    }

    private Path write(String folder, String name, String text) throws IOException {
        Path p = dir.resolve(folder).resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, text, StandardCharsets.UTF_8);
        return p;
    }

    @Test
    void padsToTheFixedLengthWithThePadIdAndMasksThePadding() throws IOException {
        Path file = write("tokenizer", "tokenizer.json", wordLevel("null"));
        try (HfTokenizer t = HfTokenizer.builder(file).maxLength(8).padToken("[EOS]").build()) {
            assertThat(t.name()).isEqualTo("tokenizer/tokenizer.json");
            assertThat(t.padId()).isEqualTo(2);
            TokenizedPrompts p = t.tokenize(List.of("A red cat", "", "a dog"));
            assertThat(p.length()).isEqualTo(8);
            assertThat(p.ids()[0]).containsExactly(1, 4, 5, 6, 2, 2, 2, 2);
            assertThat(p.mask()[0]).containsExactly(1, 1, 1, 1, 1, 0, 0, 0);
            assertThat(p.ids()[1]).containsExactly(1, 2, 2, 2, 2, 2, 2, 2);
            assertThat(p.mask()[1]).containsExactly(1, 1, 0, 0, 0, 0, 0, 0);
            assertThat(p.ids()[2]).containsExactly(1, 4, 3, 2, 2, 2, 2, 2); // "dog" is unknown
            assertThat(t.tokenCount("the red cat on the mat")).isEqualTo(8);
        }
        try (HfTokenizer t = HfTokenizer.builder(file).maxLength(6).padId(0).build()) {
            assertThat(t.tokenize(List.of("cat")).ids()[0]).containsExactly(1, 6, 2, 0, 0, 0);
        }
    }

    @Test
    void bpeMergesApply() throws IOException {
        try (HfTokenizer t = HfTokenizer.builder(write("bpe", "tokenizer.json", bpe())).maxLength(9).padToken("<pad>").build()) {
            TokenizedPrompts p = t.tokenize(List.of("cat cats tac"));
            assertThat(p.ids()[0]).containsExactly(1, 9, 9, 7, 6, 5, 4, 2, 3);
            assertThat(t.tokenize(List.of("ca")).ids()[0]).containsExactly(1, 8, 2, 3, 3, 3, 3, 3, 3);
        }
    }

    @Test
    void longPromptsKeepTheirSpecialTokensAndWarnOncePerTruncatedPrompt() throws IOException {
        Path file = write("tokenizer", "tokenizer.json", wordLevel("null"));
        try (HfTokenizer t = HfTokenizer.builder(file).maxLength(6).padId(0).build()) {
            String long1 = "a red cat on the mat a red cat on"; // 10 words + 2 specials = 12 tokens
            String long2 = "the red mat on the cat"; // 8 tokens
            TokenizedPrompts[] out = new TokenizedPrompts[1];
            String log = LogCapture.stderr(() -> out[0] = t.tokenize(List.of(long1, "red cat", long2)));
            assertThat(out[0].ids()[0]).containsExactly(1, 4, 5, 6, 7, 2);
            assertThat(out[0].mask()[0]).containsExactly(1, 1, 1, 1, 1, 1);
            assertThat(out[0].ids()[1]).containsExactly(1, 5, 6, 2, 0, 0);
            assertThat(out[0].ids()[2]).containsExactly(1, 8, 5, 9, 7, 2);
            assertThat(LogCapture.count(log, "was truncated")).isEqualTo(2);
            assertThat(log).contains("tokenizer/tokenizer.json: a prompt has 12 tokens, more than the 6 this text encoder takes")
                    .contains("a prompt has 8 tokens");
            String quiet = LogCapture.stderr(() -> t.tokenize(List.of("red cat")));
            assertThat(quiet).doesNotContain("truncated");
        }
    }

    @Test
    void padIdAndLengthComeFromTheFilesWhenNotSet() throws IOException {
        String padding = "{\"strategy\":\"BatchLongest\",\"direction\":\"Right\",\"pad_to_multiple_of\":null,\"pad_id\":0,"
                + "\"pad_type_id\":0,\"pad_token\":\"[PAD]\"}";
        try (HfTokenizer t = HfTokenizer.builder(write("padded", "tokenizer.json", wordLevel(padding))).maxLength(4).build()) {
            assertThat(t.padId()).isZero();
            // the file's own padding section does not change the length: rows are padded to maxLength
            assertThat(t.tokenize(List.of("cat")).ids()[0]).containsExactly(1, 6, 2, 0);
        }
        Path bpe = write("tokenizer_3", "tokenizer.json", bpe());
        write("tokenizer_3", "tokenizer_config.json", "{\"model_max_length\": 5, \"pad_token\": {\"content\": \"<pad>\", "
                + "\"special\": true}, \"tokenizer_class\": \"T5Tokenizer\"}");
        try (HfTokenizer t = HfTokenizer.builder(bpe).build()) {
            assertThat(t.maxLength()).isEqualTo(5);
            assertThat(t.padId()).isEqualTo(3);
            assertThat(t.tokenize(List.of("cat")).ids()[0]).containsExactly(1, 9, 2, 3, 3);
        }
        Path unknownPad = write("clip", "tokenizer.json", bpe());
        write("clip", "tokenizer_config.json", "{\"model_max_length\": 1000000000000000019884624838656, \"pad_token\": \"<|endoftext|>\"}");
        assertThatThrownBy(() -> HfTokenizer.builder(unknownPad).maxLength(77).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("clip/tokenizer.json: pad_token of tokenizer_config.json \"<|endoftext|>\" is neither "
                        + "in the vocabulary nor an added token");
        assertThatThrownBy(() -> HfTokenizer.builder(unknownPad).padId(0).build())
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("no padded length known");
        Path bare = write("bare", "tokenizer.json", bpe());
        assertThatThrownBy(() -> HfTokenizer.builder(bare).maxLength(8).build())
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("bare/tokenizer.json: no padding id known");
        assertThatThrownBy(() -> HfTokenizer.builder(bare).maxLength(8).padToken("[nope]").build())
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("padToken \"[nope]\" is neither");
    }

    @Test
    void badFilesAreModelLoadErrorsNamingTheFile() throws IOException {
        Path missing = dir.resolve("missing/tokenizer.json");
        assertThatThrownBy(() -> HfTokenizer.builder(missing).maxLength(8).padId(0).build())
                .isInstanceOf(ModelLoadException.class).hasMessage("tokenizer file " + missing + " does not exist");
        Path malformed = write("malformed", "tokenizer.json", "{\"model\": {\"type\": \"WordLevel\",}");
        assertThatThrownBy(() -> HfTokenizer.builder(malformed).maxLength(8).padId(0).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessageStartingWith("tokenizer file " + malformed + " is not valid JSON");
        Path notTokenizer = write("other", "tokenizer.json", "{\"vocab\": {\"a\": 1}}");
        assertThatThrownBy(() -> HfTokenizer.builder(notTokenizer).maxLength(8).padId(0).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("other/tokenizer.json is not a Hugging Face tokenizers file: expected a \"model\" object");
        Path wrongModel = write("wrong", "tokenizer.json", "{\"model\": {\"type\": \"NoSuchModel\"}}");
        assertThatThrownBy(() -> HfTokenizer.builder(wrongModel).maxLength(8).padId(0).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessageStartingWith("the tokenizers library cannot load " + wrongModel);
        assertThatThrownBy(() -> HfTokenizer.builder(dir).maxLength(8).padId(0).build())
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("is a folder");
        assertThatThrownBy(() -> HfTokenizer.builder(malformed).maxLength(0))
                .isInstanceOf(InvalidRequestException.class).hasMessageStartingWith("maxLength: expected at least 1");
    }

    /*
     * Files the tokenizers library reads but would panic on while encoding (which aborts the JVM): refused at load.
     */
    @Test
    void filesTheLibraryWouldAbortOnWhileEncodingAreRefusedAtLoad() throws IOException {
        String good = wordLevel("null");
        Path missingSpecial = write("missing_special", "tokenizer.json",
                good.replace("\"special_tokens\":{\"[BOS]\"", "\"special_tokens\":{\"[XOS]\""));
        assertThatThrownBy(() -> HfTokenizer.builder(missingSpecial).maxLength(8).padId(0).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("missing_special/tokenizer.json: post_processor.single refers to special token \"[BOS]\"");
        Path unpaired = write("unpaired", "tokenizer.json", good.replace("\"ids\":[2]", "\"ids\":[2,2]"));
        assertThatThrownBy(() -> HfTokenizer.builder(unpaired).maxLength(8).padId(0).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("unpaired/tokenizer.json: post_processor.special_tokens \"[EOS]\" has 2 ids but 1 tokens");
        Path noUnknown = write("no_unk", "tokenizer.json", good.replace("\"unk_token\":\"[UNK]\"", "\"unk_token\":\"[?]\""));
        assertThatThrownBy(() -> HfTokenizer.builder(noUnknown).maxLength(8).padId(0).build())
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("no_unk/tokenizer.json: model.unk_token \"[?]\" is not in model.vocab");
        // the same checks let the undamaged file through
        try (HfTokenizer t = HfTokenizer.builder(write("fine", "tokenizer.json", good)).maxLength(8).padId(0).build()) {
            assertThat(t.tokenize(List.of("a dog")).ids()[0]).startsWith(1, 4, 3, 2);
        }
    }

    @Test
    void runsOfflineWithTheNativeLibraryFromItsJarAndClosesCleanly() throws IOException {
        System.clearProperty("ai.djl.offline");
        HfTokenizer t = HfTokenizer.builder(write("t", "tokenizer.json", wordLevel("null"))).maxLength(4).padId(0).build();
        assertThat(System.getProperty("ai.djl.offline")).isEqualTo("true");
        // surefire points DJL's engine cache into target/: the library there was extracted from the jar
        Path cache = Path.of(System.getProperty("ENGINE_CACHE_DIR"));
        try (Stream<Path> files = Files.walk(cache)) {
            assertThat(files.map(p -> p.getFileName().toString())).contains("libtokenizers.so");
        }
        t.close();
        t.close();
        assertThatThrownBy(() -> t.tokenize(List.of("cat")))
                .isInstanceOf(IllegalStateException.class).hasMessage("HfTokenizer t/tokenizer.json is closed");
        assertThatThrownBy(() -> t.tokenize(java.util.Arrays.asList("cat", null)))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("prompts[1]");
    }
}
