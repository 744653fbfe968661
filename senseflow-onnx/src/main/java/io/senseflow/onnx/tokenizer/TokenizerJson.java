package io.senseflow.onnx.tokenizer;

import io.senseflow.ModelLoadException;
import io.senseflow.SenseFlowException;
import io.senseflow.json.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * What the SDK reads from a {@code tokenizer.json} itself (before the native tokenizer sees it): that the file is
 * strict JSON with a {@code model} object, the token-to-id table for resolving a pad token, the file's own padding
 * id, and the optional {@code tokenizer_config.json} beside it ({@code pad_token}, {@code model_max_length}).
 */
final class TokenizerJson {
    /** transformers writes 1e30 for "no limit". */
    private static final double NO_LIMIT = 1e9;

    private final Path file;
    private final Map<String, Long> vocab;
    private final Long paddingId;
    private final String configPadToken;
    private final Long configMaxLength;

    private TokenizerJson(Path file, Map<String, Long> vocab, Long paddingId, String configPadToken, Long configMaxLength) {
        this.file = file;
        this.vocab = vocab;
        this.paddingId = paddingId;
        this.configPadToken = configPadToken;
        this.configMaxLength = configMaxLength;
    }

    static TokenizerJson read(Path file) {
        Map<?, ?> root = object(parse(file), file, "the top level");
        Object model = root.get("model");
        if (!(model instanceof Map<?, ?> m)) {
            throw new ModelLoadException(file + " is not a Hugging Face tokenizers file: expected a \"model\" object at the "
                    + "top level, got " + Json.kind(model));
        }
        Map<String, Long> vocab = new HashMap<>();
        Object v = m.get("vocab");
        if (v instanceof Map<?, ?> wordIds) { // WordLevel, WordPiece, BPE
            wordIds.forEach((k, id) -> {
                if (id instanceof Long l) {
                    vocab.put((String) k, l);
                }
            });
        } else if (v instanceof List<?> pieces) { // Unigram: [[piece, score], ...], id = position
            for (int i = 0; i < pieces.size(); i++) {
                if (pieces.get(i) instanceof List<?> p && !p.isEmpty() && p.get(0) instanceof String s) {
                    vocab.putIfAbsent(s, (long) i);
                }
            }
        }
        if (root.get("added_tokens") instanceof List<?> added) {
            for (Object a : added) {
                if (a instanceof Map<?, ?> t && t.get("content") instanceof String s && t.get("id") instanceof Long id) {
                    vocab.put(s, id);
                }
            }
        }
        Long paddingId = root.get("padding") instanceof Map<?, ?> p && p.get("pad_id") instanceof Long id ? id : null;

        String padToken = null;
        Long maxLength = null;
        Path config = file.resolveSibling("tokenizer_config.json");
        if (Files.isRegularFile(config)) {
            Map<?, ?> c = object(parse(config), config, "the top level");
            Object pad = c.get("pad_token");
            if (pad instanceof String s) {
                padToken = s;
            } else if (pad instanceof Map<?, ?> added && added.get("content") instanceof String s) {
                padToken = s;
            }
            if (c.get("model_max_length") instanceof Number n && n.doubleValue() > 0 && n.doubleValue() < NO_LIMIT) {
                maxLength = n.longValue();
            }
        }
        return new TokenizerJson(file, vocab, paddingId, padToken, maxLength);
    }

    /** @param token a token @return its id, if the vocabulary or the added tokens have it */
    OptionalLong id(String token) {
        Long id = vocab.get(token);
        return id == null ? OptionalLong.empty() : OptionalLong.of(id);
    }

    Long paddingId() {
        return paddingId;
    }

    String configPadToken() {
        return configPadToken;
    }

    Long configMaxLength() {
        return configMaxLength;
    }

    Path file() {
        return file;
    }

    private static Object parse(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ModelLoadException("tokenizer file " + file + " does not exist");
        } catch (IOException e) {
            throw new ModelLoadException("cannot read tokenizer file " + file + ": " + e, e);
        }
        try {
            return Json.parse(Json.decodeUtf8(ByteBuffer.wrap(bytes)));
        } catch (SenseFlowException e) {
            throw new ModelLoadException("tokenizer file " + file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    private static Map<?, ?> object(Object value, Path file, String where) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new ModelLoadException(file + ": expected a JSON object at " + where + ", got " + Json.kind(value));
        }
        return m;
    }
}
