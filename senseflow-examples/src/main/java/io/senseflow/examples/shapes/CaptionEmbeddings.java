package io.senseflow.examples.shapes;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.PromptEncoder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The conditioning of every caption of the grammar and of the empty prompt, computed once with a (frozen) prompt
 * encoder: the Shapes vocabulary is closed, so a training run never needs to run the text encoder again.
 */
public final class CaptionEmbeddings {
    private static final int CHUNK = 128;
    private final Map<String, Conditioning> byCaption;
    private final Conditioning empty;

    private CaptionEmbeddings(Map<String, Conditioning> byCaption, Conditioning empty) {
        this.byCaption = byCaption;
        this.empty = empty;
    }

    /**
     * @param encoder the prompt encoder (not closed)
     * @return every caption's conditioning and the empty prompt's
     */
    public static CaptionEmbeddings compute(PromptEncoder encoder) {
        List<String> captions = new ArrayList<>();
        for (int i = 0; i < ShapeAttributes.combinations(); i++) {
            captions.add(ShapeAttributes.fromIndex(i).caption());
        }
        Map<String, Conditioning> map = new HashMap<>();
        for (int i = 0; i < captions.size(); i += CHUNK) {
            List<String> part = captions.subList(i, Math.min(captions.size(), i + CHUNK));
            Conditioning c = encoder.encode(part);
            for (int j = 0; j < part.size(); j++) {
                map.put(part.get(j), c.slice(j, j + 1));
            }
        }
        return new CaptionEmbeddings(map, encoder.encodeNegative(List.of("")));
    }

    /**
     * @param captions captions of the grammar
     * @return their conditioning, one sample each
     * @throws InvalidRequestException naming a caption outside the grammar
     */
    public Conditioning of(List<String> captions) {
        List<Conditioning> parts = new ArrayList<>(captions.size());
        for (String c : captions) {
            Conditioning e = byCaption.get(c);
            if (e == null) {
                throw InvalidRequestException.of("caption", "a caption of the Shapes grammar", "\"" + c + "\"");
            }
            parts.add(e);
        }
        return Conditioning.concat(parts);
    }

    /** @param n samples @return the empty prompt's conditioning repeated {@code n} times */
    public Conditioning unconditional(int n) {
        return empty.repeatEach(n);
    }
}
