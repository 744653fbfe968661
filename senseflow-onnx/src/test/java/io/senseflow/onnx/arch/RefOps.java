package io.senseflow.onnx.arch;

/**
 * Plain-Java reference layers in double precision, written from the definitions (not from the graph code), for
 * parity tests. Activations are row-major {@code double[]}; weights are the float parameters in PyTorch layout.
 */
final class RefOps {
    private RefOps() {
    }

    /** y[r][o] = sum_i x[r][i] w[o][i] + b[o]. */
    static double[] linear(double[] x, int rows, int in, float[] w, float[] b, int out) {
        check(w.length == out * in && b.length == out, "linear weight/bias size");
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = b[o];
                for (int i = 0; i < in; i++) {
                    s += x[r * in + i] * w[o * in + i];
                }
                y[r * out + o] = s;
            }
        }
        return y;
    }

    /** Normalises each row of width {@code width}; gamma/beta may be null (no affine). */
    static double[] layerNorm(double[] x, int rows, int width, double eps, float[] gamma, float[] beta) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int i = 0; i < width; i++) {
                mean += x[r * width + i];
            }
            mean /= width;
            double var = 0;
            for (int i = 0; i < width; i++) {
                double dv = x[r * width + i] - mean;
                var += dv * dv;
            }
            var /= width;
            double inv = 1 / Math.sqrt(var + eps);
            for (int i = 0; i < width; i++) {
                double v = (x[r * width + i] - mean) * inv;
                y[r * width + i] = gamma == null ? v : v * gamma[i] + beta[i];
            }
        }
        return y;
    }

    /**
     * Multi-head softmax attention; q, k, v are [tokens, width] with heads side by side.
     *
     * @param keyBias added to the score of each key, or null
     */
    static double[] attention(double[] q, double[] k, double[] v, int tokens, int heads, int width, double[] keyBias) {
        int hd = width / heads;
        double scale = 1 / Math.sqrt(hd);
        double[] out = new double[tokens * width];
        double[] scores = new double[tokens];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < tokens; i++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < tokens; j++) {
                    double s = 0;
                    for (int t = 0; t < hd; t++) {
                        s += q[i * width + h * hd + t] * k[j * width + h * hd + t];
                    }
                    s *= scale;
                    if (keyBias != null) {
                        s += keyBias[j];
                    }
                    scores[j] = s;
                    max = Math.max(max, s);
                }
                double sum = 0;
                for (int j = 0; j < tokens; j++) {
                    scores[j] = Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                for (int j = 0; j < tokens; j++) {
                    double pj = scores[j] / sum;
                    for (int t = 0; t < hd; t++) {
                        out[i * width + h * hd + t] += pj * v[j * width + h * hd + t];
                    }
                }
            }
        }
        return out;
    }

    static double[] silu(double[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i] / (1 + Math.exp(-x[i]));
        }
        return y;
    }

    /** GELU, exact: x Phi(x). */
    static double[] gelu(double[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = 0.5 * x[i] * (1 + erf(x[i] / Math.sqrt(2)));
        }
        return y;
    }

    /**
     * erf by the everywhere-convergent series {@code 2/sqrt(pi) e^{-x^2} sum_n 2^n x^(2n+1) / (2n+1)!!}: all terms
     * positive, so no cancellation; double accuracy for |x| below 6, beyond which erf is 1 in double anyway.
     */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax >= 6) {
            return Math.signum(x);
        }
        double term = ax;
        double sum = ax;
        for (int n = 1; n < 400 && term > 1e-17 * sum; n++) {
            term *= 2 * ax * ax / (2 * n + 1);
            sum += term;
        }
        return Math.signum(x) * 2 / Math.sqrt(Math.PI) * Math.exp(-ax * ax) * sum;
    }

    static double[] add(double[] a, double[] b) {
        double[] y = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            y[i] = a[i] + b[i];
        }
        return y;
    }

    /** x [channels, h, w] convolved with w [out, channels, k, k] and bias, symmetric padding. */
    static double[] conv2d(double[] x, int channels, int h, int w, float[] weight, float[] bias, int out, int k,
                           int stride, int pad) {
        check(weight.length == out * channels * k * k, "conv weight size");
        int oh = (h + 2 * pad - k) / stride + 1;
        int ow = (w + 2 * pad - k) / stride + 1;
        double[] y = new double[out * oh * ow];
        for (int o = 0; o < out; o++) {
            for (int r = 0; r < oh; r++) {
                for (int c = 0; c < ow; c++) {
                    double s = bias[o];
                    for (int ci = 0; ci < channels; ci++) {
                        for (int kr = 0; kr < k; kr++) {
                            int ir = r * stride - pad + kr;
                            if (ir < 0 || ir >= h) {
                                continue;
                            }
                            for (int kc = 0; kc < k; kc++) {
                                int ic = c * stride - pad + kc;
                                if (ic >= 0 && ic < w) {
                                    s += x[(ci * h + ir) * w + ic] * weight[((o * channels + ci) * k + kr) * k + kc];
                                }
                            }
                        }
                    }
                    y[(o * oh + r) * ow + c] = s;
                }
            }
        }
        return y;
    }

    /** GroupNorm over x [channels, pixels]: statistics per group of channels / groups channels. */
    static double[] groupNorm(double[] x, int channels, int pixels, int groups, double eps, float[] gamma,
                              float[] beta) {
        double[] y = new double[x.length];
        int per = channels / groups * pixels;
        for (int gr = 0; gr < groups; gr++) {
            double mean = 0;
            for (int i = 0; i < per; i++) {
                mean += x[gr * per + i];
            }
            mean /= per;
            double var = 0;
            for (int i = 0; i < per; i++) {
                double dv = x[gr * per + i] - mean;
                var += dv * dv;
            }
            var /= per;
            double inv = 1 / Math.sqrt(var + eps);
            for (int i = 0; i < per; i++) {
                int ch = (gr * per + i) / pixels;
                y[gr * per + i] = (x[gr * per + i] - mean) * inv * gamma[ch] + beta[ch];
            }
        }
        return y;
    }

    /** Nearest-neighbour upsampling by 2 of x [channels, h, w]. */
    static double[] upsample2(double[] x, int channels, int h, int w) {
        double[] y = new double[channels * 4 * h * w];
        for (int c = 0; c < channels; c++) {
            for (int r = 0; r < 2 * h; r++) {
                for (int col = 0; col < 2 * w; col++) {
                    y[(c * 2 * h + r) * 2 * w + col] = x[(c * h + r / 2) * w + col / 2];
                }
            }
        }
        return y;
    }

    static double[] toDouble(float[] x, int from, int count) {
        double[] y = new double[count];
        for (int i = 0; i < count; i++) {
            y[i] = x[from + i];
        }
        return y;
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError("reference: unexpected " + what);
        }
    }
}
