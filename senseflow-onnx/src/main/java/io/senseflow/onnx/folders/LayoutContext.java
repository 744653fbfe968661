package io.senseflow.onnx.folders;

import io.senseflow.ModelLoadException;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.lora.LoraAdapterFile;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.TensorSpec;
import io.senseflow.onnx.runtime.WeightOverrides;
import io.senseflow.model.Tokenizer;
import io.senseflow.onnx.tokenizer.ClipBpeTokenizer;
import io.senseflow.onnx.tokenizer.HfTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** What a family loader works with: the folder, the options, the runtime, and what to close if loading fails. */
final class LayoutContext {
    private final ModelFolder folder;
    private final LoadOptions options;
    private final OrtRuntime runtime;
    private final List<AutoCloseable> opened = new ArrayList<>();
    private final LoraAdapterFile adapters;

    LayoutContext(ModelFolder folder, LoadOptions options, OrtRuntime runtime) {
        this(folder, options, runtime, null);
    }

    /** @param adapters the options' adapter file, already read and checked, or null */
    LayoutContext(ModelFolder folder, LoadOptions options, OrtRuntime runtime, LoraAdapterFile adapters) {
        this.folder = folder;
        this.options = options;
        this.runtime = runtime;
        this.adapters = adapters;
    }

    ModelFolder folder() {
        return folder;
    }

    LoadOptions options() {
        return options;
    }

    OrtRuntime runtime() {
        return runtime;
    }

    /** Loads {@code component/model.onnx}, with replacement weights from the options or the component's folder. */
    OrtModel load(String component, String role) {
        Path file = folder.requireModel(component, role);
        Optional<Path> weights = replacementWeights(component);
        if (weights.isPresent()) {
            return runtime.load(file, options.sessionConfig(), WeightOverrides.fromSafetensors(weights.get()));
        }
        return runtime.load(file, options.sessionConfig());
    }

    /**
     * Loads the denoiser: like {@link #load}, with the options' LoRA adapters ({@link LoadOptions#adapters()}) folded
     * into its weights in the ONNX graph before the session is created.
     *
     * @throws ModelLoadException naming the adapter file when it does not fit this denoiser, or when replacement
     *     weights are also given for it
     */
    OrtModel loadDenoiser(String component, String role) {
        if (adapters == null) {
            return load(component, role);
        }
        Path file = folder.requireModel(component, role);
        Optional<Path> weights = replacementWeights(component);
        if (weights.isPresent()) {
            throw new ModelLoadException("LoRA adapter file " + adapters.file() + ": expected a denoiser without"
                    + " replacement weights, found " + weights.get() + " for " + component + "; merge one into the"
                    + " other first");
        }
        Path abs = file.toAbsolutePath();
        OnnxModel merged = adapters.applyTo(OnnxModel.read(abs), abs.toString());
        // the merged weights go beside the model bytes (no 2 GiB limit on them), the rest stays as stored
        return runtime.load(merged, component + "/" + abs.getFileName(), abs.getParent(), options.sessionConfig(),
                adapters.weights());
    }

    /** @return the options' replacement weights for the component, else its folder's {@code weights.safetensors} */
    private Optional<Path> replacementWeights(String component) {
        return Optional.ofNullable(options.weights().get(component)).or(() -> folder.componentWeights(component));
    }

    /**
     * The folder's {@code tokenizer.json} through {@link HfTokenizer} when there is one, else CLIP's slow files
     * ({@code vocab.json} + {@code merges.txt}, as Optimum writes them) through {@link ClipBpeTokenizer}.
     *
     * @param component tokenizer folder
     * @param maxLength the padded length, or null for the folder's {@code model_max_length} (else {@code fallbackLength})
     * @param fallbackLength the length when neither is given
     * @param fallbackPad the padding token when the files name none, or null
     * @param fallbackPadId the padding id when the files name none and there is no fallback token
     * @return the tokenizer, closed with the context on failure
     * @throws io.senseflow.ModelLoadException naming the folder when it has neither kind of files
     */
    Tokenizer tokenizer(String component, Integer maxLength, int fallbackLength, String fallbackPad, long fallbackPadId) {
        java.util.Optional<Path> slow = folder.slowTokenizer(component);
        if (slow.isPresent()) {
            ClipBpeTokenizer.Builder b = ClipBpeTokenizer.builder(slow.get()).defaultMaxLength(fallbackLength);
            if (maxLength != null) {
                b.maxLength(maxLength);
            }
            if (fallbackPad != null) {
                b.defaultPadToken(fallbackPad);
            } else {
                b.defaultPadId(fallbackPadId);
            }
            return b.build();
        }
        HfTokenizer.Builder b = HfTokenizer.builder(folder.requireTokenizer(component)).defaultMaxLength(fallbackLength);
        if (maxLength != null) {
            b.maxLength(maxLength);
        }
        if (fallbackPad != null) {
            b.defaultPadToken(fallbackPad);
        } else {
            b.defaultPadId(fallbackPadId);
        }
        return track(b.build());
    }

    <T extends AutoCloseable> T track(T resource) {
        opened.add(resource);
        return resource;
    }

    /** Closes what was opened so far (after a failed load), keeping the first failure's exception intact. */
    void closeQuietly(Throwable cause) {
        for (int i = opened.size() - 1; i >= 0; i--) {
            try {
                opened.get(i).close();
            } catch (Exception e) {
                cause.addSuppressed(e);
            }
        }
        opened.clear();
    }

    /** @return the fixed size of {@code input}'s dimension {@code axis}, or -1 when symbolic or absent */
    static long inputDim(OrtModel model, String input, int axis) {
        if (!model.hasInput(input)) {
            return -1;
        }
        TensorSpec s = model.input(input);
        return axis < s.rank() ? s.fixedDim(axis) : -1;
    }

    /** @return the fixed size of the last dimension of {@code output}, or -1 */
    static long outputLastDim(OrtModel model, String output) {
        if (!model.hasOutput(output)) {
            return -1;
        }
        TensorSpec s = model.outputs().get(output);
        return s.rank() == 0 ? -1 : s.fixedDim(s.rank() - 1);
    }

    static void requireInput(OrtModel model, String input, String why) {
        if (!model.hasInput(input)) {
            throw new ModelLoadException(model.name() + " has no input '" + input + "' (" + why + "); its inputs are "
                    + model.inputs().keySet());
        }
    }
}
