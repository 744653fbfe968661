package io.senseflow.onnx.arch;

import io.senseflow.InvalidRequestException;

/** Argument checks for configuration records; messages name the record and the field. */
final class Checks {
    private Checks() {
    }

    static void notNull(String argument, Object value) {
        if (value == null) {
            throw InvalidRequestException.of(argument, "a value", null);
        }
    }

    static void positive(String owner, String field, long value) {
        if (value <= 0) {
            throw invalid(owner, field, "a positive integer", value);
        }
    }

    static void multipleOf(String owner, String field, long value, String ofField, long of) {
        if (value % of != 0) {
            throw invalid(owner, field, "a multiple of " + ofField + " (" + of + ")", value);
        }
    }

    static InvalidRequestException invalid(String owner, String field, String expected, Object found) {
        return InvalidRequestException.of(owner + "." + field, expected, found);
    }
}
