package io.senseflow.examples.shapes;

import io.senseflow.json.Json;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The Shapes tokenizer: a Hugging Face {@code tokenizer.json} of the WordLevel kind over exactly the words of the
 * caption grammar ({@link ShapeAttributes#caption()}), lower-cased and split on whitespace, with an end token
 * appended — T5's layout: ids 0 {@code <pad>}, 1 {@code </s>}, 2 {@code <unk>}, then the words in the order they first
 * appear when every caption is listed. The same tokenization is available in plain Java ({@link #ids}) for training,
 * which must agree with what {@code HfTokenizer} does with the file at inference (tested).
 */
public final class ShapesTokenizer {
    /** The padding token (id 0). */
    public static final String PAD = "<pad>";
    /** The end token, appended to every caption (id 1). */
    public static final String EOS = "</s>";
    /** The unknown-word token (id 2). */
    public static final String UNK = "<unk>";
    /** Token count the text encoder takes; the longest caption has 12 words, plus the end token. */
    public static final int LENGTH = 13;

    private static final List<String> SPECIALS = List.of(PAD, EOS, UNK);
    private static final List<String> WORDS = collectWords();

    private ShapesTokenizer() {
    }

    private static List<String> collectWords() {
        Set<String> words = new LinkedHashSet<>();
        for (int i = 0; i < ShapeAttributes.combinations(); i++) {
            Collections.addAll(words, ShapeAttributes.fromIndex(i).caption().split(" "));
        }
        return List.copyOf(words);
    }

    /** @return the caption words in id order (after the three special tokens) */
    public static List<String> words() {
        return WORDS;
    }

    /** @return the vocabulary size: special tokens plus words */
    public static int vocabSize() {
        return SPECIALS.size() + WORDS.size();
    }

    /** @param token a token @return its id, or the unknown token's id */
    public static int id(String token) {
        int s = SPECIALS.indexOf(token);
        if (s >= 0) {
            return s;
        }
        int w = WORDS.indexOf(token);
        return w < 0 ? SPECIALS.indexOf(UNK) : SPECIALS.size() + w;
    }

    /**
     * The ids the tokenizer file gives for a prompt: its words, the end token, padding to {@link #LENGTH}; a longer
     * prompt is cut to {@code LENGTH - 1} words plus the end token (as {@code HfTokenizer} truncates).
     *
     * @param prompt a prompt (any text; unknown words become {@code <unk>})
     * @return {@link #LENGTH} ids
     */
    public static long[] ids(String prompt) {
        List<Long> ids = new ArrayList<>();
        for (String w : prompt.toLowerCase(Locale.ROOT).trim().split("\\s+")) {
            if (!w.isEmpty()) {
                ids.add((long) id(w));
            }
        }
        if (ids.size() > LENGTH - 1) {
            ids = new ArrayList<>(ids.subList(0, LENGTH - 1));
        }
        ids.add((long) id(EOS));
        long[] out = new long[LENGTH];
        for (int i = 0; i < ids.size(); i++) {
            out[i] = ids.get(i);
        }
        return out;
    }

    /** @param ids ids from {@link #ids} @return the attention mask: 1 for real tokens (end token included), 0 for padding */
    public static long[] mask(long[] ids) {
        long[] m = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            m[i] = ids[i] == 0 ? 0 : 1;
        }
        return m;
    }

    /** @return the same tokenization as a {@link io.senseflow.model.Tokenizer}, in plain Java (no native library) */
    public static io.senseflow.model.Tokenizer tokenizer() {
        return prompts -> {
            long[][] ids = new long[prompts.size()][];
            long[][] masks = new long[prompts.size()][];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = ids(prompts.get(i));
                masks[i] = mask(ids[i]);
            }
            return new io.senseflow.model.TokenizedPrompts(ids, masks);
        };
    }

    /** @return the {@code tokenizer.json} text (the same bytes every time) */
    public static String json() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("truncation", null);
        root.put("padding", null);
        List<Object> added = new ArrayList<>();
        for (String s : SPECIALS) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("id", (long) id(s));
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
        root.put("pre_tokenizer", obj("type", "WhitespaceSplit"));
        Map<String, Object> eos = new LinkedHashMap<>();
        eos.put("id", EOS);
        eos.put("ids", List.of((long) id(EOS)));
        eos.put("tokens", List.of(EOS));
        Map<String, Object> post = new LinkedHashMap<>();
        post.put("type", "TemplateProcessing");
        post.put("single", List.of(obj("Sequence", seq("A", 0)), obj("SpecialToken", seq(EOS, 0))));
        post.put("pair", List.of(obj("Sequence", seq("A", 0)), obj("Sequence", seq("B", 1)),
                obj("SpecialToken", seq(EOS, 1))));
        post.put("special_tokens", obj(EOS, eos));
        root.put("post_processor", post);
        root.put("decoder", null);
        Map<String, Object> vocab = new LinkedHashMap<>();
        for (String s : SPECIALS) {
            vocab.put(s, (long) id(s));
        }
        for (String w : WORDS) {
            vocab.put(w, (long) id(w));
        }
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "WordLevel");
        model.put("vocab", vocab);
        model.put("unk_token", UNK);
        root.put("model", model);
        return Json.writePretty(root);
    }

    private static Map<String, Object> seq(String id, long typeId) {
        return obj("id", id, "type_id", typeId);
    }

    /** An insertion-ordered object (Map.of would make the file's key order vary between runs). */
    private static Map<String, Object> obj(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }
}
