package io.senseflow.tf.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input to {@link DistillationRun}: each a typed error naming the file, thrown by {@code build()} before anything
 * is written, and an existing run folder left byte for byte as it was.
 */
class DistillationRunErrorsTest {
    @TempDir
    Path dir;

    Path prompts() throws IOException {
        Path p = dir.resolve("prompts.txt");
        Files.writeString(p, "a red circle\n");
        return p;
    }

    @Test
    void aFolderThatIsNotAModel() throws IOException {
        Path notModel = Files.createDirectories(dir.resolve("photos"));
        Files.writeString(notModel.resolve("cat.txt"), "meow");
        Path run = dir.resolve("run");
        assertThatThrownBy(() -> DistillationRun.builder(notModel).prompts(prompts()).folder(run).build())
                .isInstanceOf(ModelLoadException.class).hasMessageContaining(notModel.toString());
        assertThat(run).doesNotExist();
    }

    @Test
    void promptFilesThatAreEmptyOrNotUtf8OrBadJsonl() throws IOException {
        Path empty = dir.resolve("empty.txt");
        Files.writeString(empty, "\n# only a comment\n\n");
        assertThatThrownBy(() -> PromptFile.read(empty)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining(empty.toString()).hasMessageContaining("at least one prompt");
        Path latin1 = dir.resolve("latin1.txt");
        Files.write(latin1, new byte[] {'c', 'a', 'f', (byte) 0xE9, '\n'});
        assertThatThrownBy(() -> PromptFile.read(latin1)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining(latin1.toString()).hasMessageContaining("not UTF-8");
        Path jsonl = dir.resolve("p.jsonl");
        Files.writeString(jsonl, "{\"prompt\": \"a cat\", \"negative_prompt\": \"blur\"}\n{\"text\": \"x\"}\n");
        assertThatThrownBy(() -> PromptFile.read(jsonl)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining(jsonl + " line 2").hasMessageContaining("\"prompt\"");
        Files.writeString(jsonl, "{\"prompt\": \"a cat\", \"negative_prompt\": \"blur\"}\n{\"prompt\": \"é\"}\n");
        PromptFile ok = PromptFile.read(jsonl);
        assertThat(ok.prompts()).containsExactly("a cat", "é");
        assertThat(ok.negatives()).containsExactly("blur", "");
        // through the builder: the prompt file is checked before the teacher is loaded
        Path teacher = Fixtures.path("optimum-exports/sd3/onnx");
        assertThatThrownBy(() -> DistillationRun.builder(teacher).prompts(empty).folder(dir.resolve("r")).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining(empty.toString());
        assertThat(dir.resolve("r")).doesNotExist();
    }

    @Test
    void anOutputFolderThatExistsAndIsNotARun() throws IOException {
        Path out = Files.createDirectories(dir.resolve("thesis"));
        Files.writeString(out.resolve("chapter1.tex"), "precious");
        Path teacher = Fixtures.path("optimum-exports/sd3/onnx");
        assertThatThrownBy(() -> DistillationRun.builder(teacher).prompts(prompts()).folder(out).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining(out.toString())
                .hasMessageContaining("no run.json");
        assertThatThrownBy(() -> DistillationRun.resume(out).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining(out.resolve("run.json").toString());
        assertThat(Files.readString(out.resolve("chapter1.tex"))).isEqualTo("precious");
        try (var s = Files.list(out)) {
            assertThat(s.count()).isEqualTo(1);
        }
    }

    @Test
    void aResumeFromAnotherTeacherPromptFileOrConfigAndANewRunOverAnOldOne() throws IOException {
        Path sd3 = Fixtures.path("optimum-exports/sd3/onnx");
        Path flux = Fixtures.path("optimum-exports/flux_dev/onnx");
        Path run = dir.resolve("run");
        try (DistillationRun r = DistillationRun.builder(sd3).prompts(prompts()).folder(run).imageSize(64, 64)
                .batchSize(1).iterations(2).loadOptions(DistillationRunTest.OPTIONS).build()) {
            r.runUntil(1, io.senseflow.pipeline.CancellationToken.none());
        }
        byte[] runJson = Files.readAllBytes(run.resolve("run.json"));
        byte[] losses = Files.readAllBytes(run.resolve("losses.csv"));
        assertThatThrownBy(() -> DistillationRun.builder(flux).prompts(prompts()).folder(run).imageSize(64, 64)
                .batchSize(1).iterations(2).loadOptions(DistillationRunTest.OPTIONS).resume(true).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining(run.resolve("run.json").toString())
                .hasMessageContaining("teacher_fingerprint");
        assertThatThrownBy(() -> DistillationRun.resume(run).imageSize(64, 64).batchSize(1).iterations(2)
                .recipe(Recipe.VANILLA_DMD).loadOptions(DistillationRunTest.OPTIONS).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("config");
        Path other = dir.resolve("other.txt");
        Files.writeString(other, "a blue square\n");
        assertThatThrownBy(() -> DistillationRun.resume(run).prompts(other).imageSize(64, 64).batchSize(1)
                .iterations(2).loadOptions(DistillationRunTest.OPTIONS).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("prompts_sha256");
        assertThatThrownBy(() -> DistillationRun.builder(sd3).prompts(prompts()).folder(run).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("existing run");
        assertThat(Files.readAllBytes(run.resolve("run.json"))).isEqualTo(runJson);
        assertThat(Files.readAllBytes(run.resolve("losses.csv"))).isEqualTo(losses);
    }
}
