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
        checkPostProcessor(root.get("post_processor"), file, "post_processor");
        checkUnknownToken(m, file);

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

    /*
     * Files the Rust tokenizers library reads without complaint but fails on when it encodes. DJL's native binding
     * unwraps encoding results, and a panic there cannot unwind into Java: the whole JVM aborts on the first prompt
     * (found by ModelFolderFuzzTest). Such files are refused here, before the library sees them, with a
     * ModelLoadException naming the file.
     */

    /**
     * A template post-processor whose template names a special token missing from its {@code special_tokens}, or whose
     * special token has different numbers of ids and tokens. The library matches post-processors by their fields, not
     * their {@code type} (it reads an object with a misspelt type as a template), so every object with a template is
     * checked; {@code Sequence} post-processors recursively.
     */
    private static void checkPostProcessor(Object processor, Path file, String where) {
        if (!(processor instanceof Map<?, ?> pp)) {
            return; // absent (null) or of a shape the library itself refuses when reading
        }
        if (pp.get("processors") instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                checkPostProcessor(list.get(i), file, where + ".processors[" + i + "]");
            }
        }
        if (!pp.containsKey("single") && !pp.containsKey("pair") && !pp.containsKey("special_tokens")) {
            return;
        }
        Map<?, ?> special = pp.get("special_tokens") instanceof Map<?, ?> m ? m : Map.of();
        for (Map.Entry<?, ?> e : special.entrySet()) {
            if (e.getValue() instanceof Map<?, ?> token && token.get("ids") instanceof List<?> ids
                    && token.get("tokens") instanceof List<?> tokens && ids.size() != tokens.size()) {
                throw new ModelLoadException(file + ": " + where + ".special_tokens \"" + e.getKey() + "\" has " + ids.size()
                        + " ids but " + tokens.size() + " tokens; they must pair up");
            }
        }
        for (String template : List.of("single", "pair")) {
            if (!(pp.get(template) instanceof List<?> pieces)) {
                continue;
            }
            for (Object piece : pieces) {
                if (piece instanceof Map<?, ?> pm && pm.get("SpecialToken") instanceof Map<?, ?> st
                        && st.get("id") instanceof String id && !special.containsKey(id)) {
                    throw new ModelLoadException(file + ": " + where + "." + template + " refers to special token \"" + id
                            + "\", which " + where + ".special_tokens does not define " + special.keySet()
                            + " (the tokenizers library would fail on the first prompt)");
                }
            }
        }
    }

    /**
     * A word-level or word-piece model whose unknown token (given, or the library's default {@code <unk>} /
     * {@code [UNK]}) is not in its vocabulary, a BPE model naming an unknown token outside its vocabulary, or a unigram
     * model without byte fallback whose {@code unk_id} is missing or outside its pieces: the first word the vocabulary
     * lacks would abort the JVM.
     */
    private static void checkUnknownToken(Map<?, ?> model, Path file) {
        Object vocab = model.get("vocab");
        Object unk = model.get("unk_token");
        if (vocab instanceof Map<?, ?> words) {
            String token;
            if (unk instanceof String u) {
                token = u;
            } else if (model.containsKey("merges")) {
                return; // BPE without an unknown token drops what it cannot encode
            } else {
                token = model.containsKey("continuing_subword_prefix") ? "[UNK]" : "<unk>";
            }
            if (!words.containsKey(token)) {
                throw new ModelLoadException(file + ": model.unk_token \"" + token + "\" is not in model.vocab; words "
                        + "outside the vocabulary could not be encoded");
            }
        } else if (vocab instanceof List<?> pieces && !Boolean.TRUE.equals(model.get("byte_fallback"))) {
            Object id = model.get("unk_id");
            if (!(id instanceof Long n) || n < 0 || n >= pieces.size()) {
                throw new ModelLoadException(file + ": model.unk_id is " + (id == null ? "missing" : id) + "; a unigram "
                        + "model without byte fallback needs the index of its unknown piece (0 to " + (pieces.size() - 1)
                        + ") to encode text outside its vocabulary");
            }
        }
    }

    private static Map<?, ?> object(Object value, Path file, String where) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new ModelLoadException(file + ": expected a JSON object at " + where + ", got " + Json.kind(value));
        }
        return m;
    }
}
