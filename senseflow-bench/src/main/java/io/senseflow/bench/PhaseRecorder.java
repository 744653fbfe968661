package io.senseflow.bench;

import io.senseflow.distill.DistillationObjective;
import io.senseflow.distill.GeneratorContext;
import io.senseflow.distill.ObjectiveTerm;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Optimizer;
import io.senseflow.train.OptimizerState;
import io.senseflow.train.ParameterStore;
import io.senseflow.train.Upstream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Attributes a distillation iteration's time to the networks it calls, by objective: thin timing wrappers around the
 * teacher, the generator and fake-score modules, their optimizers and the objectives. A call is booked under
 * {@code "<objective>/<what>"} while an objective is evaluating (e.g. {@code isg/teacher}) and under {@code "/<what>"}
 * otherwise (e.g. {@code /fake_score.backward}, the fake score's own update). The {@code Distiller}'s own phase
 * timings give the rest. Parameter stores are handed through unwrapped, so IDA still blends in-graph.
 *
 * <p>Single-threaded, like the distiller it watches.
 */
final class PhaseRecorder {
    private final Map<String, Long> nanos = new LinkedHashMap<>();
    private String context = "";

    /** @return the time booked per key since the last {@link #reset()}, in nanoseconds */
    Map<String, Long> nanos() {
        return new LinkedHashMap<>(nanos);
    }

    void reset() {
        nanos.clear();
    }

    private <T> T time(String what, Supplier<T> body) {
        long t0 = System.nanoTime();
        try {
            return body.get();
        } finally {
            nanos.merge(context + "/" + what, System.nanoTime() - t0, Long::sum);
        }
    }

    private void time(String what, Runnable body) {
        time(what, () -> {
            body.run();
            return null;
        });
    }

    /** @param o an objective @return it, with the calls it makes booked under its name */
    DistillationObjective objective(DistillationObjective o) {
        return new DistillationObjective() {
            @Override
            public String name() {
                return o.name();
            }

            @Override
            public ObjectiveTerm evaluate(GeneratorContext ctx) {
                String outer = context;
                context = o.name();
                try {
                    return o.evaluate(ctx);
                } finally {
                    context = outer;
                }
            }
        };
    }

    /** @param teacher the frozen teacher @return it, timed as {@code teacher} */
    Generator teacher(Generator teacher) {
        return new Generator() {
            @Override
            public Tensor predict(Tensor x, float[] sigmas, Conditioning conditioning) {
                return time("teacher", () -> teacher.predict(x, sigmas, conditioning));
            }

            @Override
            public Tensor velocity(Tensor x, float[] sigmas, Conditioning conditioning) {
                return time("teacher", () -> teacher.velocity(x, sigmas, conditioning));
            }

            @Override
            public Tensor pureNoiseState(Tensor noise, double sigma) {
                return teacher.pureNoiseState(noise, sigma);
            }

            @Override
            public Parameterization parameterization() {
                return teacher.parameterization();
            }

            @Override
            public LatentFormat latentFormat() {
                return teacher.latentFormat();
            }
        };
    }

    /**
     * @param name the module's name in the keys ({@code generator}, {@code fake_score})
     * @param m a trainable module
     * @return it, with forward, backward and the optimizer's calls timed
     */
    DifferentiableModule module(String name, DifferentiableModule m) {
        Optimizer opt = m.optimizer();
        Optimizer timedOptimizer = opt == null ? null : new Optimizer() {
            @Override
            public void zeroGradients() {
                time(name + ".optimizer", opt::zeroGradients);
            }

            @Override
            public Tensor gradient(String parameter) {
                return opt.gradient(parameter);
            }

            @Override
            public double gradientNorm() {
                return time(name + ".optimizer", opt::gradientNorm);
            }

            @Override
            public double clipGradientNorm(double maxNorm) {
                return time(name + ".optimizer", () -> opt.clipGradientNorm(maxNorm));
            }

            @Override
            public void step() {
                time(name + ".optimizer", opt::step);
            }

            @Override
            public long stepCount() {
                return opt.stepCount();
            }

            @Override
            public double learningRate() {
                return opt.learningRate();
            }

            @Override
            public OptimizerState state() {
                return opt.state();
            }

            @Override
            public void restore(OptimizerState state) {
                opt.restore(state);
            }
        };
        return new DifferentiableModule() {
            @Override
            public Tensor forward(ModuleInputs inputs) {
                return time(name + ".forward", () -> m.forward(inputs));
            }

            @Override
            public BackwardResult backward(ModuleInputs inputs, Upstream upstream, GradientMode mode) {
                return time(name + ".backward", () -> m.backward(inputs, upstream, mode));
            }

            @Override
            public ParameterStore parameters() {
                return m.parameters();
            }

            @Override
            public Optimizer optimizer() {
                return timedOptimizer;
            }

            @Override
            public void close() {
                // the caller closes the module it wrapped
            }
        };
    }
}
