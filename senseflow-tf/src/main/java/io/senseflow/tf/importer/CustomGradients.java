package io.senseflow.tf.importer;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.TensorFlow;

/**
 * Zero gradients for operators TensorFlow's C++ gradient registry leaves out although their derivative is zero
 * wherever it exists (rounding, integer division, NaN/Inf tests). Remainders are not among them (their derivative
 * is not zero): the Mod handler composes a differentiable form instead. Without them,
 * {@code Graph.addGradients} fails as soon as such an op lies between a variable and the loss, e.g. a rounding in
 * a position computation. Registration is process-wide in TensorFlow; it happens once, on the first import.
 */
final class CustomGradients {
    private static final String[] ZERO_GRADIENT_OPS = {"Ceil", "Round", "FloorDiv", "TruncateDiv", "IsNan", "IsInf",
        "OnesLike"};
    private static boolean registered;

    private CustomGradients() {
    }

    static synchronized void ensureRegistered() {
        if (registered) {
            return;
        }
        for (String op : ZERO_GRADIENT_OPS) {
            // returns false when TensorFlow already has a gradient for the op; either way it is covered
            TensorFlow.registerCustomGradient(op, (tf, operation, gradients) -> {
                List<Operand<?>> out = new ArrayList<>();
                for (int i = 0; i < operation.numInputs(); i++) {
                    out.add(tf.zerosLike(operation.input(i)));
                }
                return out;
            });
        }
        registered = true;
    }
}
