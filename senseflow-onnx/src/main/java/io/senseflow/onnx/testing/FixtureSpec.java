package io.senseflow.onnx.testing;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.folders.ModelFamily;
import io.senseflow.onnx.testing.ClosedForms.DenoiserSpec;
import io.senseflow.onnx.testing.ClosedForms.Kind;
import io.senseflow.onnx.testing.ClosedForms.TextSpec;
import io.senseflow.pipeline.GuidanceMode;

/**
 * Everything numeric about one fixture folder, shared by the folder writer and the Java reference: the closed-form
 * components, the VAE factors, the token lengths and the family defaults the loader is expected to apply.
 */
final class FixtureSpec {
    final ModelFamily family;
    final FixtureOptions options;
    final TextSpec clipL;
    final TextSpec clipG;
    final TextSpec t5;
    final DenoiserSpec denoiser;
    final int vaeChannels;
    final double scaling;
    final double shift;
    final int t5Length;

    FixtureSpec(ModelFamily family, FixtureOptions o) {
        this.family = family;
        this.options = o;
        int clipVocab = FixtureTokenizer.Style.CLIP.vocabSize();
        int t5Vocab = FixtureTokenizer.Style.T5.vocabSize();
        boolean sf = o.senseflowCheckpoint();
        DataType ts = o.precision();
        switch (family) {
            case SD3 -> {
                clipL = new TextSpec("text_encoder", clipVocab, 8, 2, 8, "text_embeds", 0.1f, DataType.INT64, false);
                clipG = new TextSpec("text_encoder_2", clipVocab, 12, 2, 12, "text_embeds", 0.7f, DataType.INT32, false);
                t5 = o.t5() ? new TextSpec("text_encoder_3", t5Vocab, 24, 0, 0, null, 1.9f, DataType.INT64, true) : null;
                denoiser = new DenoiserSpec(Kind.SD3, 16, 24, 20, 0.002, ts, false, false);
                scaling = 1.5305;
                shift = 0.0609;
                t5Length = sf ? 77 : 256;
            }
            case FLUX -> {
                clipL = new TextSpec("text_encoder", clipVocab, 8, 0, 8, "pooler_output", 0.1f, DataType.INT64, false);
                clipG = null;
                t5 = new TextSpec("text_encoder_2", t5Vocab, 16, 0, 0, null, 1.9f, DataType.INT64, true);
                denoiser = new DenoiserSpec(Kind.FLUX, 16, 16, 8, 1.0, ts, false, o.guidanceInput());
                scaling = 0.3611;
                shift = 0.1159;
                t5Length = o.guidanceInput() || sf ? 512 : 256;
            }
            case SDXL -> {
                clipL = new TextSpec("text_encoder", clipVocab, 8, 2, 8, "pooler_output", 0.1f, DataType.INT32, false);
                clipG = new TextSpec("text_encoder_2", clipVocab, 12, 2, 12, "text_embeds", 0.7f, DataType.INT64, false);
                t5 = null;
                denoiser = new DenoiserSpec(Kind.SDXL, 4, 20, 12, 0.001,
                        o.precision() == DataType.FLOAT ? DataType.INT64 : DataType.FLOAT16, false, false);
                scaling = 0.13025;
                shift = 0;
                t5Length = 0;
            }
            default -> throw new IllegalArgumentException("no closed-form fixture for " + family);
        }
        this.vaeChannels = o.vaeLatentChannels() > 0 ? o.vaeLatentChannels() : denoiser.channels();
    }

    GuidanceMode guidanceMode() {
        if (family == ModelFamily.FLUX) {
            return denoiser.guidance() ? GuidanceMode.EMBEDDED : GuidanceMode.NONE;
        }
        return options.senseflowCheckpoint() ? GuidanceMode.NONE : GuidanceMode.CFG;
    }

    int defaultSteps() {
        if (options.senseflowCheckpoint()) {
            return 4;
        }
        return switch (family) {
            case SD3 -> 28;
            case FLUX -> denoiser.guidance() ? 28 : 4;
            default -> 50;
        };
    }

    double defaultGuidance() {
        if (family == ModelFamily.FLUX) {
            return denoiser.guidance() ? 3.5 : 0;
        }
        if (options.senseflowCheckpoint()) {
            return 0;
        }
        return family == ModelFamily.SD3 ? 7.0 : 5.0;
    }

    int patch() {
        return family == ModelFamily.SDXL ? 1 : 2;
    }
}
