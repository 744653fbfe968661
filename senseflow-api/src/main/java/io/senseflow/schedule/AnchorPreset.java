package io.senseflow.schedule;

/**
 * The few-step anchors released SenseFlow generators were trained on (docs/algorithm.md §2, K = 4). Literal values,
 * not re-derived per resolution.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum AnchorPreset {
    /** SD3.5 Large/Medium: [1, 0.9, 0.75, 0.5]. */
    SD35(1, 0.9, 0.75, 0.5),
    /** FLUX.1-dev: [1, 0.904, 0.759, 0.512] (the 1024-pixel values). */
    FLUX(1, 0.904, 0.759, 0.512),
    /** SDXL: DDPM t = [999, 749, 499, 249], mapped into the flow convention. */
    SDXL(sdxlAnchors());

    private final double[] anchors;

    AnchorPreset(double... anchors) {
        this.anchors = anchors;
    }

    /** @return the anchors as flow noise levels, descending */
    public double[] anchors() {
        return anchors.clone();
    }

    /** @return the DDPM timesteps of the SDXL preset */
    public static int[] sdxlTimesteps() {
        return new int[] {999, 749, 499, 249};
    }

    private static double[] sdxlAnchors() {
        DdpmSchedule ddpm = DdpmSchedule.stableDiffusion();
        int[] t = sdxlTimesteps();
        double[] s = new double[t.length];
        for (int i = 0; i < t.length; i++) {
            s[i] = ddpm.flowSigma(t[i]);
        }
        return s;
    }
}
