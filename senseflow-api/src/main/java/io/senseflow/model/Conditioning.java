package io.senseflow.model;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * What a text encoder hands the generator, batch first: token embeddings {@code [B, L, D]}, an optional pooled
 * embedding {@code [B, P]}, an optional attention mask {@code [B, L]} (1 = attend) and optional extra named inputs
 * a model family needs (SDXL's {@code time_ids}, FLUX's {@code guidance}). Immutable.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param tokens token embeddings
 * @param pooled pooled embedding, or null
 * @param mask attention mask, or null
 * @param extras further per-sample inputs by name (may be empty, never null)
 */
public record Conditioning(Tensor tokens, Tensor pooled, Tensor mask, Map<String, Tensor> extras) {

    public Conditioning {
        Objects.requireNonNull(tokens, "tokens");
        extras = Map.copyOf(extras == null ? Map.of() : extras);
        int b = tokens.batch();
        checkBatch("pooled", pooled, b);
        checkBatch("mask", mask, b);
        extras.forEach((k, v) -> checkBatch("extras." + k, v, b));
    }

    /** @param tokens token embeddings @param pooled pooled embedding or null @return a conditioning without mask or extras */
    public static Conditioning of(Tensor tokens, Tensor pooled) {
        return new Conditioning(tokens, pooled, null, Map.of());
    }

    /** @return the batch size */
    public int batch() {
        return tokens.batch();
    }

    /** @param name extra input name @param value per-sample value @return a copy with that extra set */
    public Conditioning withExtra(String name, Tensor value) {
        Map<String, Tensor> e = new LinkedHashMap<>(extras);
        e.put(name, value);
        return new Conditioning(tokens, pooled, mask, e);
    }

    /** @param from first sample @param to end, exclusive @return samples [from, to) */
    public Conditioning slice(int from, int to) {
        return map(t -> t.sliceBatch(from, to));
    }

    /** @param times repetitions @return each sample repeated {@code times} times in place */
    public Conditioning repeatEach(int times) {
        return map(t -> t.repeatEach(times));
    }

    /**
     * Concatenates along the batch; all parts must carry the same components.
     *
     * @param parts the conditionings
     * @return the concatenation
     */
    public static Conditioning concat(List<Conditioning> parts) {
        if (parts.isEmpty()) {
            throw InvalidRequestException.of("parts", "at least one conditioning", "none");
        }
        Conditioning first = parts.get(0);
        for (Conditioning c : parts) {
            if ((c.pooled == null) != (first.pooled == null) || (c.mask == null) != (first.mask == null)
                    || !c.extras.keySet().equals(first.extras.keySet())) {
                throw new InvalidRequestException("Conditioning.concat: parts carry different components");
            }
        }
        Tensor tokens = Tensor.concatBatch(collect(parts, Conditioning::tokens));
        Tensor pooled = first.pooled == null ? null : Tensor.concatBatch(collect(parts, Conditioning::pooled));
        Tensor mask = first.mask == null ? null : Tensor.concatBatch(collect(parts, Conditioning::mask));
        Map<String, Tensor> extras = new LinkedHashMap<>();
        for (String k : first.extras.keySet()) {
            extras.put(k, Tensor.concatBatch(collect(parts, c -> c.extras.get(k))));
        }
        return new Conditioning(tokens, pooled, mask, extras);
    }

    /** @param parts conditionings @return their concatenation along the batch */
    public static Conditioning concat(Conditioning... parts) {
        return concat(Arrays.asList(parts));
    }

    private Conditioning map(UnaryOperator<Tensor> f) {
        Map<String, Tensor> e = new LinkedHashMap<>();
        extras.forEach((k, v) -> e.put(k, f.apply(v)));
        return new Conditioning(f.apply(tokens), pooled == null ? null : f.apply(pooled), mask == null ? null : f.apply(mask), e);
    }

    private static List<Tensor> collect(List<Conditioning> parts, java.util.function.Function<Conditioning, Tensor> get) {
        List<Tensor> out = new ArrayList<>(parts.size());
        for (Conditioning c : parts) {
            out.add(get.apply(c));
        }
        return out;
    }

    private static void checkBatch(String name, Tensor t, int batch) {
        if (t != null && t.batch() != batch) {
            throw InvalidRequestException.of("conditioning." + name, "batch " + batch, "batch " + t.batch());
        }
    }
}
