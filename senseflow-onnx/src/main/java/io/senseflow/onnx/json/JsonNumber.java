package io.senseflow.onnx.json;

import java.math.BigDecimal;
import java.util.Objects;

/**
 * A JSON number. It keeps the literal text it was read from, so integers of any size survive a read/write round
 * trip unchanged and conversions happen only when a caller asks for a Java type.
 */
public final class JsonNumber implements JsonValue {
    private final String text;

    JsonNumber(String text) {
        this.text = text;
    }

    /** @param value an integer @return the number */
    public static JsonNumber of(long value) {
        return new JsonNumber(Long.toString(value));
    }

    /**
     * @param value a finite double
     * @return the number, written in Java's shortest round-trip form
     * @throws JsonException if the value is NaN or infinite (JSON has no literal for them)
     */
    public static JsonNumber of(double value) {
        if (!Double.isFinite(value)) {
            throw new JsonException("JSON numbers must be finite, got " + value);
        }
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            return new JsonNumber(Long.toString((long) value));
        }
        return new JsonNumber(Double.toString(value));
    }

    /** @param value a decimal @return the number */
    public static JsonNumber of(BigDecimal value) {
        return new JsonNumber(value.toString());
    }

    /** @return the literal text of the number */
    public String text() {
        return text;
    }

    /** @return whether the literal has neither a fraction nor an exponent */
    public boolean isIntegerLiteral() {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '.' || c == 'e' || c == 'E') {
                return false;
            }
        }
        return true;
    }

    /**
     * @return the value as a {@code long}
     * @throws JsonException if it has a fractional part or is outside the {@code long} range
     */
    public long longValueExact() {
        if (isIntegerLiteral()) {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException e) {
                throw new JsonException("number " + text + " is outside the 64-bit integer range");
            }
        }
        BigDecimal d = new BigDecimal(text);
        if (d.signum() == 0) {
            return 0;
        }
        // precision - scale = digits before the point; checked first so "1e999999999" costs nothing
        if (d.precision() - d.scale() > 19) {
            throw new JsonException("number " + text + " is outside the 64-bit integer range");
        }
        try {
            return d.stripTrailingZeros().longValueExact();
        } catch (ArithmeticException e) {
            throw new JsonException("expected an integer, got " + text);
        }
    }

    /**
     * @return the value as an {@code int}
     * @throws JsonException if it has a fractional part or is outside the {@code int} range
     */
    public int intValueExact() {
        long v = longValueExact();
        if (v != (int) v) {
            throw new JsonException("number " + text + " is outside the 32-bit integer range");
        }
        return (int) v;
    }

    /**
     * @return the nearest {@code double}
     * @throws JsonException if the magnitude is too large for a double
     */
    public double doubleValue() {
        double v = Double.parseDouble(text);
        if (Double.isInfinite(v)) {
            throw new JsonException("number " + text + " is outside the double range");
        }
        return v;
    }

    /** @return the exact decimal value */
    public BigDecimal bigDecimalValue() {
        return new BigDecimal(text);
    }

    @Override
    public String kind() {
        return "number";
    }

    @Override
    public JsonNumber asNumber() {
        return this;
    }

    /** Numbers are equal when their decimal values are ({@code 1}, {@code 1.0} and {@code 1e0} are equal). */
    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof JsonNumber n)) {
            return false;
        }
        return text.equals(n.text) || bigDecimalValue().compareTo(n.bigDecimalValue()) == 0;
    }

    @Override
    public int hashCode() {
        BigDecimal d = bigDecimalValue();
        return d.signum() == 0 ? 0 : Objects.hash(d.stripTrailingZeros());
    }

    @Override
    public String toString() {
        return text;
    }
}
