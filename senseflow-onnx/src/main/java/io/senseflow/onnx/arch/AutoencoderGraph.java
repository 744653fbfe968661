package io.senseflow.onnx.arch;

import static io.senseflow.onnx.arch.Autoencoder.NORM_EPS;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import java.util.List;

/** The graphs of {@link Autoencoder}; see its Javadoc for the structure and the parameter names. */
final class AutoencoderGraph {
    private final Layers nn;
    private final GraphBuilder g;
    private final Autoencoder.Config c;

    private AutoencoderGraph(Layers nn, Autoencoder.Config c) {
        this.nn = nn;
        this.g = nn.graph();
        this.c = c;
    }

    static void define(Layers nn, Autoencoder.Config c, Autoencoder.Part part) {
        AutoencoderGraph a = new AutoencoderGraph(nn, c);
        if (part == Autoencoder.Part.ENCODER) {
            a.encoder();
        } else {
            a.decoder();
        }
    }

    private Dim[] imageDims() {
        return new Dim[] {Dim.symbolic("batch"), Dim.of(c.imageChannels()), Dim.of(c.imageHeight()),
                Dim.of(c.imageWidth())};
    }

    private Dim[] latentDims() {
        return new Dim[] {Dim.symbolic("batch"), Dim.of(c.latentChannels()), Dim.of(c.latentHeight()),
                Dim.of(c.latentWidth())};
    }

    private void encoder() {
        String x = g.input(Autoencoder.SAMPLE, DataType.FLOAT, imageDims());
        List<Integer> ch = c.channels();
        String z = g.inScope("encoder", () -> {
            String h = nn.conv("conv_in", x, c.imageChannels(), ch.get(0), 3, 1, 1);
            long in = ch.get(0);
            long height = c.imageHeight();
            long width = c.imageWidth();
            for (int i = 0; i < ch.size(); i++) {
                long out = ch.get(i);
                String blockIn = h;
                long cin = in;
                long hh = height;
                long ww = width;
                boolean down = i < ch.size() - 1;
                h = g.inScope("down_blocks." + i, () -> {
                    String r = g.inScope("resnets.0", () -> resnet(blockIn, cin, out, hh, ww));
                    return down ? g.inScope("downsamplers.0", () -> nn.conv("conv", r, out, out, 3, 2, 1)) : r;
                });
                if (down) {
                    height /= 2;
                    width /= 2;
                }
                in = out;
            }
            long last = ch.get(ch.size() - 1);
            return tail(midBlock(h, last), last, c.latentChannels(), false);
        });
        g.output(z, Autoencoder.LATENT, DataType.FLOAT, latentDims());
    }

    private void decoder() {
        String z = g.input(Autoencoder.LATENT, DataType.FLOAT, latentDims());
        List<Integer> ch = c.channels();
        String img = g.inScope("decoder", () -> {
            long in = ch.get(ch.size() - 1);
            String h = midBlock(nn.conv("conv_in", z, c.latentChannels(), in, 3, 1, 1), in);
            long height = c.latentHeight();
            long width = c.latentWidth();
            for (int j = 0; j < ch.size(); j++) {
                long out = ch.get(ch.size() - 1 - j);
                String blockIn = h;
                long cin = in;
                long hh = height;
                long ww = width;
                boolean up = j < ch.size() - 1;
                h = g.inScope("up_blocks." + j, () -> {
                    String r = g.inScope("resnets.0", () -> resnet(blockIn, cin, out, hh, ww));
                    return up ? g.inScope("upsamplers.0", () -> nn.conv("conv", upsample(r), out, out, 3, 1, 1)) : r;
                });
                if (up) {
                    height *= 2;
                    width *= 2;
                }
                in = out;
            }
            return g.tanh(tail(h, ch.get(0), c.imageChannels(), true));
        });
        g.output(img, Autoencoder.SAMPLE, DataType.FLOAT, imageDims());
    }

    /** {@code mid_block.resnets.0} at the lowest resolution. */
    private String midBlock(String x, long channels) {
        return g.inScope("mid_block", () -> g.inScope("resnets.0",
                () -> resnet(x, channels, channels, c.latentHeight(), c.latentWidth())));
    }

    /** conv_norm_out, SiLU, conv_out at full resolution (decoder) or latent resolution (encoder). */
    private String tail(String x, long channels, long outChannels, boolean fullResolution) {
        long h = fullResolution ? c.imageHeight() : c.latentHeight();
        long w = fullResolution ? c.imageWidth() : c.latentWidth();
        String n = g.silu(nn.groupNorm("conv_norm_out", x, channels, c.groups(), h, w, NORM_EPS));
        return nn.conv("conv_out", n, channels, outChannels, 3, 1, 1);
    }

    /** diffusers' ResnetBlock2D without time embedding. */
    private String resnet(String x, long in, long out, long h, long w) {
        String a = g.silu(nn.groupNorm("norm1", x, in, c.groups(), h, w, NORM_EPS));
        a = nn.conv("conv1", a, in, out, 3, 1, 1);
        a = g.silu(nn.groupNorm("norm2", a, out, c.groups(), h, w, NORM_EPS));
        a = nn.conv("conv2", a, out, out, 3, 1, 1);
        String skip = in == out ? x : nn.conv("conv_shortcut", x, in, out, 1, 1, 0);
        return g.add(skip, a);
    }

    /** Nearest-neighbour upsampling by 2, in the form PyTorch exports ({@code asymmetric}, {@code floor}). */
    private String upsample(String x) {
        return g.op("Resize").input(x, "", g.floatVector(1, 1, 2, 2))
                .attr("mode", "nearest")
                .attr("coordinate_transformation_mode", "asymmetric")
                .attr("nearest_mode", "floor")
                .output();
    }
}
