package io.senseflow.tf.run;

import io.senseflow.InvalidRequestException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonException;
import io.senseflow.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The prompts of a distillation run, read from a UTF-8 file: one prompt per line ({@code .txt}, blank lines and lines
 * starting with {@code #} skipped), or JSON Lines ({@code .jsonl}: one object per line with {@code "prompt"} and an
 * optional {@code "negative_prompt"} and an optional {@code "guidance"}, the teacher's guidance scale for that prompt's
 * DMD real score, a number >= 0).
 *
 * <p>An immutable value: safe to share between threads.
 *
 * @param file the file read
 * @param prompts the prompts, in file order
 * @param negatives the negative prompt of each prompt ({@code ""} when none)
 * @param sha256 the hex SHA-256 of the file's bytes (the run folder records it; resume compares it)
 * @param guidance the guidance scale of each prompt, NaN where the prompt gives none (the config's range is drawn)
 */
public record PromptFile(Path file, List<String> prompts, List<String> negatives, String sha256,
                         List<Double> guidance) {
    public PromptFile {
        prompts = List.copyOf(prompts);
        negatives = List.copyOf(negatives);
        guidance = guidance == null ? java.util.Collections.nCopies(prompts.size(), Double.NaN) : List.copyOf(guidance);
        if (guidance.size() != prompts.size()) {
            throw InvalidRequestException.of("prompt file guidance", prompts.size() + " entries", guidance.size());
        }
    }

    /**
     * Prompts without per-prompt guidance.
     *
     * @param file the file read
     * @param prompts the prompts
     * @param negatives the negative prompt of each prompt
     * @param sha256 the hex SHA-256 of the file's bytes
     */
    public PromptFile(Path file, List<String> prompts, List<String> negatives, String sha256) {
        this(file, prompts, negatives, sha256, null);
    }

    /** @return whether any prompt gives its own guidance scale */
    public boolean hasGuidance() {
        return guidance.stream().anyMatch(g -> !g.isNaN());
    }

    /**
     * Reads and checks a prompt file.
     *
     * @param file the file
     * @return the prompts
     * @throws InvalidRequestException naming the file (and line) when it is missing, not UTF-8, empty, or a JSONL line
     *     is not an object with a string {@code "prompt"} (and, if given, a string {@code "negative_prompt"} and a
     *     number {@code "guidance"} >= 0)
     */
    public static PromptFile read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw InvalidRequestException.of("prompts " + file, "a readable prompt file", e.toString());
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw InvalidRequestException.of("prompts " + file, "UTF-8 text, one prompt per line",
                    "bytes that are not UTF-8 (" + e.getMessage() + ")");
        }
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1);
        }
        boolean jsonl = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".jsonl");
        List<String> prompts = new ArrayList<>();
        List<String> negatives = new ArrayList<>();
        List<Double> guidance = new ArrayList<>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || (!jsonl && line.startsWith("#"))) {
                continue;
            }
            if (!jsonl) {
                prompts.add(line);
                negatives.add("");
                guidance.add(Double.NaN);
                continue;
            }
            String where = "prompts " + file + " line " + (i + 1);
            JsonObject o;
            try {
                o = Json.parseObject(line);
            } catch (JsonException | InvalidRequestException e) {
                throw InvalidRequestException.of(where, "a JSON object {\"prompt\": ...}", e.getMessage());
            }
            if (!(o.raw("prompt") instanceof String p)) {
                throw InvalidRequestException.of(where, "a string \"prompt\"", o.has("prompt")
                        ? Json.kind(o.raw("prompt")) : "no \"prompt\"");
            }
            Object neg = o.raw("negative_prompt");
            if (neg != null && !(neg instanceof String)) {
                throw InvalidRequestException.of(where + " negative_prompt", "a string", Json.kind(neg));
            }
            Object g = o.raw("guidance");
            if (g != null && !(g instanceof Number n && Double.isFinite(n.doubleValue()) && n.doubleValue() >= 0)) {
                throw InvalidRequestException.of(where + " guidance", "a number >= 0 (the teacher's guidance scale)",
                        g instanceof Number ? g.toString() : Json.kind(g));
            }
            prompts.add(p);
            negatives.add(neg == null ? "" : (String) neg);
            guidance.add(g == null ? Double.NaN : ((Number) g).doubleValue());
        }
        if (prompts.isEmpty()) {
            throw InvalidRequestException.of("prompts " + file, "at least one prompt (one per line"
                    + (jsonl ? ", JSON objects with \"prompt\"" : "") + ")", "none");
        }
        return new PromptFile(file, prompts, negatives, sha256(bytes), guidance);
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
