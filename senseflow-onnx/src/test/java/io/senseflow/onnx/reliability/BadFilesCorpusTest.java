package io.senseflow.onnx.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.senseflow.CheckpointException;
import io.senseflow.ModelLoadException;
import io.senseflow.SenseFlowException;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Distiller;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.WriteOptions;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.onnx.testing.TinyModelFolders;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.testing.MixtureDataset;
import io.senseflow.testing.MixtureFlowGenerator;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * A corpus of generated bad files, each put into an otherwise good model folder or checkpoint and loaded the way an
 * application would ({@link Models#load}, {@link CheckpointStore#load} and {@code restore}): truncated, zeroed and
 * garbled {@code model.onnx} files and models of the wrong architecture; safetensors weights with lying headers;
 * malformed {@code tokenizer.json}, {@code model_index.json} and component configs; damaged and wrong-architecture
 * checkpoints. Every one must end in a {@link SenseFlowException} of the expected kind whose message names the file,
 * within a time limit, and never in another exception, an {@link OutOfMemoryError} or a JVM crash.
 */
class BadFilesCorpusTest {
    static final LoadOptions OPTIONS = LoadOptions.builder()
            .sessionConfig(SessionConfig.builder().intraOpThreads(1).interOpThreads(1).build()).build();
    static final Duration LIMIT = Duration.ofSeconds(30);

    @TempDir
    static Path pristine;
    @TempDir
    Path work;

    /** One bad input: how to make it, what must be thrown, and what the message must name. */
    record Case(String name, Class<? extends SenseFlowException> type, String names, Action action) {
    }

    @FunctionalInterface
    interface Action {
        void run(Path work) throws Exception;
    }

    @BeforeAll
    static void fixtures() throws IOException {
        TinyModelFolders.sd3(pristine.resolve("sd3"));
        TinyModelFolders.senseflow(pristine.resolve("senseflow"), 42);
        CheckpointStore.at(pristine.resolve("runs")).save(checkpointRun(CrashRun.DENOISER).snapshot());
    }

    private static Distiller checkpointRun(MlpSpec denoiser) {
        DistillationConfig cfg = CrashRun.config(10);
        MixtureDataset data = new MixtureDataset(CrashRun.DATA, List.of("all"), cfg.seed());
        Distiller d = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(CrashRun.DATA))
                .generator(new Mlp(denoiser, 1, cfg.generatorOptimizer())).fakeScore(new Mlp(denoiser, 1, cfg.fakeScoreOptimizer()))
                .discriminator(new Mlp(CrashRun.DISCRIMINATOR, 2, cfg.discriminatorOptimizer()))
                .ema(new Mlp(denoiser, 3, null).parameters()).dataset(data).promptEncoder(data.promptEncoder()).build();
        d.runUntil(2, CancellationToken.none());
        return d;
    }

    // ------------------------------------------------------------------ building cases

    /** A copy of a fixture folder with one file changed ({@code change} returns null to delete it), then loaded. */
    private static Case folder(String name, String fixture, String file, UnaryOperator<byte[]> change, String names) {
        return new Case(name, ModelLoadException.class, names, work -> {
            Path dir = work.resolve("model");
            copy(pristine.resolve(fixture), dir);
            Path f = dir.resolve(file);
            byte[] bytes = change.apply(Files.readAllBytes(f));
            if (bytes == null) {
                Files.delete(f);
            } else {
                Files.write(f, bytes);
            }
            Models.load(dir, OPTIONS).close();
        });
    }

    /** A copy of the in-house folder with a weights file beside its transformer. */
    private static Case weights(String name, byte[] content, String... alsoNamed) {
        return new Case(name, ModelLoadException.class, String.join("|", withFirst("weights.safetensors", alsoNamed)), work -> {
            Path dir = work.resolve("model");
            copy(pristine.resolve("senseflow"), dir);
            Files.write(dir.resolve("transformer/weights.safetensors"), content);
            Models.load(dir, OPTIONS).close();
        });
    }

    private static String[] withFirst(String first, String... rest) {
        String[] out = new String[rest.length + 1];
        out[0] = first;
        System.arraycopy(rest, 0, out, 1, rest.length);
        return out;
    }

    /** A copy of the checkpoint with one file changed, then loaded (and restored into a run of the original shape). */
    private static Case checkpoint(String name, String file, UnaryOperator<byte[]> change, String names) {
        return new Case(name, CheckpointException.class, names, work -> {
            Path dir = work.resolve("runs");
            copy(pristine.resolve("runs"), dir);
            Path cp = dir.resolve("checkpoint-000000002");
            Files.write(cp.resolve(file), change.apply(Files.readAllBytes(cp.resolve(file))));
            CheckpointStore.load(cp).restore(checkpointRun(CrashRun.DENOISER));
        });
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static UnaryOperator<byte[]> replace(String content) {
        return b -> utf8(content);
    }

    static UnaryOperator<byte[]> replace(byte[] content) {
        return b -> content;
    }

    static UnaryOperator<byte[]> truncate(double fraction) {
        return b -> Arrays.copyOf(b, (int) (b.length * fraction));
    }

    static UnaryOperator<byte[]> edit(String from, String to) {
        return b -> {
            String s = new String(b, StandardCharsets.UTF_8);
            if (!s.contains(from)) {
                throw new IllegalStateException("fixture changed: no " + from);
            }
            return utf8(s.replace(from, to));
        };
    }

    static String nested(int depth) {
        return "[".repeat(depth) + "]".repeat(depth);
    }

    static byte[] safetensors(String header, int dataBytes) {
        byte[] h = utf8(header);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }

    static byte[] headerLength(long length) {
        return ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(length).array();
    }

    static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    /** The in-house transformer's first float initializer: name and dims. */
    static TensorValue firstWeight() {
        OnnxModel m = OnnxModel.read(pristine.resolve("senseflow/transformer/model.onnx"));
        return m.graph().initializers().stream().filter(t -> t.dataType() == io.senseflow.onnx.ir.DataType.FLOAT)
                .findFirst().orElseThrow();
    }

    static String shape(long[] dims) {
        return Arrays.toString(dims).replace(" ", "");
    }

    // ------------------------------------------------------------------ the corpus

    static List<Case> corpus() {
        List<Case> c = new ArrayList<>();
        String t = "transformer/model.onnx";
        // model.onnx
        c.add(folder("empty model.onnx", "sd3", t, replace(new byte[0]), t));
        c.add(folder("model.onnx cut to 1 byte", "sd3", t, truncate(1.0 / 2797), t));
        c.add(folder("model.onnx cut to 25 %", "sd3", t, truncate(0.25), t));
        c.add(folder("model.onnx cut to 50 %", "sd3", t, truncate(0.5), t));
        c.add(folder("model.onnx cut to 90 %", "sd3", t, truncate(0.9), t));
        c.add(folder("model.onnx missing its last byte", "sd3", t, b -> Arrays.copyOf(b, b.length - 1), t));
        c.add(folder("model.onnx with an invalid wire type in its first tag", "sd3", t, b -> {
            b[0] = (byte) ((b[0] & 0xf8) | 7);
            return b;
        }, t));
        c.add(folder("model.onnx with an overlong varint at its start", "sd3", t, b -> {
            Arrays.fill(b, 1, 13, (byte) 0xff);
            return b;
        }, t));
        c.add(folder("model.onnx zeroed", "sd3", t, b -> new byte[b.length], t));
        c.add(folder("model.onnx of random bytes", "sd3", t, b -> {
            new Random(5).nextBytes(b);
            return b;
        }, t));
        c.add(folder("model.onnx that is text", "sd3", t, replace("this is not an ONNX model\n"), t));
        c.add(folder("model.onnx that is a tokenizer.json", "sd3", t, b -> readPristine("sd3/tokenizer/tokenizer.json"), t));
        c.add(folder("text encoder missing", "sd3", "text_encoder_2/model.onnx", b -> null, "text_encoder_2/model.onnx"));
        c.add(folder("vae_decoder/model.onnx of another architecture (a text encoder)", "sd3", "vae_decoder/model.onnx",
                b -> readPristine("sd3/text_encoder/model.onnx"), "vae_decoder/model.onnx"));
        c.add(folder("transformer/model.onnx of another architecture (the VAE decoder)", "senseflow", t,
                b -> readPristine("senseflow/vae_decoder/model.onnx"), "transformer"));
        c.add(new Case("model.onnx whose external data file is missing", ModelLoadException.class, t, work -> {
            Path dir = work.resolve("model");
            copy(pristine.resolve("senseflow"), dir);
            OnnxModel.read(dir.resolve(t)).write(dir.resolve(t), WriteOptions.externalData(64));
            Files.delete(dir.resolve(t + "_data"));
            Models.load(dir, OPTIONS).close();
        }));
        c.add(new Case("model.onnx whose external data file is truncated", ModelLoadException.class, t, work -> {
            Path dir = work.resolve("model");
            copy(pristine.resolve("senseflow"), dir);
            OnnxModel.read(dir.resolve(t)).write(dir.resolve(t), WriteOptions.externalData(64));
            Path data = dir.resolve(t + "_data");
            Files.write(data, Arrays.copyOf(Files.readAllBytes(data), (int) Files.size(data) / 2));
            Models.load(dir, OPTIONS).close();
        }));

        // safetensors weights with lying headers
        TensorValue w = firstWeight();
        long n = 1;
        for (long d : w.dims()) {
            n *= d;
        }
        String wShape = shape(w.dims());
        c.add(weights("safetensors: empty", new byte[0]));
        c.add(weights("safetensors: header length past the end", headerLength(1000)));
        c.add(weights("safetensors: negative header length", headerLength(-8)));
        c.add(weights("safetensors: header length of a terabyte", headerLength(1L << 40)));
        c.add(weights("safetensors: header that is not JSON", safetensors("{\"a\": ", 0)));
        c.add(weights("safetensors: offsets past the end", safetensors("{" + entry(w.name(), "F32", wShape, 0, 4 * n) + "}",
                (int) (2 * n)), w.name()));
        c.add(weights("safetensors: begin after end", safetensors("{" + entry(w.name(), "F32", wShape, 8, 0) + "}", 8), w.name()));
        c.add(weights("safetensors: negative offset", safetensors("{" + entry(w.name(), "F32", wShape, -4, 4 * n - 4) + "}",
                (int) (4 * n)), w.name()));
        c.add(weights("safetensors: duplicate names", safetensors("{" + entry(w.name(), "F32", wShape, 0, 4 * n) + ","
                + entry(w.name(), "F32", wShape, 4 * n, 8 * n) + "}", (int) (8 * n)), w.name()));
        c.add(weights("safetensors: unknown dtype", safetensors("{" + entry(w.name(), "F17", wShape, 0, 4 * n) + "}",
                (int) (4 * n)), w.name()));
        c.add(weights("safetensors: integer dtype for a float weight", safetensors("{" + entry(w.name(), "I32", wShape, 0, 4 * n)
                + "}", (int) (4 * n)), w.name()));
        c.add(weights("safetensors: shape whose element count overflows", safetensors("{" + entry(w.name(), "F32",
                "[1099511627776,1099511627776]", 0, 4) + "}", 4), w.name()));
        c.add(weights("safetensors: huge declared shape", safetensors("{" + entry(w.name(), "F32", "[4294967296,16]", 0,
                4 * n) + "}", (int) (4 * n)), w.name()));
        c.add(weights("safetensors: negative dimension", safetensors("{" + entry(w.name(), "F32", "[-1]", 0, 4) + "}", 4),
                w.name()));
        c.add(weights("safetensors: shape other than the model's", safetensors("{" + entry(w.name(), "F32", "[" + n + "]", 0,
                4 * n) + "}", (int) (4 * n)), w.name()));
        c.add(weights("safetensors: a tensor the model does not have", safetensors("{" + entry("no.such.weight", "F32", "[1]",
                0, 4) + "}", 4), "no.such.weight"));
        c.add(weights("safetensors: data section cut short", Arrays.copyOf(safetensors("{" + entry(w.name(), "F32", wShape, 0,
                4 * n) + "}", (int) (4 * n)), 40), w.name()));

        // tokenizer.json
        String tok = "tokenizer/tokenizer.json";
        c.add(folder("tokenizer.json empty", "sd3", tok, replace(""), tok));
        c.add(folder("tokenizer.json cut in half", "sd3", tok, truncate(0.5), tok));
        c.add(folder("tokenizer.json that is not JSON", "sd3", tok, replace("hello"), tok));
        c.add(folder("tokenizer.json that is an array", "sd3", tok, replace("[1, 2, 3]"), tok));
        c.add(folder("tokenizer.json without a model", "sd3", tok, replace("{\"version\": \"1.0\"}"), tok));
        c.add(folder("tokenizer.json whose model is a number", "sd3", tok, replace("{\"model\": 5}"), tok));
        c.add(folder("tokenizer.json of an unknown model type", "sd3", tok,
                replace("{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"<|endoftext|>\": 0}}}"), tok));
        c.add(folder("tokenizer.json whose vocabulary is a string", "sd3", tok, edit("\"vocab\":", "\"vocab\": \"x\", \"was\":"), tok));
        c.add(folder("tokenizer.json nested 100,000 deep", "sd3", tok, replace(nested(100_000)), tok));
        c.add(folder("tokenizer.json with invalid UTF-8", "sd3", tok, b -> {
            b[b.length / 2] = (byte) 0xff;
            return b;
        }, tok));
        c.add(folder("tokenizer_config.json that is not JSON", "sd3", "tokenizer/tokenizer_config.json", replace("{pad"),
                "tokenizer_config.json"));

        // model_index.json
        String idx = "model_index.json";
        c.add(folder("model_index.json empty", "sd3", idx, replace(""), idx));
        c.add(folder("model_index.json that is not JSON", "sd3", idx, replace("{\"_class_name\": StableDiffusion3Pipeline}"), idx));
        c.add(folder("model_index.json that is an array", "sd3", idx, replace("[]"), idx));
        c.add(folder("model_index.json with a numeric family", "sd3", idx, replace("{\"family\": 5}"), idx));
        c.add(folder("model_index.json naming an unknown family", "sd3", idx, replace("{\"family\": \"sd4\"}"), idx));
        c.add(folder("model_index.json with a string for a boolean", "sd3", idx,
                edit("\"_diffusers_version\"", "\"senseflow_checkpoint\": \"yes\", \"_diffusers_version\""), idx));
        c.add(folder("model_index.json nested 100,000 deep", "sd3", idx, replace("{\"a\": " + nested(100_000) + "}"), idx));
        c.add(folder("model_index.json with invalid UTF-8", "sd3", idx, b -> {
            b[5] = (byte) 0xc3;
            b[6] = (byte) 0x28;
            return b;
        }, idx));
        c.add(folder("model_index.json with a NUL byte", "sd3", idx, b -> {
            b[b.length / 2] = 0;
            return b;
        }, idx));
        c.add(folder("SenseFlow model_index.json with an unknown scheduler", "senseflow", idx,
                edit("\"type\": \"few_step\"", "\"type\": \"warp_drive\""), idx));
        c.add(folder("SenseFlow model_index.json with increasing anchors", "senseflow", idx,
                edit("[1.0, 0.75, 0.5]", "[0.5, 0.75, 1.0]"), idx));
        c.add(folder("SenseFlow model_index.json of a newer format", "senseflow", idx,
                edit("\"format_version\": 1", "\"format_version\": 99"), idx));

        // component configs
        String vae = "vae_decoder/config.json";
        c.add(folder("vae config that is not JSON", "sd3", vae, truncate(0.5), vae));
        c.add(folder("vae config with a string scaling factor", "sd3", vae, edit("1.5305", "\"1.5305\""), vae));
        c.add(folder("vae config with 20 resolution levels", "sd3", vae,
                edit("[128, 256, 512, 512]", "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"), vae));
        c.add(folder("vae config with fractional latent channels", "sd3", vae, edit("\"latent_channels\": 16",
                "\"latent_channels\": 16.5"), vae));
        c.add(folder("scheduler config with a string shift", "sd3", "scheduler/scheduler_config.json",
                edit("\"shift\": 3.0", "\"shift\": \"three\""), "scheduler_config.json"));
        c.add(folder("transformer config that is an array", "sd3", "transformer/config.json", replace("[1]"),
                "transformer/config.json"));

        // checkpoints
        String man = "manifest.json";
        c.add(checkpoint("checkpoint manifest that is not JSON", man, truncate(0.5), man));
        c.add(checkpoint("checkpoint manifest of a newer version", man, edit("\"version\": 1", "\"version\": 99"), man));
        c.add(checkpoint("checkpoint manifest listing a file outside the folder", man,
                edit("\"config.json\"", "\"../config.json\""), man));
        c.add(checkpoint("checkpoint parameters with a lying header", "generator.safetensors",
                b -> headerLength(1L << 40), "generator.safetensors"));
        c.add(checkpoint("checkpoint parameters with one bit flipped", "fake_score.safetensors", b -> {
            b[b.length - 5] ^= 0x10;
            return b;
        }, "fake_score.safetensors"));
        c.add(checkpoint("checkpoint config of another run", "config.json", edit("\"batch_size\": 32", "\"batch_size\": 31"),
                "config.json"));
        c.add(new Case("checkpoint of another architecture", CheckpointException.class, "checkpoint-000000002", work -> {
            Path dir = work.resolve("runs");
            copy(pristine.resolve("runs"), dir);
            CheckpointStore.at(dir).loadLatest().orElseThrow().restore(checkpointRun(MlpSpec.denoiser(2, 8, 24, 2)));
        }));
        return c;
    }

    // ------------------------------------------------------------------ running it

    @TestFactory
    Stream<DynamicTest> everyBadFileIsATypedErrorNamingTheFile() {
        return corpus().stream().map(k -> DynamicTest.dynamicTest(k.name(), () -> {
            Path dir = Files.createDirectories(work.resolve(Integer.toHexString(k.name().hashCode())));
            Throwable thrown = assertTimeoutPreemptively(LIMIT, () -> {
                try {
                    k.action().run(dir);
                    return null;
                } catch (Throwable e) {
                    return e;
                }
            }, () -> k.name() + ": no result within " + LIMIT);
            assertThat(thrown).as(k.name() + ": nothing was thrown").isNotNull();
            assertThat(thrown).as(k.name()).isInstanceOf(k.type());
            String message = thrown.getMessage();
            boolean named = Stream.of(k.names().split("\\|")).anyMatch(message::contains);
            assertThat(named).as(k.name() + ": the message names " + k.names() + ": " + message).isTrue();
            REPORT.add(k.name() + "\n    " + thrown.getClass().getSimpleName() + ": " + message.replace(work.toString(), "<tmp>"));
        }));
    }

    static final java.util.Queue<String> REPORT = new java.util.concurrent.ConcurrentLinkedQueue<>();

    /** Writes what each bad file produced to {@code target/reliability/bad-files.txt}, for review. */
    @org.junit.jupiter.api.AfterAll
    static void report() throws IOException {
        Path out = Files.createDirectories(Path.of("target", "reliability")).resolve("bad-files.txt");
        Files.write(out, REPORT);
    }

    @Test
    void theCorpusHasAtLeastFiftyBadFiles() {
        assertThat(corpus()).hasSizeGreaterThanOrEqualTo(50);
        System.out.println("BadFilesCorpusTest: " + corpus().size() + " bad files");
    }

    static byte[] readPristine(String rel) {
        try {
            return Files.readAllBytes(pristine.resolve(rel));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static void copy(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(to.resolve(from.relativize(d).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                Files.copy(f, to.resolve(from.relativize(f).toString()), StandardCopyOption.REPLACE_EXISTING);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
