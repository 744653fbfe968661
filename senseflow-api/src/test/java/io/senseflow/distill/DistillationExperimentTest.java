package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.LearningRateSchedule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The 2-D distillation experiment of issue "distillation engine": each preset distils the exact velocity field
 * of an 8-mode conditional Gaussian mixture into a 4-step generator; the students are compared with the teacher's
 * own 50- and 4-step Euler samples by sliced Wasserstein distance (SWD) to exact data samples. The table it
 * prints (and writes to target/distillation-experiment.md) is the one in docs/distillation.md.
 */
class DistillationExperimentTest {
    static final int BATCH = 128;
    static final long SEED = 5;

    record Row(String name, double swd, double coverage, double adherence, int nfe, double seconds) {
    }

    static DistillationConfig config(Recipe recipe, TeacherGuidance guidance, int iterations) {
        double lr = 1e-3;
        return DistillationConfig.preset(recipe, Family.CUSTOM).toBuilder()
                .seed(SEED).batchSize(BATCH).iterations(iterations).anchors(MixtureExperiment.ANCHORS)
                .optimizers(AdamWConfig.constant(lr))
                .generatorOptimizer(AdamWConfig.constant(lr).withLearningRate(
                        LearningRateSchedule.cosine(lr, 0, iterations / 5, lr / 30)))
                .dmd(new DistillationConfig.Dmd(true, 1, new TimestepSpec.TableIndex(1, 20, 980), guidance))
                .isg(new DistillationConfig.Isg(recipe.isg(), 1, new GridSpec.Linear(1000), 20, guidance,
                        SegmentDistance.pseudoHuber()))
                .gan(new DistillationConfig.Gan(recipe.gan(), new GanWeighting(GanWeighting.Omega.ONE_MINUS_SIGMA_SQUARED, 1.0)))
                .build();
    }

    /** Distils one student and returns it. */
    static Mlp distil(DistillationConfig cfg) {
        Mlp g = MixtureExperiment.initFromTeacher(cfg.generatorOptimizer());
        Mlp f = MixtureExperiment.initFromTeacher(cfg.fakeScoreOptimizer());
        Mlp d = cfg.gan().enabled() ? new Mlp(MlpSpec.discriminator(2, 8, 64, 2), 9, cfg.discriminatorOptimizer()) : null;
        Distiller distiller = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(g).fakeScore(f).discriminator(d).dataset(MixtureExperiment.dataset(SEED))
                .promptEncoder(MixtureExperiment.PROMPTS).build();
        distiller.run(CancellationToken.none());
        return g;
    }

    static Row row(String name, List<Tensor> samples, List<Tensor> reference, int nfe, double seconds) {
        return new Row(name, MixtureExperiment.swd(samples, reference), MixtureExperiment.modeCoverage(samples.get(0)),
                MixtureExperiment.adherence(samples), nfe, seconds);
    }

    /** What one experiment measured. */
    record Result(List<Row> rows, Map<String, Row> students, Row teacher50, Row teacher4, Row guidedStudent,
            Row guidedInit, Row guidedTeacher4, String table) {
    }

    /**
     * The CI-sized experiment: every preset at 1,200 iterations (guided run 800), about 40 s on two idle cores.
     * The paper-sized bound (within 1.5x of the teacher's 50-step distance) needs a longer run: see
     * {@link #fullExperiment()}.
     */
    @Test
    void everyPresetDistilsTheMixtureAndSenseFlowBeatsTheBaselines() throws Exception {
        Result r = run(Integer.getInteger("experiment.iterations", 1200), Integer.getInteger("experiment.guidedIterations", 800));
        Row sense = r.students().get("senseflow");
        assertThat(sense.coverage()).as("senseflow covers all 8 modes").isEqualTo(1.0);
        assertThat(sense.swd()).as("senseflow beats the teacher's own 4-step Euler").isLessThan(r.teacher4().swd());
        assertThat(sense.swd()).as("senseflow beats vanilla DMD").isLessThan(r.students().get("vanilla-dmd").swd());
        assertThat(sense.swd()).as("senseflow within 2x of the teacher's 50-step SWD at CI length")
                .isLessThanOrEqualTo(2.0 * r.teacher50().swd());
        assertThat(r.guidedStudent().swd()).as("the guided run moved the student towards the guided teacher")
                .isLessThan(r.guidedInit().swd());
        for (Row row : r.students().values()) {
            assertThat(row.swd()).as(row.name()).isFinite();
        }
    }

    /**
     * The full experiment behind the table in docs/distillation.md: 4,000 iterations (guided 2,000), a few minutes
     * on two cores, so it is tagged out of the default build. Run it with
     * {@code mvn -pl senseflow-api test -Dtest=DistillationExperimentTest#fullExperiment -Dexcluded.groups= -Dgroups=experiment}.
     */
    @Test
    @Tag("experiment")
    void fullExperiment() throws Exception {
        Result r = run(Integer.getInteger("experiment.iterations", 4000), Integer.getInteger("experiment.guidedIterations", 2000));
        Row sense = r.students().get("senseflow");
        assertThat(sense.swd()).as("senseflow SWD vs 1.5x teacher-50 SWD").isLessThanOrEqualTo(1.5 * r.teacher50().swd());
        assertThat(sense.coverage()).isEqualTo(1.0);
        assertThat(sense.swd()).isLessThan(r.teacher4().swd());
    }

    /**
     * The guided run alone (docs/distillation.md, "The guided run"): does distilling the w = 3 teacher reach the
     * guided teacher's own 4-step Euler? Arms, one at a time on one thread: the documented run (senseflow, 2,000
     * iterations), the same recipe at 8,000, without the GAN term (whose real samples are the unguided data) at 8,000,
     * and with the DMD real score unguided (ISG's teacher step keeps w = 3) at 8,000. Each student is measured
     * against the guided teacher's 50-step samples and against the conditional data. Writes
     * target/distillation-guided.md; the assertion is the one the CI-sized run makes (the student moves towards the
     * guided teacher), the comparison with the 4-step Euler is the table's.
     */
    @Test
    @Tag("experiment")
    void guidedExperiment() throws Exception {
        int longRun = Integer.getInteger("experiment.guidedLong", 8000);
        TeacherGuidance w3 = new TeacherGuidance.Cfg(3, 3);
        Map<String, DistillationConfig> arms = new LinkedHashMap<>();
        arms.put("senseflow, 2,000 iterations", config(Recipe.SENSEFLOW, w3, 2000));
        arms.put("senseflow, " + longRun + " iterations", config(Recipe.SENSEFLOW, w3, longRun));
        arms.put("dmd+ida+isg (no GAN), " + longRun + " iterations", config(Recipe.DMD_IDA_ISG, w3, longRun));
        DistillationConfig unguidedDmd = config(Recipe.SENSEFLOW, w3, longRun);
        arms.put("senseflow, DMD real score w = 1 (ISG w = 3), " + longRun + " iterations", unguidedDmd.toBuilder()
                .dmd(new DistillationConfig.Dmd(true, 1, unguidedDmd.dmd().noiseLevels(), new TeacherGuidance.None()))
                .build());
        MixtureExperiment.teacherFit();
        MixtureFlowGenerator teacher = new MixtureFlowGenerator(MixtureExperiment.DATA);
        List<Tensor> data = MixtureExperiment.dataSamples(11);
        List<Tensor> g50 = MixtureExperiment.samples(teacher, MixtureExperiment.euler(), 50, 3, 3);
        StringBuilder sb = new StringBuilder("| run | SWD to guided teacher-50 | SWD to data | prompt adherence | NFE | distillation time (s) |\n"
                + "| --- | --- | --- | --- | --- | --- |\n");
        java.util.function.BiConsumer<String, Object[]> line = (name, r) -> {
            @SuppressWarnings("unchecked")
            List<Tensor> x = (List<Tensor>) r[0];
            sb.append(String.format(Locale.ROOT, "| %s | %.4f | %.4f | %.1f%% | %d | %s |%n", name,
                    MixtureExperiment.swd(x, g50), MixtureExperiment.swd(x, data),
                    100 * MixtureExperiment.adherence(x), (int) r[1], r[2] == null ? "" : String.format(Locale.ROOT, "%.1f", (double) r[2])));
        };
        line.accept("guided teacher, 50-step Euler, other seed", new Object[] {
            MixtureExperiment.samples(teacher, MixtureExperiment.euler(), 50, 3, 4), 100, null});
        List<Tensor> t4 = MixtureExperiment.samples(teacher, MixtureExperiment.euler(), 4, 3, 3);
        line.accept("guided teacher, 4-step Euler", new Object[] {t4, 8, null});
        line.accept("unguided teacher, 50-step Euler", new Object[] {
            MixtureExperiment.samples(teacher, MixtureExperiment.euler(), 50, 1, 3), 50, null});
        List<Tensor> init = MixtureExperiment.studentSamples(MixtureExperiment.initFromTeacher(null), 3);
        line.accept("G at initialisation (unguided teacher fit)", new Object[] {init, 4, null});
        double initSwd = MixtureExperiment.swd(init, g50);
        double best = Double.POSITIVE_INFINITY;
        for (Map.Entry<String, DistillationConfig> arm : arms.entrySet()) {
            Object[] res = timed(() -> distil(arm.getValue()));
            List<Tensor> x = MixtureExperiment.studentSamples((Mlp) res[0], 3);
            best = Math.min(best, MixtureExperiment.swd(x, g50));
            line.accept("student: " + arm.getKey(), new Object[] {x, 4, res[1]});
            System.out.println(sb);
        }
        sb.append(String.format(Locale.ROOT, "%nBatch %d, seed %d, %d samples per prompt x %d prompts, %d projections;"
                + " guided teacher 4-step Euler at %.4f.%n", BATCH, SEED, MixtureExperiment.EVAL_SAMPLES,
                MixtureExperiment.PROMPT_SET.size(), MixtureExperiment.PROJECTIONS, MixtureExperiment.swd(t4, g50)));
        System.out.println(sb);
        Path out = Path.of("target", "distillation-guided.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, sb.toString());
        assertThat(best).as("the best guided student moved towards the guided teacher").isLessThan(initSwd);
    }

    static Result run(int iterations, int guidedIterations) throws Exception {
        long start = System.nanoTime();
        MixtureExperiment.teacherFit(); // shared initialisation of G and F, as real G and F start from the teacher
        double fitSeconds = (System.nanoTime() - start) / 1e9;
        MixtureFlowGenerator teacher = new MixtureFlowGenerator(MixtureExperiment.DATA);
        List<Tensor> data = MixtureExperiment.dataSamples(11);
        List<Tensor> data2 = MixtureExperiment.dataSamples(12);

        Map<String, Future<Object[]>> runs = new LinkedHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (Recipe r : new Recipe[] {Recipe.SENSEFLOW, Recipe.DMD_IDA_ISG, Recipe.DMD_IDA, Recipe.VANILLA_DMD}) {
                runs.put(r.id(), pool.submit(() -> timed(() -> distil(config(r, new TeacherGuidance.None(), iterations)))));
            }
            runs.put("guided", pool.submit(() -> timed(() -> distil(config(Recipe.SENSEFLOW,
                    new TeacherGuidance.Cfg(3, 3), guidedIterations)))));

            List<Row> rows = new ArrayList<>();
            rows.add(new Row("data vs data (floor)", MixtureExperiment.swd(data2, data), 1, MixtureExperiment.adherence(data2), 0, 0));
            Row t50 = row("teacher, 50-step Euler", MixtureExperiment.samples(teacher, MixtureExperiment.euler(), 50, 1, 3), data, 50, 0);
            Row t4 = row("teacher, 4-step Euler", MixtureExperiment.samples(teacher, MixtureExperiment.euler(), 4, 1, 3), data, 4, 0);
            rows.add(t50);
            rows.add(t4);
            Mlp init = MixtureExperiment.initFromTeacher(null);
            rows.add(row("G at initialisation (teacher fit), 4 steps", MixtureExperiment.studentSamples(init, 3), data, 4, 0));
            Map<String, Row> students = new LinkedHashMap<>();
            for (Recipe r : Recipe.values()) {
                Object[] res = runs.get(r.id()).get();
                Row row = row("student " + r.id() + ", 4 steps", MixtureExperiment.studentSamples((Mlp) res[0], 3), data,
                        4, (double) res[1]);
                students.put(r.id(), row);
                rows.add(row);
            }
            // guided: the target is the guided teacher's distribution, measured against its own 50-step samples
            List<Tensor> g50 = MixtureExperiment.samples(teacher, MixtureExperiment.euler(), 50, 3, 3);
            Row guidedFloor = row("guided w=3: teacher 50-step, other seed", MixtureExperiment.samples(teacher,
                    MixtureExperiment.euler(), 50, 3, 4), g50, 100, 0);
            Row guidedT4 = row("guided w=3: teacher 4-step Euler", MixtureExperiment.samples(teacher,
                    MixtureExperiment.euler(), 4, 3, 3), g50, 8, 0);
            Row guidedInit = row("guided w=3: G at initialisation", MixtureExperiment.studentSamples(init, 3), g50, 4, 0);
            Object[] guided = runs.get("guided").get();
            Row guidedRow = row("guided w=3: student senseflow", MixtureExperiment.studentSamples((Mlp) guided[0], 3),
                    g50, 4, (double) guided[1]);
            rows.add(guidedFloor);
            rows.add(guidedT4);
            rows.add(guidedInit);
            rows.add(guidedRow);

            String table = table(rows, iterations, guidedIterations, fitSeconds, (System.nanoTime() - start) / 1e9);
            System.out.println(table);
            Path out = Path.of("target", "distillation-experiment-" + iterations + ".md");
            Files.createDirectories(out.getParent());
            Files.writeString(out, table);
            return new Result(rows, students, t50, t4, guidedRow, guidedInit, guidedT4, table);
        } finally {
            pool.shutdownNow();
        }
    }

    private static Object[] timed(java.util.function.Supplier<Mlp> run) {
        long t0 = System.nanoTime();
        Mlp m = run.get();
        return new Object[] {m, (System.nanoTime() - t0) / 1e9};
    }

    private static String table(List<Row> rows, int iterations, int guidedIterations, double fitSeconds, double totalSeconds) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "| run | SWD to target | modes covered | prompt adherence | NFE | distillation time (s) |%n"));
        sb.append("| --- | --- | --- | --- | --- | --- |\n");
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %.4f | %.0f%% | %.1f%% | %d | %s |%n", r.name(), r.swd(),
                    100 * r.coverage(), 100 * r.adherence(), r.nfe(), r.seconds() > 0 ? String.format(Locale.ROOT, "%.1f", r.seconds()) : ""));
        }
        sb.append(String.format(Locale.ROOT, "%n%d iterations (guided run %d), batch %d, %d samples per prompt x %d prompts, %d projections;"
                + " teacher fit %.1f s; whole test %.1f s.%n", iterations, guidedIterations, BATCH, MixtureExperiment.EVAL_SAMPLES,
                MixtureExperiment.PROMPT_SET.size(), MixtureExperiment.PROJECTIONS, fitSeconds, totalSeconds));
        return sb.toString();
    }
}
