package io.senseflow.onnx.tokenizer;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.model.TokenizedPrompts;
import io.senseflow.model.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CLIP's byte-level BPE tokenizer built from the slow-tokenizer files that Optimum and the diffusers repositories ship
 * ({@code vocab.json}, {@code merges.txt}, {@code tokenizer_config.json}, {@code special_tokens_map.json}), in Java,
 * giving the ids of transformers' {@code CLIPTokenizer} as diffusers calls it (padded to 77, truncated).
 *
 * <p>Steps, per prompt (docs/models.md "CLIP tokenizers from vocab.json and merges.txt"):
 * <ol>
 *   <li>split off the added tokens of {@code tokenizer_config.json} ({@code added_tokens_decoder}: CLIP's
 *       {@code <|startoftext|>} and {@code <|endoftext|>}, and {@code !} where a folder pads with it); each becomes its
 *       own id;</li>
 *   <li>clean the rest as transformers does when {@code ftfy} is absent: drop NUL, U+FFFD and control/format
 *       characters, turn every whitespace character into a space, put spaces around CJK ideographs, NFC-normalise,
 *       split on whitespace and lower-case each word;</li>
 *   <li>split with CLIP's pattern ({@code 's 't 're 've 'm 'll 'd}, runs of letters, single digits, runs of other
 *       non-space characters), map each UTF-8 byte to GPT-2's printable byte symbol, mark the last symbol with
 *       {@code </w>}, and merge the adjacent pair of lowest rank in {@code merges.txt} until no ranked pair is left;</li>
 *   <li>look the symbols up in {@code vocab.json} (unknown ones become the unknown token), cut the ids to
 *       {@code maxLength - 2}, wrap them in the bos and eos ids and pad with the pad id.</li>
 * </ol>
 *
 * <p>Load-time checks: {@code vocab.json} must map distinct strings to distinct non-negative ids; every line of
 * {@code merges.txt} after its {@code #version} header must be two symbols whose parts and merged result are all in
 * {@code vocab.json} (a merges file from another vocabulary fails here, naming the line); the bos, eos, pad and unknown
 * tokens must resolve to ids. Failures are {@link ModelLoadException}s naming the folder and file.
 *
 * <p>Immutable after loading (its word cache is a concurrent map): safe to share between threads. Holds no native
 * resources.
 */
public final class ClipBpeTokenizer implements Tokenizer {
    private static final Logger LOG = LoggerFactory.getLogger(ClipBpeTokenizer.class);
    /** CLIP's pre-tokenizer pattern, applied to cleaned, lower-cased text. */
    private static final Pattern WORDS = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);
    private static final String END_OF_WORD = "</w>";
    private static final int CACHE_LIMIT = 20_000;
    private static final int PROMPT_PREVIEW = 60;

    private final String name;
    private final Map<String, Integer> vocab;
    private final Map<String, Integer> ranks;
    private final List<String> addedTokens;
    private final Map<String, Integer> addedIds;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final int unkId;
    private final int maxLength;
    private final char[] byteSymbols;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    ClipBpeTokenizer(String name, Map<String, Integer> vocab, Map<String, Integer> ranks, Map<String, Integer> addedIds,
                     int bosId, int eosId, int padId, int unkId, int maxLength) {
        this.name = name;
        this.vocab = vocab;
        this.ranks = ranks;
        this.addedIds = Map.copyOf(addedIds);
        List<String> added = new ArrayList<>(addedIds.keySet());
        added.sort((a, b) -> Integer.compare(b.length(), a.length())); // longest first where two start together
        this.addedTokens = List.copyOf(added);
        this.bosId = bosId;
        this.eosId = eosId;
        this.padId = padId;
        this.unkId = unkId;
        this.maxLength = maxLength;
        this.byteSymbols = byteSymbols();
    }

    /**
     * @param folder a tokenizer folder with {@code vocab.json} and {@code merges.txt}
     * @return a builder
     */
    public static Builder builder(Path folder) {
        return new Builder(Objects.requireNonNull(folder, "folder"));
    }

    @Override
    public TokenizedPrompts tokenize(List<String> prompts) {
        Objects.requireNonNull(prompts, "prompts");
        long[][] ids = new long[prompts.size()][];
        long[][] mask = new long[prompts.size()][];
        for (int i = 0; i < prompts.size(); i++) {
            String p = prompts.get(i);
            if (p == null) {
                throw InvalidRequestException.of("prompts[" + i + "]", "a string (empty for no prompt)", "null");
            }
            int[] body = encodeBody(p);
            int keep = Math.min(body.length, Math.max(0, maxLength - 2));
            if (keep < body.length) {
                LOG.warn("{}: a prompt has {} tokens, more than the {} this text encoder takes, and was truncated: \"{}\"",
                        name, body.length + 2, maxLength, p.length() > PROMPT_PREVIEW ? p.substring(0, PROMPT_PREVIEW) + "..." : p);
            }
            long[] row = new long[maxLength];
            long[] m = new long[maxLength];
            int n = 0;
            row[n++] = bosId;
            for (int k = 0; k < keep && n < maxLength; k++) {
                row[n++] = body[k];
            }
            if (n < maxLength) {
                row[n++] = eosId;
            }
            Arrays.fill(row, n, maxLength, padId);
            Arrays.fill(m, 0, n, 1);
            ids[i] = row;
            mask[i] = m;
        }
        return new TokenizedPrompts(ids, mask);
    }

    /**
     * @param prompt a prompt
     * @return its ids with bos and eos, neither truncated nor padded
     */
    public long[] encode(String prompt) {
        int[] body = encodeBody(Objects.requireNonNull(prompt, "prompt"));
        long[] out = new long[body.length + 2];
        out[0] = bosId;
        for (int i = 0; i < body.length; i++) {
            out[i + 1] = body[i];
        }
        out[out.length - 1] = eosId;
        return out;
    }

    /** @return the padded length of every row */
    public int maxLength() {
        return maxLength;
    }

    /** @return the id padding positions get */
    public long padId() {
        return padId;
    }

    /** @return the display name, such as {@code tokenizer_2} */
    public String name() {
        return name;
    }

    @Override
    public String toString() {
        return "ClipBpeTokenizer{" + name + ", " + vocab.size() + " tokens, " + ranks.size() + " merges, maxLength="
                + maxLength + ", padId=" + padId + "}";
    }

    /** The ids of a prompt without bos/eos. */
    private int[] encodeBody(String text) {
        IntList out = new IntList();
        int start = 0;
        while (start <= text.length()) {
            int at = -1;
            String token = null;
            for (int i = start; i < text.length() && token == null; i++) {
                for (String t : addedTokens) {
                    if (text.startsWith(t, i)) {
                        at = i;
                        token = t;
                        break;
                    }
                }
            }
            String chunk = token == null ? text.substring(start) : text.substring(start, at);
            if (!chunk.isEmpty()) {
                encodeChunk(chunk, out);
            }
            if (token == null) {
                break;
            }
            out.add(addedIds.get(token));
            start = at + token.length();
        }
        return out.toArray();
    }

    private void encodeChunk(String chunk, IntList out) {
        String cleaned = clean(chunk);
        Matcher m = WORDS.matcher(cleaned);
        while (m.find()) {
            String word = m.group();
            Integer special = word.equals("<|startoftext|>") || word.equals("<|endoftext|>") ? vocab.get(word) : null;
            if (special != null) {
                out.add(special);
                continue;
            }
            int[] ids = cache.get(word);
            if (ids == null) {
                ids = bpe(word);
                if (cache.size() >= CACHE_LIMIT) {
                    cache.clear();
                }
                cache.put(word, ids);
            }
            out.addAll(ids);
        }
    }

    /** transformers' BasicTokenizer as the slow CLIPTokenizer uses it without ftfy, then joined with spaces. */
    static String clean(String text) {
        StringBuilder sb = new StringBuilder(text.length() + 8);
        text.codePoints().forEach(cp -> {
            if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                return;
            }
            if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || Character.getType(cp) == Character.SPACE_SEPARATOR) {
                sb.append(' ');
            } else if (isCjk(cp)) {
                sb.append(' ').appendCodePoint(cp).append(' ');
            } else {
                sb.appendCodePoint(cp);
            }
        });
        String normalised = Normalizer.normalize(sb, Normalizer.Form.NFC);
        StringBuilder joined = new StringBuilder(normalised.length());
        for (String word : normalised.split("[ \\u2028\\u2029]+")) {
            if (!word.isEmpty()) {
                if (joined.length() > 0) {
                    joined.append(' ');
                }
                joined.append(lowerCase(word));
            }
        }
        return joined.toString();
    }

    /**
     * Python's {@code str.lower()}: full lower-case mapping, with capital sigma becoming final sigma when a cased
     * letter precedes it and none follows (case-ignorable characters skipped), Unicode's Final_Sigma rule as Python
     * applies it. Java's own sigma rule looks at word boundaries instead and differs, e.g. before {@code :}.
     */
    static String lowerCase(String word) {
        if (word.indexOf('\u03A3') < 0) {
            return word.toLowerCase(Locale.ROOT);
        }
        StringBuilder sb = new StringBuilder(word.length());
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            if (cp == 0x03A3) {
                sb.append(finalSigma(word, i) ? '\u03C2' : '\u03C3');
            } else {
                sb.append(new String(Character.toChars(cp)).toLowerCase(Locale.ROOT));
            }
            i += Character.charCount(cp);
        }
        return sb.toString();
    }

    private static boolean finalSigma(String s, int at) {
        int j = at;
        int before = -1;
        while (j > 0) {
            int c = s.codePointBefore(j);
            j -= Character.charCount(c);
            if (!isCaseIgnorable(c)) {
                before = c;
                break;
            }
        }
        if (before < 0 || !isCased(before)) {
            return false;
        }
        for (int k = at + 1; k < s.length(); ) {
            int c = s.codePointAt(k);
            if (!isCaseIgnorable(c)) {
                return !isCased(c);
            }
            k += Character.charCount(c);
        }
        return true;
    }

    private static boolean isCased(int cp) {
        return Character.isLowerCase(cp) || Character.isUpperCase(cp) || Character.isTitleCase(cp);
    }

    /** Unicode's Case_Ignorable: marks, format characters, modifiers, and the mid-word punctuation of word breaking. */
    private static boolean isCaseIgnorable(int cp) {
        switch (Character.getType(cp)) {
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.FORMAT, Character.MODIFIER_LETTER,
                 Character.MODIFIER_SYMBOL:
                return true;
            default:
                break;
        }
        switch (cp) {
            case 0x0027, 0x002E, 0x003A, 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52,
                 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
                return true;
            default:
                return false;
        }
    }

    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.UNASSIGNED
                || type == Character.PRIVATE_USE || type == Character.SURROGATE;
    }

    private static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    /** Byte symbols, end-of-word mark, merges by rank, vocabulary ids. */
    private int[] bpe(String word) {
        byte[] utf8 = word.getBytes(StandardCharsets.UTF_8);
        List<String> symbols = new ArrayList<>(utf8.length);
        for (byte b : utf8) {
            symbols.add(String.valueOf(byteSymbols[b & 0xff]));
        }
        int last = symbols.size() - 1;
        symbols.set(last, symbols.get(last) + END_OF_WORD);
        while (symbols.size() > 1) {
            int best = Integer.MAX_VALUE;
            String first = null;
            String second = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer r = ranks.get(symbols.get(i) + ' ' + symbols.get(i + 1));
                if (r != null && r < best) {
                    best = r;
                    first = symbols.get(i);
                    second = symbols.get(i + 1);
                }
            }
            if (first == null) {
                break;
            }
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(first) && symbols.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i++;
                } else {
                    merged.add(symbols.get(i));
                }
            }
            symbols = merged;
        }
        int[] ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = vocab.getOrDefault(symbols.get(i), unkId);
        }
        return ids;
    }

    /**
     * GPT-2's reversible byte-to-character table: printable Latin-1 bytes map to themselves, the other 68 bytes to
     * U+0100 onwards in byte order, so no symbol is a space or a control character.
     */
    static char[] byteSymbols() {
        char[] table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char) b : (char) next++;
        }
        return table;
    }

    /** A growable int array. */
    private static final class IntList {
        private int[] data = new int[32];
        private int size;

        void add(int v) {
            if (size == data.length) {
                data = Arrays.copyOf(data, size * 2);
            }
            data[size++] = v;
        }

        void addAll(int[] vs) {
            for (int v : vs) {
                add(v);
            }
        }

        int[] toArray() {
            return Arrays.copyOf(data, size);
        }
    }

    /** Builds a {@link ClipBpeTokenizer} from a folder (the files the class description lists). */
    public static final class Builder {
        private final Path folder;
        private Integer maxLength;
        private Integer defaultMaxLength;
        private String padToken;
        private String defaultPadToken;
        private Long defaultPadId;

        private Builder(Path folder) {
            this.folder = folder;
        }

        /** @param length the padded length (overrides {@code model_max_length}) @return this builder */
        public Builder maxLength(int length) {
            if (length < 2) {
                throw InvalidRequestException.of("maxLength", "at least 2 (bos and eos)", length);
            }
            this.maxLength = length;
            return this;
        }

        /** @param length the padded length when {@code tokenizer_config.json} gives none @return this builder */
        public Builder defaultMaxLength(int length) {
            if (length < 2) {
                throw InvalidRequestException.of("defaultMaxLength", "at least 2 (bos and eos)", length);
            }
            this.defaultMaxLength = length;
            return this;
        }

        /** @param token the padding token, overriding the folder's {@code pad_token} @return this builder */
        public Builder padToken(String token) {
            this.padToken = Objects.requireNonNull(token, "padToken");
            return this;
        }

        /** @param token the padding token when the folder names none @return this builder */
        public Builder defaultPadToken(String token) {
            this.defaultPadToken = Objects.requireNonNull(token, "defaultPadToken");
            this.defaultPadId = null;
            return this;
        }

        /** @param id the padding id when the folder names no pad token and no default token is set @return this builder */
        public Builder defaultPadId(long id) {
            this.defaultPadId = id;
            this.defaultPadToken = null;
            return this;
        }

        /**
         * Reads and checks the files.
         *
         * @return the tokenizer
         * @throws ModelLoadException naming the folder and file when a file is missing, malformed or inconsistent
         */
        public ClipBpeTokenizer build() {
            return ClipBpeFiles.read(folder.toAbsolutePath().normalize(), maxLength, defaultMaxLength, padToken,
                    defaultPadToken, defaultPadId);
        }
    }
}
