package io.senseflow.examples.shapes;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.model.TokenizedPrompts;
import io.senseflow.onnx.tokenizer.HfTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tokenizer file and the plain-Java tokenization used in training give the same ids. */
class ShapesTokenizerTest {
    @TempDir
    Path dir;

    @Test
    void theNativeTokenizerAgreesWithThePlainJavaOneOnEveryCaption() throws Exception {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, ShapesTokenizer.json());
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < ShapeAttributes.combinations(); i++) {
            prompts.add(ShapeAttributes.fromIndex(i).caption());
        }
        prompts.add("");
        prompts.add("A Large RED circle   in the center on a dark background");
        prompts.add("a purple elephant on the moon");
        try (HfTokenizer hf = HfTokenizer.builder(file).maxLength(ShapesTokenizer.LENGTH).padToken(ShapesTokenizer.PAD)
                .build()) {
            TokenizedPrompts t = hf.tokenize(prompts);
            TokenizedPrompts j = ShapesTokenizer.tokenizer().tokenize(prompts);
            for (int i = 0; i < prompts.size(); i++) {
                assertThat(t.ids()[i]).as(prompts.get(i)).containsExactly(j.ids()[i]);
                assertThat(t.mask()[i]).as(prompts.get(i)).containsExactly(j.mask()[i]);
            }
        }
        // every caption fits with its end token; no word of the grammar is unknown
        long unk = ShapesTokenizer.id(ShapesTokenizer.UNK);
        for (int i = 0; i < ShapeAttributes.combinations(); i++) {
            long[] ids = ShapesTokenizer.ids(prompts.get(i));
            assertThat(ids).doesNotContain(unk).contains((long) ShapesTokenizer.id(ShapesTokenizer.EOS));
        }
        assertThat(ShapesTokenizer.ids("a purple elephant")).contains(unk);
        assertThat(ShapesTokenizer.json()).isEqualTo(ShapesTokenizer.json());
        assertThat(ShapesTokenizer.vocabSize()).isEqualTo(3 + ShapesTokenizer.words().size());
    }
}
