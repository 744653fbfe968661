package io.senseflow.onnx.reliability;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

/**
 * Random damage for the fuzz tests, from a seeded {@link Random} so every failure can be replayed: bit flips, byte
 * overwrites with values that often matter to parsers (0, 0x7f, 0x80, 0xff, ...), insertions, deletions, duplicated
 * and swapped chunks, truncation; and, for text, numbers replaced by extreme values.
 */
final class Mutations {
    private static final byte[] INTERESTING = {0, 1, 0x7f, (byte) 0x80, (byte) 0xff, (byte) 0xfe, 0x08, 0x0a, 0x12, 0x22,
            0x3a, '{', '}', '[', ']', '"', ',', ':', '-', '9'};
    private static final String[] NUMBERS = {"-1", "0", "1e308", "-9223372036854775808", "9223372036854775807",
            "18446744073709551616", "4294967296", "2147483648", "1.5", "NaN", "1e-400", "99999999999999999999999"};

    private Mutations() {
    }

    /** @return a damaged copy of {@code in}: one to four random edits */
    static byte[] bytes(byte[] in, Random r) {
        byte[] b = in.clone();
        int edits = 1 + r.nextInt(4);
        for (int e = 0; e < edits && b.length > 0; e++) {
            int at = r.nextInt(b.length);
            switch (r.nextInt(8)) {
                case 0 -> b[at] ^= (byte) (1 << r.nextInt(8));
                case 1 -> b[at] = INTERESTING[r.nextInt(INTERESTING.length)];
                case 2 -> b[at] = (byte) r.nextInt(256);
                case 3 -> b = insert(b, at, randomBytes(r, 1 + r.nextInt(8)));
                case 4 -> b = delete(b, at, 1 + r.nextInt(Math.min(16, b.length - at)));
                case 5 -> {
                    int len = 1 + r.nextInt(Math.min(64, b.length - at));
                    b = insert(b, r.nextInt(b.length), Arrays.copyOfRange(b, at, at + len));
                }
                case 6 -> {
                    int other = r.nextInt(b.length);
                    byte t = b[at];
                    b[at] = b[other];
                    b[other] = t;
                }
                default -> b = Arrays.copyOf(b, at);
            }
        }
        return b;
    }

    /** @return {@code text} with one to three numbers (or a random span) replaced by extreme or odd values */
    static byte[] text(byte[] in, Random r) {
        String s = new String(in, StandardCharsets.UTF_8);
        int edits = 1 + r.nextInt(3);
        for (int e = 0; e < edits && !s.isEmpty(); e++) {
            int at = r.nextInt(s.length());
            int start = at;
            while (start > 0 && isNumberChar(s.charAt(start - 1))) {
                start--;
            }
            int end = at;
            while (end < s.length() && isNumberChar(s.charAt(end))) {
                end++;
            }
            if (end > start) {
                s = s.substring(0, start) + NUMBERS[r.nextInt(NUMBERS.length)] + s.substring(end);
            } else {
                int len = Math.min(s.length() - at, 1 + r.nextInt(12));
                s = s.substring(0, at) + (r.nextBoolean() ? "" : NUMBERS[r.nextInt(NUMBERS.length)]) + s.substring(at + len);
            }
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static boolean isNumberChar(char c) {
        return Character.isDigit(c) || c == '-' || c == '.' || c == 'e' || c == 'E' || c == '+';
    }

    private static byte[] randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = r.nextBoolean() ? INTERESTING[r.nextInt(INTERESTING.length)] : (byte) r.nextInt(256);
        }
        return b;
    }

    private static byte[] insert(byte[] b, int at, byte[] what) {
        byte[] out = new byte[b.length + what.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(what, 0, out, at, what.length);
        System.arraycopy(b, at, out, at + what.length, b.length - at);
        return out;
    }

    private static byte[] delete(byte[] b, int at, int n) {
        byte[] out = new byte[b.length - n];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(b, at + n, out, at, b.length - at - n);
        return out;
    }
}
