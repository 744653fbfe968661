package io.senseflow.tf.graph;

/**
 * Turns ONNX names into valid TensorFlow op names. TensorFlow allows {@code [A-Za-z0-9.][A-Za-z0-9_.\-/]*}; ONNX
 * names from PyTorch look like {@code /model/encoder/layer.0/Add_output_0} or {@code onnx::MatMul_371}. Invalid
 * characters become {@code _}, empty path segments are dropped, and a name that cannot start a TensorFlow name gets
 * an {@code n} in front. The importer keeps the map back to the original names.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class TfNames {
    private TfNames() {
    }

    /**
     * @param name any string
     * @return a valid TensorFlow op name; {@code /} separators are kept as scope separators
     */
    public static String sanitize(String name) {
        StringBuilder out = new StringBuilder(name.length() + 1);
        for (String segment : name.split("/")) {
            if (segment.isEmpty()) {
                continue;
            }
            if (out.length() > 0) {
                out.append('/');
            }
            out.append(segment(segment));
        }
        return out.length() == 0 ? "n" : out.toString();
    }

    /**
     * @param name any string
     * @return a valid TensorFlow op name without {@code /}, for variables
     */
    public static String flat(String name) {
        String s = segment(name.replace('/', '_'));
        return s.isEmpty() ? "n" : s;
    }

    private static String segment(String s) {
        StringBuilder b = new StringBuilder(s.length() + 1);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
                    || c == '_' || c == '-';
            b.append(ok ? c : '_');
        }
        if (b.length() == 0 || !startsValid(b.charAt(0))) {
            b.insert(0, 'n');
        }
        return b.toString();
    }

    private static boolean startsValid(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.';
    }
}
