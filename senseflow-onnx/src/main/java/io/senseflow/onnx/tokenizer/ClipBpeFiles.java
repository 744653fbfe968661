package io.senseflow.onnx.tokenizer;

import io.senseflow.ModelLoadException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and cross-checks a slow CLIP tokenizer folder: {@code vocab.json} (token to id), {@code merges.txt} (the
 * {@code #version} header, then one merge per line in rank order), and the optional {@code tokenizer_config.json}
 * ({@code added_tokens_decoder}, {@code bos_token}, {@code eos_token}, {@code pad_token}, {@code unk_token},
 * {@code model_max_length}) and {@code special_tokens_map.json} (the same token names, used where the config has
 * none).
 */
final class ClipBpeFiles {
    static final String VOCAB = "vocab.json";
    static final String MERGES = "merges.txt";
    static final String CONFIG = "tokenizer_config.json";
    static final String SPECIAL = "special_tokens_map.json";
    /** transformers' slow CLIPTokenizer reads at most this many merges (CLIP's own file has exactly as many). */
    static final int MAX_MERGES = 49152 - 256 - 2;
    /** transformers writes 1e30 for "no limit". */
    private static final double NO_LIMIT = 1e9;

    private ClipBpeFiles() {
    }

    static ClipBpeTokenizer read(Path folder, Integer maxLength, Integer defaultMaxLength, String padToken,
                                 String defaultPadToken, Long defaultPadId) {
        String where = folder.toString();
        if (!Files.isDirectory(folder)) {
            throw new ModelLoadException("tokenizer folder " + where + " does not exist or is not a folder");
        }
        Map<String, Integer> vocab = vocab(folder.resolve(VOCAB), where);
        Map<String, Integer> ranks = merges(folder.resolve(MERGES), vocab, where);
        Map<?, ?> config = optionalObject(folder.resolve(CONFIG), where);
        Map<?, ?> special = optionalObject(folder.resolve(SPECIAL), where);

        Map<String, Integer> added = new LinkedHashMap<>();
        Object decoder = config.get("added_tokens_decoder");
        if (decoder != null) {
            if (!(decoder instanceof Map<?, ?> d)) {
                throw new ModelLoadException(CONFIG + " in " + where + ": added_tokens_decoder: expected an object of id "
                        + "to token, got " + Json.kind(decoder));
            }
            for (Map.Entry<?, ?> e : d.entrySet()) {
                int id;
                try {
                    id = Integer.parseInt((String) e.getKey());
                } catch (NumberFormatException ex) {
                    throw new ModelLoadException(CONFIG + " in " + where + ": added_tokens_decoder: expected integer ids "
                            + "as keys, got \"" + e.getKey() + "\"");
                }
                String content = tokenText(e.getValue(), "added_tokens_decoder." + e.getKey(), where);
                if (content == null || content.isEmpty() || id < 0) {
                    throw new ModelLoadException(CONFIG + " in " + where + ": added_tokens_decoder." + e.getKey()
                            + ": expected a non-empty content and a non-negative id");
                }
                added.put(content, id);
            }
        }

        String bos = name(config, special, "bos_token", "<|startoftext|>", where);
        String eos = name(config, special, "eos_token", "<|endoftext|>", where);
        String unk = name(config, special, "unk_token", "<|endoftext|>", where);
        int bosId = id(bos, "bos_token", vocab, added, where);
        int eosId = id(eos, "eos_token", vocab, added, where);
        int unkId = id(unk, "unk_token", vocab, added, where);
        int padId;
        String pad = padToken != null ? padToken : name(config, special, "pad_token", null, where);
        if (pad != null) {
            padId = id(pad, padToken != null ? "padToken" : "pad_token", vocab, added, where);
        } else if (defaultPadToken != null) {
            padId = id(defaultPadToken, "the default pad token", vocab, added, where);
        } else if (defaultPadId != null) {
            padId = Math.toIntExact(defaultPadId);
        } else {
            throw new ModelLoadException(where + ": no pad token known: neither " + CONFIG + " nor " + SPECIAL
                    + " names pad_token; set ClipBpeTokenizer.Builder.padToken (CLIP: \"<|endoftext|>\")");
        }

        int length;
        if (maxLength != null) {
            length = maxLength;
        } else {
            Object m = config.get("model_max_length");
            if (m instanceof Number n && n.doubleValue() >= 2 && n.doubleValue() < NO_LIMIT) {
                length = n.intValue();
            } else if (m != null && !(m instanceof Number)) {
                throw new ModelLoadException(CONFIG + " in " + where + ": model_max_length: expected a number, got "
                        + Json.kind(m));
            } else if (defaultMaxLength != null) {
                length = defaultMaxLength;
            } else {
                throw new ModelLoadException(where + ": no padded length known; set ClipBpeTokenizer.Builder.maxLength "
                        + "(CLIP: 77) or put model_max_length in " + CONFIG);
            }
        }
        Path name = folder.getFileName();
        return new ClipBpeTokenizer(name == null ? where : name.toString(), vocab, ranks, added, bosId, eosId, padId,
                unkId, length);
    }

    private static Map<String, Integer> vocab(Path file, String where) {
        Object root = parse(file, where, true);
        if (!(root instanceof Map<?, ?> m)) {
            throw new ModelLoadException(VOCAB + " in " + where + ": expected an object of token to id, got " + Json.kind(root));
        }
        Map<String, Integer> vocab = new HashMap<>(m.size() * 2);
        Map<Integer, String> byId = new HashMap<>(m.size() * 2);
        for (Map.Entry<?, ?> e : m.entrySet()) {
            String token = (String) e.getKey();
            if (!(e.getValue() instanceof Long id) || id < 0 || id > Integer.MAX_VALUE) {
                throw new ModelLoadException(VOCAB + " in " + where + ": token \"" + token + "\": expected a non-negative "
                        + "integer id, got " + Json.kind(e.getValue()) + " " + e.getValue());
            }
            String before = byId.putIfAbsent(id.intValue(), token);
            if (before != null) {
                throw new ModelLoadException(VOCAB + " in " + where + ": id " + id + " is given to both \"" + before
                        + "\" and \"" + token + "\"");
            }
            vocab.put(token, id.intValue());
        }
        if (vocab.isEmpty()) {
            throw new ModelLoadException(VOCAB + " in " + where + " is an empty vocabulary");
        }
        return Map.copyOf(vocab);
    }

    private static Map<String, Integer> merges(Path file, Map<String, Integer> vocab, String where) {
        String text = readText(file, where, true);
        List<String> lines = text.strip().lines().toList();
        int first = !lines.isEmpty() && lines.get(0).startsWith("#version") ? 1 : 0;
        Map<String, Integer> ranks = new HashMap<>();
        int end = Math.min(lines.size(), first + MAX_MERGES);
        for (int i = first; i < end; i++) {
            String line = lines.get(i);
            int lineNo = i + 1;
            String[] parts = line.split(" ", -1);
            if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
                throw new ModelLoadException(MERGES + " in " + where + ", line " + lineNo + ": expected two symbols "
                        + "separated by one space, got \"" + line + "\"");
            }
            for (String part : parts) {
                if (!vocab.containsKey(part)) {
                    throw new ModelLoadException(MERGES + " in " + where + ", line " + lineNo + ": symbol \"" + part
                            + "\" of merge \"" + line + "\" is not in " + VOCAB + "; " + MERGES + " does not belong to this "
                            + VOCAB);
                }
            }
            String merged = parts[0] + parts[1];
            if (!vocab.containsKey(merged)) {
                throw new ModelLoadException(MERGES + " in " + where + ", line " + lineNo + ": merge \"" + line
                        + "\" makes \"" + merged + "\", which is not in " + VOCAB + "; " + MERGES + " does not belong to "
                        + "this " + VOCAB);
            }
            ranks.putIfAbsent(parts[0] + ' ' + parts[1], i - first);
        }
        return Map.copyOf(ranks);
    }

    private static Map<?, ?> optionalObject(Path file, String where) {
        if (!Files.isRegularFile(file)) {
            return Map.of();
        }
        Object root = parse(file, where, false);
        if (!(root instanceof Map<?, ?> m)) {
            throw new ModelLoadException(file.getFileName() + " in " + where + ": expected a JSON object, got " + Json.kind(root));
        }
        return m;
    }

    /** A token name from the config, else the special-tokens map, else the default. */
    private static String name(Map<?, ?> config, Map<?, ?> special, String key, String fallback, String where) {
        String fromConfig = tokenText(config.get(key), CONFIG + ": " + key, where);
        if (fromConfig != null) {
            return fromConfig;
        }
        String fromMap = tokenText(special.get(key), SPECIAL + ": " + key, where);
        return fromMap != null ? fromMap : fallback;
    }

    /** A token given as a string or as an object with "content" (an AddedToken). */
    private static String tokenText(Object value, String what, String where) {
        if (value == null) {
            return null;
        }
        if (value instanceof String s) {
            return s;
        }
        if (value instanceof Map<?, ?> m && m.get("content") instanceof String s) {
            return s;
        }
        throw new ModelLoadException(what + " in " + where + ": expected a token string or an object with \"content\", got "
                + Json.kind(value));
    }

    private static int id(String token, String what, Map<String, Integer> vocab, Map<String, Integer> added, String where) {
        Integer id = added.get(token);
        if (id == null) {
            id = vocab.get(token);
        }
        if (id == null) {
            throw new ModelLoadException(where + ": " + what + " \"" + token + "\" is neither in " + VOCAB
                    + " nor an added token of " + CONFIG);
        }
        return id;
    }

    private static Object parse(Path file, String where, boolean required) {
        String text = readText(file, where, required);
        try {
            return Json.parse(text);
        } catch (JsonException e) {
            throw new ModelLoadException(file.getFileName() + " in " + where + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    private static String readText(Path file, String where, boolean required) {
        try {
            return Json.decodeUtf8(ByteBuffer.wrap(Files.readAllBytes(file)));
        } catch (NoSuchFileException e) {
            throw new ModelLoadException(file.getFileName() + " is missing in " + where
                    + (required ? "; a CLIP tokenizer folder needs " + VOCAB + " and " + MERGES : ""), e);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + file.getFileName() + " in " + where + ": " + e, e);
        } catch (JsonException e) {
            throw new ModelLoadException(file.getFileName() + " in " + where + " is not UTF-8 text: " + e.getMessage(), e);
        }
    }
}
