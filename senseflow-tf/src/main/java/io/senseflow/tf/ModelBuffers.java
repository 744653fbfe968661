package io.senseflow.tf;

import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Finds the initializers of an exported graph that were <em>buffers</em> in the source model, not parameters: fixed
 * tables PyTorch registers with {@code register_buffer} and the exporter writes as initializers like any weight. The
 * SD3/SD3.5 sin-cos position table ({@code pos_embed.pos_embed}, exported as {@code onnx::Slice_N} when the exporter
 * renamed it) is the one the diffusers denoisers have; training it would train values PyTorch never trains.
 *
 * <p>Two rules, each naming why it matched:
 * <ul>
 *   <li><b>sin-cos table</b>: a float32 initializer whose last axis pairs up into sines and cosines — every channel
 *       has a partner channel with {@code a² + b² = 1} (to 1e-4) at every position, over at least four positions, and
 *       the table is not constant along the positions. diffusers' 1-D and 2-D sin-cos embeddings all have this
 *       form; a trained or random weight never does;</li>
 *   <li><b>known buffer names</b>: {@code *pos_embed.pos_embed}, {@code *position_ids}, {@code *freqs_cis},
 *       {@code *inv_freq}, when the exporter kept the name.</li>
 * </ul>
 * Graphs the SDK built itself (metadata {@code senseflow.architecture}) have no buffers: their tables are
 * parameters by definition (the in-house transformer trains its position table).
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class ModelBuffers {
    private static final Pattern KNOWN = Pattern.compile(
            "(^|[./])(pos_embed\\.pos_embed|position_ids|freqs_cis|inv_freq)$");
    private static final int MIN_POSITIONS = 4;
    private static final double TOLERANCE = 1e-4;

    private ModelBuffers() {
    }

    /**
     * @param model an ONNX graph
     * @return initializer name to the reason it is a buffer, in graph order; empty for the SDK's own graphs
     */
    public static Map<String, String> of(OnnxModel model) {
        Map<String, String> out = new LinkedHashMap<>();
        if (model.metadata().containsKey("senseflow.architecture")) {
            return out;
        }
        for (TensorValue t : model.graph().initializers()) {
            if (!t.dataType().isFloatingPoint()) {
                continue;
            }
            if (KNOWN.matcher(t.name()).find()) {
                out.put(t.name(), "a buffer name of diffusers/transformers models");
            } else if (isSinCosTable(t)) {
                out.put(t.name(), "a fixed sin-cos table " + java.util.Arrays.toString(t.dims()));
            }
        }
        return out;
    }

    /** @return whether the last axis pairs into sin/cos channels over the positions (all other axes) */
    static boolean isSinCosTable(TensorValue t) {
        long[] dims = t.dims();
        if (t.dataType() != io.senseflow.onnx.ir.DataType.FLOAT || dims.length < 2) {
            return false;
        }
        int channels = (int) dims[dims.length - 1];
        long positions = 1;
        for (int i = 0; i < dims.length - 1; i++) {
            positions *= dims[i];
        }
        if (channels < 2 || channels % 2 != 0 || positions < MIN_POSITIONS || positions * channels > (1L << 28)) {
            return false;
        }
        FloatBuffer f = t.bytes().duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        int n = (int) positions;
        for (int i = 0; i < n * channels; i++) {
            float v = f.get(i);
            if (!(Math.abs(v) <= 1 + TOLERANCE)) {
                return false;
            }
        }
        // candidate partners from a few sampled positions, then checked at every position
        int[] sample = {0, 1, n / 3, n / 2, n - 1};
        boolean varies = false;
        for (int c = 0; c < channels; c++) {
            int partner = -1;
            for (int d = 0; d < channels && partner < 0; d++) {
                if (d == c) {
                    continue;
                }
                boolean ok = true;
                for (int p : sample) {
                    float a = f.get(p * channels + c);
                    float b = f.get(p * channels + d);
                    ok &= Math.abs(a * a + b * b - 1) <= TOLERANCE;
                }
                if (ok && allPositions(f, n, channels, c, d)) {
                    partner = d;
                }
            }
            if (partner < 0) {
                return false;
            }
            float first = f.get(c);
            for (int p = 1; p < n && !varies; p++) {
                varies = Math.abs(f.get(p * channels + c) - first) > TOLERANCE;
            }
        }
        return varies;
    }

    private static boolean allPositions(FloatBuffer f, int n, int channels, int c, int d) {
        for (int p = 0; p < n; p++) {
            float a = f.get(p * channels + c);
            float b = f.get(p * channels + d);
            if (Math.abs(a * a + b * b - 1) > TOLERANCE) {
                return false;
            }
        }
        return true;
    }
}
