package io.senseflow.onnx.arch;

import java.util.List;

/** The autoencoder's encoder and decoder in plain Java (double precision): the oracle for the ONNX graphs. */
final class AutoencoderReference {
    private static final double EPS = 1e-6;
    private final Autoencoder.Config c;
    private final Weights w;

    AutoencoderReference(Autoencoder.Config config, Weights weights) {
        this.c = config;
        this.w = weights;
    }

    float[] encode(float[] images) {
        int per = c.imageChannels() * c.imageHeight() * c.imageWidth();
        int outPer = c.latentChannels() * c.latentHeight() * c.latentWidth();
        int batch = images.length / per;
        float[] out = new float[batch * outPer];
        List<Integer> ch = c.channels();
        for (int b = 0; b < batch; b++) {
            int h = c.imageHeight();
            int wd = c.imageWidth();
            double[] x = conv("encoder.conv_in", RefOps.toDouble(images, b * per, per), c.imageChannels(), h, wd,
                    ch.get(0), 3, 1, 1);
            int in = ch.get(0);
            for (int i = 0; i < ch.size(); i++) {
                String pre = "encoder.down_blocks." + i + ".";
                x = resnet(pre + "resnets.0.", x, in, ch.get(i), h, wd);
                in = ch.get(i);
                if (i < ch.size() - 1) {
                    x = conv(pre + "downsamplers.0.conv", x, in, h, wd, in, 3, 2, 1);
                    h /= 2;
                    wd /= 2;
                }
            }
            x = resnet("encoder.mid_block.resnets.0.", x, in, in, h, wd);
            x = RefOps.silu(norm("encoder.conv_norm_out", x, in, h * wd));
            x = conv("encoder.conv_out", x, in, h, wd, c.latentChannels(), 3, 1, 1);
            for (int i = 0; i < outPer; i++) {
                out[b * outPer + i] = (float) x[i];
            }
        }
        return out;
    }

    float[] decode(float[] latents) {
        int per = c.latentChannels() * c.latentHeight() * c.latentWidth();
        int outPer = c.imageChannels() * c.imageHeight() * c.imageWidth();
        int batch = latents.length / per;
        float[] out = new float[batch * outPer];
        List<Integer> ch = c.channels();
        int levels = ch.size();
        for (int b = 0; b < batch; b++) {
            int h = c.latentHeight();
            int wd = c.latentWidth();
            int in = ch.get(levels - 1);
            double[] x = conv("decoder.conv_in", RefOps.toDouble(latents, b * per, per), c.latentChannels(), h, wd,
                    in, 3, 1, 1);
            x = resnet("decoder.mid_block.resnets.0.", x, in, in, h, wd);
            for (int j = 0; j < levels; j++) {
                String pre = "decoder.up_blocks." + j + ".";
                int outCh = ch.get(levels - 1 - j);
                x = resnet(pre + "resnets.0.", x, in, outCh, h, wd);
                in = outCh;
                if (j < levels - 1) {
                    x = RefOps.upsample2(x, in, h, wd);
                    h *= 2;
                    wd *= 2;
                    x = conv(pre + "upsamplers.0.conv", x, in, h, wd, in, 3, 1, 1);
                }
            }
            x = RefOps.silu(norm("decoder.conv_norm_out", x, in, h * wd));
            x = conv("decoder.conv_out", x, in, h, wd, c.imageChannels(), 3, 1, 1);
            for (int i = 0; i < outPer; i++) {
                out[b * outPer + i] = (float) Math.tanh(x[i]);
            }
        }
        return out;
    }

    private double[] resnet(String pre, double[] x, int in, int out, int h, int wd) {
        double[] a = RefOps.silu(norm(pre + "norm1", x, in, h * wd));
        a = conv(pre + "conv1", a, in, h, wd, out, 3, 1, 1);
        a = RefOps.silu(norm(pre + "norm2", a, out, h * wd));
        a = conv(pre + "conv2", a, out, h, wd, out, 3, 1, 1);
        double[] skip = in == out ? x : conv(pre + "conv_shortcut", x, in, h, wd, out, 1, 1, 0);
        return RefOps.add(skip, a);
    }

    private double[] conv(String name, double[] x, int in, int h, int wd, int out, int k, int stride, int pad) {
        return RefOps.conv2d(x, in, h, wd, w.get(name + ".weight"), w.get(name + ".bias"), out, k, stride, pad);
    }

    private double[] norm(String name, double[] x, int channels, int pixels) {
        return RefOps.groupNorm(x, channels, pixels, c.groups(), EPS, w.get(name + ".weight"), w.get(name + ".bias"));
    }
}
