package io.senseflow.onnx.runtime;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;

/** Argument checks and name defaults shared by the VAE decoder and encoder. */
final class VaeScaling {
    private VaeScaling() {
    }

    static float checkScale(float factor) {
        if (!(factor > 0) || !Float.isFinite(factor)) {
            throw InvalidRequestException.of("scalingFactor", "a positive finite factor", factor);
        }
        return factor;
    }

    static float checkShift(float shift) {
        if (!Float.isFinite(shift)) {
            throw InvalidRequestException.of("shiftFactor", "a finite value", shift);
        }
        return shift;
    }

    static String inputName(OrtModel model, String name) {
        if (name == null) {
            if (model.inputs().size() != 1) {
                throw new ModelLoadException(model.name() + " has " + model.inputs().size() + " inputs " + model.inputs().keySet()
                        + "; name the one that takes the tensor");
            }
            return model.inputs().keySet().iterator().next();
        }
        if (!model.hasInput(name)) {
            throw new ModelLoadException(model.name() + " has no input '" + name + "'; its inputs are " + model.inputs().keySet());
        }
        return name;
    }

    static String outputName(OrtModel model, String name) {
        if (name == null) {
            return model.outputs().keySet().iterator().next();
        }
        if (!model.hasOutput(name)) {
            throw new ModelLoadException(model.name() + " has no output '" + name + "'; its outputs are " + model.outputs().keySet());
        }
        return name;
    }
}
