package io.senseflow.onnx.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import io.senseflow.ModelLoadException;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.ExternalData;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.safetensors.SafetensorsDtype;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.tensor.HalfPrecision;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prepares a session whose initializers come from a safetensors file: validates names, shapes and dtypes, rewrites
 * the replaced initializers as external-data references (ONNX Runtime replaces only those) and creates the
 * replacement tensors. The model file is not touched: the rewritten model exists only as bytes.
 */
final class ExternalWeights implements AutoCloseable {
    /** Location written for replaced initializers; never read, since ONNX Runtime swaps them in before loading data. */
    static final String PLACEHOLDER = "senseflow-external-initializer";
    private static final int LISTED = 12;

    private final byte[] modelBytes;
    private final Map<String, OnnxTensorLike> tensors;

    private ExternalWeights(byte[] modelBytes, Map<String, OnnxTensorLike> tensors) {
        this.modelBytes = modelBytes;
        this.tensors = tensors;
    }

    byte[] modelBytes() {
        return modelBytes;
    }

    Map<String, OnnxTensorLike> tensors() {
        return tensors;
    }

    static ExternalWeights prepare(OrtEnvironment env, OnnxModel model, String modelName, WeightOverrides w) {
        Map<String, TensorValue> inits = new LinkedHashMap<>();
        for (TensorValue t : model.graph().initializers()) {
            inits.put(t.name(), t);
        }
        try (SafetensorsFile file = SafetensorsFile.open(w.file())) {
            String fileName = w.file().getFileName().toString();
            Map<String, String> targets = new LinkedHashMap<>(); // initializer -> safetensors name
            for (String source : file.names()) {
                String target = w.rename().apply(source);
                if (target == null) {
                    continue;
                }
                TensorValue init = inits.get(target);
                if (init == null) {
                    if (w.ignoreUnmatched()) {
                        continue;
                    }
                    throw new ModelLoadException(fileName + ": tensor '" + source + "'"
                            + (target.equals(source) ? "" : " (renamed to '" + target + "')") + " matches no initializer of "
                            + modelName + "; its initializers are " + list(inits.keySet())
                            + " (use WeightOverrides.withRename or withIgnoreUnmatched)");
                }
                String previous = targets.putIfAbsent(target, source);
                if (previous != null) {
                    throw new ModelLoadException(fileName + ": tensors '" + previous + "' and '" + source
                            + "' both map to initializer '" + target + "' of " + modelName);
                }
                long[] shape = file.shape(source);
                if (!Arrays.equals(shape, init.dims())) {
                    throw new ModelLoadException(fileName + ": tensor '" + source + "' has shape " + Arrays.toString(shape)
                            + ", but initializer '" + target + "' of " + modelName + " has shape " + Arrays.toString(init.dims()));
                }
                SafetensorsDtype dtype = file.dtype(source);
                boolean convertible = dtype.onnxType() == init.dataType()
                        || (dtype.isFloatingPoint() && init.dataType().isFloatingPoint() && init.dataType() != DataType.UNDEFINED
                        && Conversions.javaType(init.dataType()) != null);
                if (!convertible || Conversions.javaType(init.dataType()) == null) {
                    throw new ModelLoadException(fileName + ": tensor '" + source + "' is " + dtype + ", but initializer '"
                            + target + "' of " + modelName + " is " + init.dataType()
                            + "; floating-point initializers take F32, F16, BF16 or F64, others need the same type");
                }
            }
            if (w.requireAll()) {
                List<String> missing = new ArrayList<>();
                for (TensorValue t : inits.values()) {
                    if (t.dataType().isFloatingPoint() && !targets.containsKey(t.name())) {
                        missing.add(t.name());
                    }
                }
                if (!missing.isEmpty()) {
                    throw new ModelLoadException(modelName + ": initializer '" + missing.get(0) + "' has no weight in "
                            + fileName + (missing.size() > 1 ? " (" + missing.size() + " missing: " + list(missing) + ")" : "")
                            + "; requireAll is set");
                }
            }
            Map<String, OnnxTensorLike> tensors = new LinkedHashMap<>();
            Map<String, ExternalData> refs = new LinkedHashMap<>();
            try {
                for (Map.Entry<String, String> e : targets.entrySet()) {
                    TensorValue init = inits.get(e.getKey());
                    tensors.put(e.getKey(), tensor(env, file, e.getValue(), init));
                    refs.put(e.getKey(), new ExternalData(PLACEHOLDER, 0, init.byteSize(), null));
                }
                return new ExternalWeights(model.toByteArrayWithExternalReferences(refs), tensors);
            } catch (OrtException | RuntimeException ex) {
                tensors.values().forEach(t -> ((OnnxTensor) t).close());
                if (ex instanceof ModelLoadException m) {
                    throw m;
                }
                throw new ModelLoadException(fileName + ": cannot prepare weights for " + modelName + ": " + ex.getMessage(), ex);
            }
        }
    }

    /**
     * The replacement tensor. ONNX Runtime copies the data into the session, so a tensor sharing the file's mapping is
     * safe: the file and the tensors are closed right after the session is created.
     */
    private static OnnxTensor tensor(OrtEnvironment env, SafetensorsFile file, String source, TensorValue init) throws OrtException {
        DataType type = init.dataType();
        OnnxJavaType javaType = Conversions.javaType(type);
        long[] dims = init.dims();
        if (file.dtype(source).onnxType() == type) {
            ByteBuffer bytes = file.bytes(source);
            if (!bytes.isDirect()) {
                ByteBuffer copy = Conversions.direct(bytes.remaining());
                copy.put(bytes.duplicate()).flip();
                bytes = copy;
            }
            return OnnxTensor.createTensor(env, bytes, dims, javaType);
        }
        float[] values = file.floats(source);
        return switch (type) {
            case FLOAT16, BFLOAT16 -> {
                short[] bits = type == DataType.FLOAT16 ? HalfPrecision.floatToFloat16(values) : HalfPrecision.floatToBfloat16(values);
                ByteBuffer b = Conversions.direct(2L * bits.length);
                b.asShortBuffer().put(bits);
                yield OnnxTensor.createTensor(env, b, dims, javaType);
            }
            default -> Conversions.fromFloats(env, values, dims, type, file.path() + ": tensor '" + source + "'");
        };
    }

    private static String list(java.util.Collection<String> names) {
        List<String> l = new ArrayList<>(names);
        return l.size() <= LISTED ? l.toString() : l.subList(0, LISTED) + " and " + (l.size() - LISTED) + " more";
    }

    /** Closes the replacement tensors (ONNX Runtime has copied them into the session by then). */
    @Override
    public void close() {
        for (OnnxTensorLike t : tensors.values()) {
            ((OnnxTensor) t).close();
        }
    }
}
