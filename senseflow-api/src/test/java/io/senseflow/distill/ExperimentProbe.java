package io.senseflow.distill;

import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.AdamWConfig;
import java.util.List;

/** Manual tuning harness (not a test): mvn -pl senseflow-api test-compile exec... run via the test classpath. */
public final class ExperimentProbe {
    static String perPrompt(List<Tensor> a, List<Tensor> b) {
        StringBuilder per = new StringBuilder();
        for (int q = 0; q < a.size(); q++) {
            per.append(String.format(" %.3f", MixtureExperiment.swd(a.get(q), b.get(q))));
        }
        return per.toString();
    }

    public static void main(String[] args) {
        long t0 = System.nanoTime();
        MixtureExperiment.teacherFit();
        System.out.printf("teacher fit %.1fs%n", (System.nanoTime() - t0) / 1e9);
        List<Tensor> data = MixtureExperiment.dataSamples(11);
        List<Tensor> data2 = MixtureExperiment.dataSamples(12);
        MixtureFlowGenerator teacher = new MixtureFlowGenerator(MixtureExperiment.DATA);
        System.out.printf("floor %.4f%n", MixtureExperiment.swd(data, data2));
        List<Tensor> t50 = MixtureExperiment.samples(teacher, MixtureExperiment.euler(), 50, 1, 3);
        List<Tensor> t4 = MixtureExperiment.samples(teacher, MixtureExperiment.euler(), 4, 1, 3);
        System.out.printf("teacher50 %.4f cov %.2f adh %.3f%n", MixtureExperiment.swd(t50, data), MixtureExperiment.modeCoverage(t50.get(0)), MixtureExperiment.adherence(t50));
        System.out.printf("teacher4  %.4f cov %.2f adh %.3f%n", MixtureExperiment.swd(t4, data), MixtureExperiment.modeCoverage(t4.get(0)), MixtureExperiment.adherence(t4));
        Mlp init = MixtureExperiment.initFromTeacher(null);
        List<Tensor> i50 = MixtureExperiment.samples(new io.senseflow.train.ModuleGenerator(init, new io.senseflow.model.LatentFormat(2, 1, 1)), MixtureExperiment.euler(), 50, 1, 3);
        System.out.printf("mlp-teacher50 %.4f%n", MixtureExperiment.swd(i50, data));
        System.out.printf("mlp-init-4step %.4f%n", MixtureExperiment.swd(MixtureExperiment.studentSamples(init, 3), data));
        int iters = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        double lr = args.length > 1 ? Double.parseDouble(args[1]) : 1e-3;
        double wgan = args.length > 2 ? Double.parseDouble(args[2]) : 0.1;
        double lrF = args.length > 3 ? Double.parseDouble(args[3]) : lr;
        int batch = args.length > 4 ? Integer.parseInt(args[4]) : 128;
        double emaDecay = args.length > 5 ? Double.parseDouble(args[5]) : 0;
        String only = args.length > 6 ? args[6] : "";
        boolean cosine = args.length > 7 && args[7].equals("cos");
        int ttur = args.length > 8 ? Integer.parseInt(args[8]) : 5;
        int width = args.length > 9 ? Integer.parseInt(args[9]) : 64;
        double clip = args.length > 10 ? Double.parseDouble(args[10]) : 1.0;
        double dmdW = args.length > 11 ? Double.parseDouble(args[11]) : 1.0;
        double isgW = args.length > 12 ? Double.parseDouble(args[12]) : 1.0;
        for (Recipe r : Recipe.values()) {
            if (!only.isEmpty() && !only.contains(r.id())) {
                continue;
            }
            long s0 = System.nanoTime();
            DistillationConfig cfg = DistillationConfig.preset(r, Family.CUSTOM).toBuilder().batchSize(batch).emaDecay(emaDecay).iterations(iters)
                    .anchors(MixtureExperiment.ANCHORS).optimizers(AdamWConfig.constant(lr)).ttur(ttur).generatorOptimizer(cosine
                    ? AdamWConfig.constant(lr).withLearningRate(io.senseflow.train.LearningRateSchedule.cosine(lr, 0, iters / ttur, lr / 30))
                    : AdamWConfig.constant(lr)).fakeScoreOptimizer(AdamWConfig.constant(lrF)).seed(5)
                    .gan(new DistillationConfig.Gan(r.gan(), new GanWeighting(GanWeighting.Omega.ONE_MINUS_SIGMA_SQUARED, wgan))).build();
            cfg = cfg.toBuilder().generatorOptimizer(cfg.generatorOptimizer().withClipNorm(clip))
                    .dmd(new DistillationConfig.Dmd(true, dmdW, cfg.dmd().noiseLevels(), cfg.dmd().guidance()))
                    .isg(new DistillationConfig.Isg(cfg.isg().enabled(), isgW, cfg.isg().grid(), cfg.isg().margin(), cfg.isg().guidance(), cfg.isg().distance()))
                    .build();
            Mlp g = MixtureExperiment.initFromTeacher(cfg.generatorOptimizer());
            Mlp f = MixtureExperiment.initFromTeacher(cfg.fakeScoreOptimizer());
            Mlp d = r.gan() ? new Mlp(MlpSpec.discriminator(2, 8, 64, 2), 9, cfg.discriminatorOptimizer()) : null;
            Mlp ema = emaDecay > 0 ? MixtureExperiment.initFromTeacher(null) : null;
            Distiller dist = Distiller.builder().config(cfg).teacher(teacher).generator(g).fakeScore(f).discriminator(d).ema(ema == null ? null : ema.parameters())
                    .dataset(MixtureExperiment.dataset(5)).promptEncoder(MixtureExperiment.PROMPTS).build();
            for (int k = 0; k < iters; k += iters / 4) {
                IterationMetrics m = dist.runUntil(k + iters / 4, CancellationToken.none());
                List<Tensor> st = MixtureExperiment.studentSamples(ema != null ? ema : g, 3);
                System.out.printf("%-12s it %5d swd %.4f cov %.2f adh %.3f losses %s%n", r.id(), k + iters / 4,
                        MixtureExperiment.swd(st, data), MixtureExperiment.modeCoverage(st.get(0)), MixtureExperiment.adherence(st), m.losses());
            }
            List<Tensor> fin = MixtureExperiment.studentSamples(ema != null ? ema : g, 3);
            StringBuilder per = new StringBuilder();
            for (int q = 0; q < fin.size(); q++) {
                per.append(String.format(" %.3f", MixtureExperiment.swd(fin.get(q), data.get(q))));
            }
            System.out.println("per-prompt swd" + per + " | teacher50" + perPrompt(t50, data));
            System.out.printf("%s took %.1fs%n", r.id(), (System.nanoTime() - s0) / 1e9);
        }
    }
}
