package io.senseflow.examples.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DiffAugment;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.discriminator.Backbone;
import io.senseflow.tf.discriminator.Discriminator;
import io.senseflow.tf.discriminator.HeadSpec;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.run.DiscriminatorPlugin;
import io.senseflow.tf.train.StudentModules;
import io.senseflow.train.ModuleInputs;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The Shapes runs' {@code vfm} discriminator as a {@link DiscriminatorPlugin}: heads on a frozen ONNX vision backbone
 * (a DINOv2 export, say) that sees the samples decoded by the teacher's frozen VAE decoder in TensorFlow, behind the
 * standard DiffAugment on fake and real images. {@code senseflow distill --backbone FILE} on a Shapes teacher uses it;
 * the heads are {@link ShapesDiscriminator}'s (conditioned on the pooled text embedding).
 */
public final class ShapesVisionDiscriminator implements DiscriminatorPlugin {
    private final TeacherFolder teacher;
    private final Path backbone;
    private final HeadSpec heads;

    /**
     * @param teacher the Shapes teacher (its VAE decoder goes in front of the backbone)
     * @param backbone the ONNX vision backbone
     * @param heads the heads, or null for {@link ShapesDiscriminator#forTeacher}'s defaults
     */
    public ShapesVisionDiscriminator(TeacherFolder teacher, Path backbone, HeadSpec heads) {
        this.teacher = Objects.requireNonNull(teacher, "teacher");
        this.backbone = Objects.requireNonNull(backbone, "backbone").toAbsolutePath().normalize();
        this.heads = ShapesDiscriminator.forTeacher(teacher.transformerConfig(), heads).heads();
        if (teacher.autoencoderConfig().shiftFactor() != 0) {
            throw InvalidRequestException.of(teacher.dir() + " vae_decoder shift_factor", "0 for a vfm discriminator"
                    + " (the decoder in front of it applies the scaling only)", teacher.autoencoderConfig().shiftFactor());
        }
    }

    @Override
    public Parts create(Context c) {
        DistillationConfig config = c.config();
        Autoencoder.Config ac = teacher.autoencoderConfig();
        int batch = config.batchSize();
        StudentModules s = c.modules();
        TfModule decoder = TfModule.builder(teacher.vaeDecoder()).name("vae_decoder").workspace(s.workspace())
                .input(InputBinding.of(ModuleInputs.X, Autoencoder.LATENT).scaled(1 / ac.scalingFactor()))
                .output(Autoencoder.SAMPLE)
                .importOptions(ImportOptions.builder().inputShape(Autoencoder.LATENT, batch, ac.latentChannels(),
                        ac.latentHeight(), ac.latentWidth()).frozen().build())
                .build();
        try {
            Backbone b = Backbone.builder(OnnxModel.read(backbone)).build();
            Discriminator d = Discriminator.forConfig(config, b, null, null).orElseThrow().name("discriminator")
                    .workspace(s.workspace()).heads(heads)
                    .inputShape(batch, ac.imageChannels(), ac.imageHeight(), ac.imageWidth())
                    .conditionedLike(s.generator()).build();
            return Parts.of(d).withDecoder(decoder).withAugmentation(DiffAugment.standard(), true);
        } catch (RuntimeException e) {
            decoder.close();
            throw e;
        }
    }

    /** The plug-in's identity in {@code run.json}: the backbone file and the heads. */
    @Override
    public String toString() {
        return "ShapesVisionDiscriminator[backbone=" + backbone + ", heads=" + heads + "]";
    }
}
