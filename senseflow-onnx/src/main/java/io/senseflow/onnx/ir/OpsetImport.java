package io.senseflow.onnx.ir;

import java.util.Objects;

/**
 * An operator set the model uses ({@code OperatorSetIdProto}).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param domain the operator domain; empty for the default ONNX domain {@code ai.onnx}
 * @param version the operator set version
 */
public record OpsetImport(String domain, long version) {
    /** The default ONNX domain, written as the empty string. */
    public static final String DEFAULT_DOMAIN = "";

    /** Checks the domain is not null. */
    public OpsetImport {
        Objects.requireNonNull(domain, "domain");
    }

    /** @return whether this import is for the default ONNX domain ({@code ""} or {@code "ai.onnx"}) */
    public boolean isDefaultDomain() {
        return domain.isEmpty() || domain.equals("ai.onnx");
    }
}
