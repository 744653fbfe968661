package io.senseflow.onnx.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.model.TokenizedPrompts;
import io.senseflow.model.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Tokenizer} for Hugging Face {@code tokenizer.json} files (CLIP's BPE, T5's Unigram, WordLevel, WordPiece),
 * running the Rust {@code tokenizers} library through DJL, so ids match Python's fast tokenizers exactly.
 *
 * <p>Every prompt is encoded with the file's special tokens (CLIP: {@code <|startoftext|> ... <|endoftext|>};
 * T5: {@code ... </s>}), then padded to {@link #maxLength()} with {@link #padId()}, the attention mask marking real
 * tokens with 1. A longer prompt is cut to {@code maxLength} tokens, keeping its leading and trailing special tokens
 * as the Python tokenizers do, and one warning per truncated prompt says how many tokens it had.
 *
 * <p>Offline: building a tokenizer sets the system property {@code ai.djl.offline=true} before DJL is first used,
 * so DJL never downloads anything; its native library ships in the {@code tokenizers} jar and is extracted once to
 * DJL's cache folder ({@code ~/.djl.ai}, or {@code DJL_CACHE_DIR} / {@code ENGINE_CACHE_DIR}). See
 * {@code docs/models.md}.
 *
 * <p>Thread-safe. Holds a native tokenizer: close it when done (closing twice is harmless; use after close throws
 * {@link IllegalStateException}).
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HfTokenizer.class);
    private static final int PROMPT_PREVIEW = 60;

    private final String name;
    private final HuggingFaceTokenizer native_;
    private final int maxLength;
    private final long padId;
    private final boolean addSpecialTokens;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    private HfTokenizer(String name, HuggingFaceTokenizer tokenizer, int maxLength, long padId, boolean addSpecialTokens) {
        this.name = name;
        this.native_ = tokenizer;
        this.maxLength = maxLength;
        this.padId = padId;
        this.addSpecialTokens = addSpecialTokens;
    }

    /** @param tokenizerJson a {@code tokenizer.json} file @return a builder */
    public static Builder builder(Path tokenizerJson) {
        return new Builder(Objects.requireNonNull(tokenizerJson, "tokenizerJson"));
    }

    @Override
    public TokenizedPrompts tokenize(List<String> prompts) {
        Objects.requireNonNull(prompts, "prompts");
        for (int i = 0; i < prompts.size(); i++) {
            if (prompts.get(i) == null) {
                throw InvalidRequestException.of("prompts[" + i + "]", "a string (empty for no prompt)", "null");
            }
        }
        long[][] ids = new long[prompts.size()][];
        long[][] mask = new long[prompts.size()][];
        lock.readLock().lock();
        try {
            checkOpen();
            Encoding[] encodings = native_.batchEncode(prompts, addSpecialTokens, false);
            for (int i = 0; i < encodings.length; i++) {
                long[] tokens = fit(encodings[i], prompts.get(i));
                ids[i] = new long[maxLength];
                mask[i] = new long[maxLength];
                System.arraycopy(tokens, 0, ids[i], 0, tokens.length);
                Arrays.fill(ids[i], tokens.length, maxLength, padId);
                Arrays.fill(mask[i], 0, tokens.length, 1);
            }
        } finally {
            lock.readLock().unlock();
        }
        return new TokenizedPrompts(ids, mask);
    }

    /**
     * @param prompt a prompt
     * @return how many tokens it has with special tokens, before truncation
     */
    public int tokenCount(String prompt) {
        Objects.requireNonNull(prompt, "prompt");
        lock.readLock().lock();
        try {
            checkOpen();
            return native_.encode(prompt, addSpecialTokens, false).getIds().length;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Cuts an encoding to maxLength, keeping its leading and trailing special tokens. */
    private long[] fit(Encoding e, String prompt) {
        long[] ids = e.getIds();
        int n = ids.length;
        if (n <= maxLength) {
            return ids;
        }
        long[] special = e.getSpecialTokenMask();
        int lead = 0;
        while (lead < n && special[lead] == 1) {
            lead++;
        }
        int trail = 0;
        while (trail < n - lead && special[n - 1 - trail] == 1) {
            trail++;
        }
        LOG.warn("{}: a prompt has {} tokens, more than the {} this text encoder takes, and was truncated: \"{}\"",
                name, n, maxLength, prompt.length() > PROMPT_PREVIEW ? prompt.substring(0, PROMPT_PREVIEW) + "..." : prompt);
        int keep = maxLength - lead - trail;
        if (keep < 0) {
            return Arrays.copyOf(ids, maxLength);
        }
        long[] out = new long[maxLength];
        System.arraycopy(ids, 0, out, 0, lead + keep);
        System.arraycopy(ids, n - trail, out, lead + keep, trail);
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

    /** @return the display name, such as {@code tokenizer_2/tokenizer.json} */
    public String name() {
        return name;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("HfTokenizer " + name + " is closed");
        }
    }

    /** Frees the native tokenizer; waits for calls in flight. Closing twice does nothing. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                native_.close();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "HfTokenizer{" + name + ", maxLength=" + maxLength + ", padId=" + padId + (closed ? ", closed" : "") + "}";
    }

    /** Builds an {@link HfTokenizer}. */
    public static final class Builder {
        private final Path file;
        private Integer maxLength;
        private Long padId;
        private String padToken;
        private Integer defaultMaxLength;
        private Long defaultPadId;
        private String defaultPadToken;
        private boolean addSpecialTokens = true;

        private Builder(Path file) {
            this.file = file;
        }

        /**
         * @param length the padded length (CLIP: 77; T5: the pipeline's sequence length, such as 256 for SD3); default:
         *     {@code model_max_length} of a {@code tokenizer_config.json} beside the file
         * @return this builder
         */
        public Builder maxLength(int length) {
            if (length < 1) {
                throw InvalidRequestException.of("maxLength", "at least 1", length);
            }
            this.maxLength = length;
            return this;
        }

        /** @param id the padding id (T5: 0) @return this builder */
        public Builder padId(long id) {
            this.padId = id;
            this.padToken = null;
            return this;
        }

        /**
         * @param token the padding token, looked up in the file (CLIP-L: {@code <|endoftext|>}; SDXL's second CLIP:
         *     {@code !})
         * @return this builder
         */
        public Builder padToken(String token) {
            this.padToken = Objects.requireNonNull(token, "padToken");
            this.padId = null;
            return this;
        }

        /**
         * @param length the padded length when neither {@link #maxLength} nor a {@code tokenizer_config.json} gives one
         *     (layout loaders pass their family's length, such as CLIP's 77)
         * @return this builder
         */
        public Builder defaultMaxLength(int length) {
            if (length < 1) {
                throw InvalidRequestException.of("defaultMaxLength", "at least 1", length);
            }
            this.defaultMaxLength = length;
            return this;
        }

        /** @param token the padding token when nothing else names one (looked up in the file) @return this builder */
        public Builder defaultPadToken(String token) {
            this.defaultPadToken = Objects.requireNonNull(token, "defaultPadToken");
            this.defaultPadId = null;
            return this;
        }

        /** @param id the padding id when nothing else names one @return this builder */
        public Builder defaultPadId(long id) {
            this.defaultPadId = id;
            this.defaultPadToken = null;
            return this;
        }

        /** @param on whether to add the file's special tokens (default true) @return this builder */
        public Builder addSpecialTokens(boolean on) {
            this.addSpecialTokens = on;
            return this;
        }

        /**
         * Padding id, in order: {@link #padId}, {@link #padToken}, the file's {@code padding.pad_id}, the
         * {@code pad_token} of a {@code tokenizer_config.json} beside it, {@link #defaultPadId}/{@link #defaultPadToken}.
         * Length: {@link #maxLength}, that config's {@code model_max_length}, {@link #defaultMaxLength}.
         *
         * @return the tokenizer
         * @throws ModelLoadException naming the file if it is missing, not JSON, not a tokenizer, or gives no way to
         *     find the padding id or length
         */
        public HfTokenizer build() {
            Path abs = file.toAbsolutePath();
            if (Files.isDirectory(abs)) {
                throw new ModelLoadException(abs + " is a folder; expected a tokenizer.json file");
            }
            TokenizerJson json = TokenizerJson.read(abs);
            int length = resolveLength(json);
            long pad = resolvePad(json);
            HuggingFaceTokenizer tokenizer = DjlTokenizers.open(abs);
            return new HfTokenizer(displayName(abs), tokenizer, length, pad, addSpecialTokens);
        }

        private int resolveLength(TokenizerJson json) {
            if (maxLength != null) {
                return maxLength;
            }
            Long fromConfig = json.configMaxLength();
            if (fromConfig != null && fromConfig <= Integer.MAX_VALUE) {
                return fromConfig.intValue();
            }
            if (defaultMaxLength != null) {
                return defaultMaxLength;
            }
            throw new ModelLoadException(json.file() + ": no padded length known; set HfTokenizer.Builder.maxLength "
                    + "(CLIP: 77) or put model_max_length in a tokenizer_config.json beside it");
        }

        private long resolvePad(TokenizerJson json) {
            if (padId != null) {
                return padId;
            }
            if (padToken != null) {
                return lookUp(json, padToken, "padToken");
            }
            if (json.paddingId() != null) {
                return json.paddingId();
            }
            if (json.configPadToken() != null) {
                return lookUp(json, json.configPadToken(), "pad_token of tokenizer_config.json");
            }
            if (defaultPadId != null) {
                return defaultPadId;
            }
            if (defaultPadToken != null) {
                return lookUp(json, defaultPadToken, "the default padToken");
            }
            throw new ModelLoadException(json.file() + ": no padding id known (the file has no \"padding\" section and "
                    + "no tokenizer_config.json with pad_token is beside it); set HfTokenizer.Builder.padToken or padId "
                    + "(CLIP: \"<|endoftext|>\", T5: 0)");
        }

        private static long lookUp(TokenizerJson json, String token, String what) {
            return json.id(token).orElseThrow(() -> new ModelLoadException(json.file() + ": " + what + " \"" + token
                    + "\" is neither in the vocabulary nor an added token"));
        }
    }

    static String displayName(Path abs) {
        Path parent = abs.getParent();
        return parent == null || parent.getFileName() == null ? abs.getFileName().toString()
                : parent.getFileName() + "/" + abs.getFileName();
    }

    /** Keeps DJL's classes out of reach until the offline switch is set. */
    static final class DjlTokenizers {
        static final String OFFLINE = "ai.djl.offline";

        private DjlTokenizers() {
        }

        static HuggingFaceTokenizer open(Path file) {
            // must happen before DJL first looks for its native library, or it may try to download a CUDA flavour
            if (!"true".equalsIgnoreCase(System.getProperty(OFFLINE))) {
                System.setProperty(OFFLINE, "true");
                LOG.debug("set {}=true so DJL never downloads", OFFLINE);
            }
            try {
                return HuggingFaceTokenizer.newInstance(file, Map.of(
                        "addSpecialTokens", "true",
                        "truncation", "false",
                        "padding", "false",
                        "withOverflowingTokens", "false"));
            } catch (Exception | UnsatisfiedLinkError e) {
                throw new ModelLoadException("the tokenizers library cannot load " + file + ": " + e.getMessage(), e);
            }
        }
    }
}
