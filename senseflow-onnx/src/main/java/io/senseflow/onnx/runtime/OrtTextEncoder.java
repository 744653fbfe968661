package io.senseflow.onnx.runtime;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.TextEncoder;
import io.senseflow.model.TokenizedPrompts;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A {@link TextEncoder} running in ONNX Runtime: token ids (and the attention mask, where the model takes one) in,
 * token embeddings and an optional pooled embedding out.
 *
 * <p>Token embeddings come from {@code last_hidden_state} or, with {@link Builder#hiddenState(int)}, from one of the
 * hidden states the graph exposes as outputs {@code hidden_states.0 .. hidden_states.N} (embeddings, then each
 * layer), indexed like Python: {@code -2} is the penultimate layer's output, which SD3 and SDXL take from CLIP.
 * The pooled embedding comes from {@code pooler_output} or {@code text_embeds} when present. Ids are converted to the
 * model's id type (int64, int32 or float).
 *
 * <p>Thread-safe. Owns the model: closing the encoder closes it.
 */
public final class OrtTextEncoder implements TextEncoder {
    private final OrtModel model;
    private final String idsInput;
    private final String maskInput;
    private final String tokensOutput;
    private final String pooledOutput;
    private final boolean includeMask;

    private OrtTextEncoder(OrtModel model, String idsInput, String maskInput, String tokensOutput, String pooledOutput,
                           boolean includeMask) {
        this.model = model;
        this.idsInput = idsInput;
        this.maskInput = maskInput;
        this.tokensOutput = tokensOutput;
        this.pooledOutput = pooledOutput;
        this.includeMask = includeMask;
    }

    /** @param model the loaded encoder (owned by the encoder once built) @return a builder with the defaults */
    public static Builder builder(OrtModel model) {
        return new Builder(Objects.requireNonNull(model, "model"));
    }

    @Override
    public Conditioning encode(TokenizedPrompts tokens) {
        Objects.requireNonNull(tokens, "tokens");
        if (tokens.batch() == 0) {
            throw InvalidRequestException.of("tokens", "at least one prompt", "an empty batch");
        }
        OrtInputs in = OrtInputs.create().putIds(idsInput, tokens.ids());
        if (maskInput != null) {
            in.putIds(maskInput, tokens.mask());
        }
        List<String> wanted = new ArrayList<>(List.of(tokensOutput));
        if (pooledOutput != null) {
            wanted.add(pooledOutput);
        }
        Map<String, Tensor> out = model.run(in, wanted);
        Tensor mask = null;
        if (includeMask) {
            float[] m = new float[tokens.batch() * tokens.length()];
            for (int b = 0; b < tokens.batch(); b++) {
                for (int i = 0; i < tokens.length(); i++) {
                    m[b * tokens.length() + i] = tokens.mask()[b][i];
                }
            }
            mask = Tensor.wrap(m, tokens.batch(), tokens.length());
        }
        return new Conditioning(out.get(tokensOutput), pooledOutput == null ? null : out.get(pooledOutput), mask, Map.of());
    }

    /** @return the output the token embeddings come from */
    public String tokensOutput() {
        return tokensOutput;
    }

    /** @return the output the pooled embedding comes from, or null */
    public String pooledOutput() {
        return pooledOutput;
    }

    /** @return the input the attention mask goes to, or null */
    public String maskInput() {
        return maskInput;
    }

    /** @return the underlying model */
    public OrtModel model() {
        return model;
    }

    /** Closes the model; closing twice does nothing. */
    @Override
    public void close() {
        model.close();
    }

    @Override
    public String toString() {
        return "OrtTextEncoder{" + model.name() + ", tokens=" + tokensOutput + ", pooled=" + pooledOutput + "}";
    }

    /** Builds an {@link OrtTextEncoder}; names are checked against the model in {@link #build()}. */
    public static final class Builder {
        private final OrtModel model;
        private String idsInput = "input_ids";
        private String maskInput;
        private boolean maskSet;
        private String tokensOutput = "last_hidden_state";
        private String pooledOutput;
        private boolean pooledSet;
        private Integer hiddenState;
        private String hiddenStatesPrefix = "hidden_states.";
        private boolean includeMask = true;

        private Builder(OrtModel model) {
            this.model = model;
        }

        /** @param name the token-id input (default {@code input_ids}) @return this builder */
        public Builder idsInput(String name) {
            this.idsInput = Objects.requireNonNull(name, "idsInput");
            return this;
        }

        /**
         * @param name the attention-mask input, or null when the model takes none (default: {@code attention_mask}
         *     if the model has that input)
         * @return this builder
         */
        public Builder maskInput(String name) {
            this.maskInput = name;
            this.maskSet = true;
            return this;
        }

        /** @param name the token-embedding output (default {@code last_hidden_state}) @return this builder */
        public Builder tokensOutput(String name) {
            this.tokensOutput = Objects.requireNonNull(name, "tokensOutput");
            return this;
        }

        /**
         * @param name the pooled-embedding output, or null for none (default: {@code pooler_output} or
         *     {@code text_embeds}, whichever the model has)
         * @return this builder
         */
        public Builder pooledOutput(String name) {
            this.pooledOutput = name;
            this.pooledSet = true;
            return this;
        }

        /**
         * Takes the token embeddings from a hidden-state output instead of {@code last_hidden_state}.
         *
         * @param index Python-style index into the exposed hidden states; {@code -2} is the penultimate layer
         * @return this builder
         */
        public Builder hiddenState(int index) {
            this.hiddenState = index;
            return this;
        }

        /** @param prefix the hidden-state output names before the index (default {@code hidden_states.}) @return this builder */
        public Builder hiddenStatesPrefix(String prefix) {
            this.hiddenStatesPrefix = Objects.requireNonNull(prefix, "hiddenStatesPrefix");
            return this;
        }

        /** @param on whether the conditioning carries the attention mask (default true) @return this builder */
        public Builder includeMask(boolean on) {
            this.includeMask = on;
            return this;
        }

        /**
         * @return the encoder, owning the model
         * @throws ModelLoadException if a named input or output is missing, or no hidden states are exposed
         */
        public OrtTextEncoder build() {
            String mask = maskSet ? maskInput : model.hasInput("attention_mask") ? "attention_mask" : null;
            String pooled = pooledSet ? pooledOutput : model.hasOutput("pooler_output") ? "pooler_output"
                    : model.hasOutput("text_embeds") ? "text_embeds" : null;
            String tokens = hiddenState == null ? tokensOutput : hiddenStateOutput();
            for (String in : new String[] {idsInput, mask}) {
                if (in != null && !model.hasInput(in)) {
                    throw new ModelLoadException(model.name() + " has no input '" + in + "'; its inputs are " + model.inputs().keySet());
                }
            }
            for (String out : new String[] {tokens, pooled}) {
                if (out != null && !model.hasOutput(out)) {
                    throw new ModelLoadException(model.name() + " has no output '" + out + "'; its outputs are " + model.outputs().keySet());
                }
            }
            return new OrtTextEncoder(model, idsInput, mask, tokens, pooled, includeMask);
        }

        private String hiddenStateOutput() {
            TreeMap<Integer, String> states = new TreeMap<>();
            for (String name : model.outputs().keySet()) {
                if (name.startsWith(hiddenStatesPrefix)) {
                    String suffix = name.substring(hiddenStatesPrefix.length());
                    if (!suffix.isEmpty() && suffix.chars().allMatch(Character::isDigit) && suffix.length() < 6) {
                        states.put(Integer.parseInt(suffix), name);
                    }
                }
            }
            if (states.isEmpty()) {
                throw new ModelLoadException(model.name() + " exposes no hidden states ('" + hiddenStatesPrefix + "0', '"
                        + hiddenStatesPrefix + "1', ...), so hidden state " + hiddenState + " cannot be used; its outputs are "
                        + model.outputs().keySet() + ". Export the encoder with output_hidden_states=True");
            }
            List<String> ordered = new ArrayList<>(states.values());
            int i = hiddenState < 0 ? ordered.size() + hiddenState : hiddenState;
            if (i < 0 || i >= ordered.size() || states.firstKey() != 0 || states.lastKey() != ordered.size() - 1) {
                throw new ModelLoadException(model.name() + ": hidden state " + hiddenState + " is not among the "
                        + ordered.size() + " exposed " + ordered);
            }
            return ordered.get(i);
        }
    }
}
