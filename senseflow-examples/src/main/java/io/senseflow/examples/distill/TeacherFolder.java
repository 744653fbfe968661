package io.senseflow.examples.distill;

import io.senseflow.ModelLoadException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonException;
import io.senseflow.json.JsonObject;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * A teacher in the SDK's own folder layout ({@code model_index.json} with {@code "family": "senseflow"}), read for
 * distillation: each component's graph with its {@code weights.safetensors} (if any) folded into the initializers, the
 * tokenizer files, the architectures, and a fingerprint of every file so that a resumed run can tell it is being fed
 * the same teacher.
 *
 * @param dir the folder
 * @param transformer the flow transformer graph, trained weights in place
 * @param textEncoder the text encoder graph, weights in place
 * @param vaeDecoder the autoencoder's decoder graph, weights in place
 * @param vaeEncoder the autoencoder's encoder graph, weights in place (real images to latents)
 * @param tokenizerJson {@code tokenizer/tokenizer.json}
 * @param padToken the pad token of {@code tokenizer/tokenizer_config.json}
 * @param fingerprint SHA-256 over the folder's files but {@code provenance.json} (names and contents, sorted by name)
 */
public record TeacherFolder(Path dir, OnnxModel transformer, OnnxModel textEncoder, OnnxModel vaeDecoder,
                            OnnxModel vaeEncoder, String tokenizerJson, String padToken, String fingerprint) {

    /**
     * @param dir a teacher folder in the SDK's own layout
     * @return the teacher
     * @throws ModelLoadException naming the file that is missing or unreadable
     */
    public static TeacherFolder read(Path dir) {
        Path d = dir.toAbsolutePath().normalize();
        if (!Files.isDirectory(d)) {
            throw new ModelLoadException("teacher folder " + d + " does not exist (expected a model folder in the SDK's"
                    + " own layout, with model_index.json, tokenizer/, text_encoder/, transformer/, vae_decoder/ and"
                    + " vae_encoder/)");
        }
        JsonObject index = json(d.resolve("model_index.json"));
        String family = index.getString("family", "");
        if (!"senseflow".equals(family)) {
            throw new ModelLoadException(d.resolve("model_index.json") + ": family: expected \"senseflow\" (a teacher in"
                    + " the SDK's own layout), got \"" + family + "\"");
        }
        if (index.getBoolean("senseflow_checkpoint", false)) {
            throw new ModelLoadException(d.resolve("model_index.json") + ": senseflow_checkpoint: expected false (a"
                    + " many-step teacher), got true: this folder holds a distilled student, not a teacher");
        }
        Path encoder = d.resolve("vae_encoder");
        if (!Files.isRegularFile(encoder.resolve("model.onnx"))) {
            throw new ModelLoadException(encoder.resolve("model.onnx") + " is missing: distillation encodes real images"
                    + " into latents, so the teacher folder needs the autoencoder's encoder");
        }
        JsonObject tokConfig = json(d.resolve("tokenizer/tokenizer_config.json"));
        String pad = tokConfig.getString("pad_token", null);
        if (pad == null) {
            throw new ModelLoadException(d.resolve("tokenizer/tokenizer_config.json") + ": pad_token is missing");
        }
        return new TeacherFolder(d, component(d, "transformer"), component(d, "text_encoder"),
                component(d, "vae_decoder"), component(d, "vae_encoder"), text(d.resolve("tokenizer/tokenizer.json")), pad,
                fingerprint(d));
    }

    /** @return the flow transformer's architecture */
    public FlowTransformer.Config transformerConfig() {
        return FlowTransformer.Config.fromMetadata(transformer.metadata(), dir.resolve("transformer/model.onnx").toString());
    }

    /** @return the autoencoder's architecture */
    public Autoencoder.Config autoencoderConfig() {
        return Autoencoder.Config.fromMetadata(vaeDecoder.metadata(), dir.resolve("vae_decoder/model.onnx").toString());
    }

    /** A component's graph with its {@code weights.safetensors} folded in (the form {@code SenseFlowFolder} ships). */
    static OnnxModel component(Path dir, String name) {
        Path graph = dir.resolve(name).resolve("model.onnx");
        if (!Files.isRegularFile(graph)) {
            throw new ModelLoadException(graph + " is missing in the teacher folder");
        }
        OnnxModel model = OnnxModel.read(graph);
        Path weights = dir.resolve(name).resolve("weights.safetensors");
        if (!Files.isRegularFile(weights)) {
            return model;
        }
        List<TensorValue> replaced = new ArrayList<>();
        try (SafetensorsFile st = SafetensorsFile.open(weights)) {
            for (TensorValue t : model.graph().initializers()) {
                replaced.add(st.contains(t.name()) ? st.tensorValue(t.name()) : t);
            }
            for (String n : st.names()) {
                if (model.graph().initializer(n).isEmpty()) {
                    throw new ModelLoadException(weights + " holds '" + n + "', which is no initializer of " + graph);
                }
            }
        }
        return model.withGraph(model.graph().withInitializers(replaced));
    }

    private static JsonObject json(Path file) {
        try {
            return Json.parseObject(text(file));
        } catch (JsonException e) {
            throw new ModelLoadException(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    private static String text(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + file + " of the teacher folder: " + e, e);
        }
    }

    private static String fingerprint(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            // provenance.json describes how the teacher was made; rewriting it does not change the teacher
            List<Path> sorted = files.filter(Files::isRegularFile)
                    .filter(p -> !p.getFileName().toString().equals("provenance.json")).sorted().toList();
            MessageDigest all = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (Path p : sorted) {
                all.update(dir.relativize(p).toString().replace('\\', '/').getBytes(StandardCharsets.UTF_8));
                all.update((byte) 0);
                try (InputStream in = Files.newInputStream(p)) {
                    for (int n = in.read(buf); n > 0; n = in.read(buf)) {
                        all.update(buf, 0, n);
                    }
                }
            }
            return HexFormat.of().formatHex(all.digest());
        } catch (IOException e) {
            throw new ModelLoadException("cannot read the teacher folder " + dir + ": " + e, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java platform", e);
        }
    }
}
