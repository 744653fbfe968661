package io.senseflow.onnx.testing;

import io.senseflow.onnx.folders.ModelFamily;
import java.nio.file.Path;

/**
 * A fixture folder written by {@link TinyModelFolders}.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param dir the model folder
 * @param family its layout
 * @param options how it was made
 */
public record Fixture(Path dir, ModelFamily family, FixtureOptions options) {

    /**
     * @return the Java reference of the whole pipeline on this folder (the closed-form families only)
     * @throws UnsupportedOperationException for the in-house layout, whose components are real networks
     */
    public ReferencePipeline reference() {
        if (family == ModelFamily.SENSEFLOW) {
            throw new UnsupportedOperationException("the in-house fixture has no closed form; compare against its "
                    + "components run one by one");
        }
        return new ReferencePipeline(new FixtureSpec(family, options));
    }
}
