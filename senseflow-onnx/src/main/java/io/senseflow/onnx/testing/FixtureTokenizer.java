package io.senseflow.onnx.testing;

import io.senseflow.json.Json;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tiny Hugging Face {@code tokenizer.json} files (WordLevel over lower-cased words) in the two shapes the real
 * families use, and the same tokenization in plain Java for references:
 * <ul>
 *   <li>{@link Style#CLIP}: {@code <|startoftext|> words <|endoftext|>}; ids 0 {@code <|startoftext|>},
 *       1 {@code <|endoftext|>}, 2 {@code !} (CLIP-G's pad token), 3 {@code <|unk|>}, then the words;</li>
 *   <li>{@link Style#T5}: {@code words </s>}; ids 0 {@code <pad>}, 1 {@code </s>}, 2 {@code <unk>}, then the words.</li>
 * </ul>
 * Words outside {@link #WORDS} map to the unknown token. Truncation keeps the leading and trailing special tokens, as
 * the Python tokenizers and {@code HfTokenizer} do.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class FixtureTokenizer {
    /** The vocabulary's words, in id order after the special tokens. */
    public static final List<String> WORDS = List.of("a", "red", "cat", "on", "the", "mat", "blue", "dog", "fox", "in",
            "snow", "green", "tree", "house", "sky", "big", "small", "photo", "of", "and", "astronaut", "riding", "horse",
            "moon", "sunset", "over", "sea");

    /** The HF {@code Whitespace} pre-tokenizer's split: runs of word characters, or of other non-space characters. */
    private static final Pattern PIECES = Pattern.compile("\\w+|[^\\w\\s]+", Pattern.UNICODE_CHARACTER_CLASS);

    /** Which family's special-token layout. */
    public enum Style {
        /** CLIP: start and end tokens. */
        CLIP(List.of("<|startoftext|>", "<|endoftext|>", "!", "<|unk|>"), "<|startoftext|>", "<|endoftext|>", "<|unk|>"),
        /** T5: an end token only, pad id 0. */
        T5(List.of("<pad>", "</s>", "<unk>"), null, "</s>", "<unk>");

        private final List<String> specials;
        private final String bos;
        private final String eos;
        private final String unk;

        Style(List<String> specials, String bos, String eos, String unk) {
            this.specials = specials;
            this.bos = bos;
            this.eos = eos;
            this.unk = unk;
        }

        /** @return the vocabulary size */
        public int vocabSize() {
            return specials.size() + WORDS.size();
        }

        /** @param token a token @return its id, or -1 */
        public int id(String token) {
            int i = specials.indexOf(token);
            if (i >= 0) {
                return i;
            }
            int w = WORDS.indexOf(token);
            return w < 0 ? -1 : specials.size() + w;
        }
    }

    private FixtureTokenizer() {
    }

    /**
     * @param style the special-token layout
     * @return the {@code tokenizer.json} text
     */
    public static String json(Style style) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("truncation", null);
        root.put("padding", null);
        List<Object> added = new ArrayList<>();
        for (String s : style.specials) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("id", (long) style.id(s));
            t.put("content", s);
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
            added.add(t);
        }
        root.put("added_tokens", added);
        root.put("normalizer", obj("type", "Lowercase"));
        root.put("pre_tokenizer", obj("type", "Whitespace"));
        root.put("post_processor", postProcessor(style));
        root.put("decoder", null);
        Map<String, Object> vocab = new LinkedHashMap<>();
        for (String s : style.specials) {
            vocab.put(s, (long) style.id(s));
        }
        for (String w : WORDS) {
            vocab.put(w, (long) style.id(w));
        }
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "WordLevel");
        model.put("vocab", vocab);
        model.put("unk_token", style.unk);
        root.put("model", model);
        return Json.writePretty(root);
    }

    private static Map<String, Object> postProcessor(Style style) {
        List<Object> single = new ArrayList<>();
        Map<String, Object> specials = new LinkedHashMap<>();
        if (style.bos != null) {
            single.add(obj("SpecialToken", obj("id", style.bos, "type_id", 0L)));
            specials.put(style.bos, special(style, style.bos));
        }
        single.add(obj("Sequence", obj("id", "A", "type_id", 0L)));
        single.add(obj("SpecialToken", obj("id", style.eos, "type_id", 0L)));
        specials.put(style.eos, special(style, style.eos));
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("type", "TemplateProcessing");
        p.put("single", single);
        p.put("pair", List.of(obj("Sequence", obj("id", "A", "type_id", 0L)),
                obj("Sequence", obj("id", "B", "type_id", 1L))));
        p.put("special_tokens", specials);
        return p;
    }

    private static Map<String, Object> special(Style style, String token) {
        return obj("id", token, "ids", List.of((long) style.id(token)), "tokens", List.of(token));
    }

    /** An insertion-ordered JSON object, so the written files are the same bytes every time. */
    static Map<String, Object> obj(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }

    /**
     * @param padToken the padding token
     * @param maxLength the padded length ({@code model_max_length})
     * @return a {@code tokenizer_config.json} text
     */
    public static String config(String padToken, int maxLength) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pad_token", padToken);
        m.put("model_max_length", (long) maxLength);
        return Json.writePretty(m);
    }

    /**
     * The ids {@code HfTokenizer} gives for a prompt, padded to {@code maxLength}.
     *
     * @param style the layout
     * @param prompt a prompt
     * @param maxLength the padded length
     * @param padId the padding id
     * @return {@code maxLength} ids
     */
    public static long[] ids(Style style, String prompt, int maxLength, long padId) {
        List<Long> words = new ArrayList<>();
        Matcher m = PIECES.matcher(prompt.toLowerCase(Locale.ROOT));
        while (m.find()) {
            int id = style.id(m.group());
            words.add((long) (id < 0 ? style.id(style.unk) : id));
        }
        List<Long> all = new ArrayList<>();
        if (style.bos != null) {
            all.add((long) style.id(style.bos));
        }
        all.addAll(words);
        all.add((long) style.id(style.eos));
        if (all.size() > maxLength) {
            List<Long> cut = new ArrayList<>(all.subList(0, maxLength - 1));
            cut.add((long) style.id(style.eos));
            all = cut;
        }
        long[] out = new long[maxLength];
        Arrays.fill(out, padId);
        for (int i = 0; i < all.size(); i++) {
            out[i] = all.get(i);
        }
        return out;
    }
}
