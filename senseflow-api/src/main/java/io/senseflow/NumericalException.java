package io.senseflow;

import java.util.Optional;

/**
 * A NaN or infinity appeared where the run cannot continue. The message names the stage, the step or iteration and
 * the tensor; exceptions made with {@link #nonFinite} also carry them as fields, for callers that react by stage.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public class NumericalException extends SenseFlowException {
    private static final long serialVersionUID = 1L;

    private final String stage;
    private final String position;
    private final String tensor;

    public NumericalException(String message) {
        super(message);
        this.stage = null;
        this.position = null;
        this.tensor = null;
    }

    private NumericalException(String stage, String position, String tensor, String problem) {
        super(stage + ", " + position + ": " + tensor + " " + problem);
        this.stage = stage;
        this.position = position;
        this.tensor = tensor;
    }

    /**
     * @param stage where in the run, such as {@code "generation: denoise"} or {@code "distillation: fake score update"}
     * @param position the step or iteration, such as {@code "step 2 of 4 (sigma 0.75)"} or {@code "iteration 17"}
     * @param tensor the value that is not finite, such as {@code "generator output 'velocity'"}
     * @param problem what is wrong with it, such as {@code "has 3 NaN/Inf of 64 values"}
     * @return the exception, for {@code throw}
     */
    public static NumericalException nonFinite(String stage, String position, String tensor, String problem) {
        return new NumericalException(stage, position, tensor, problem);
    }

    /** @return the stage, when the exception was made with {@link #nonFinite} */
    public Optional<String> stage() {
        return Optional.ofNullable(stage);
    }

    /** @return the step or iteration, when the exception was made with {@link #nonFinite} */
    public Optional<String> position() {
        return Optional.ofNullable(position);
    }

    /** @return the tensor's name, when the exception was made with {@link #nonFinite} */
    public Optional<String> tensor() {
        return Optional.ofNullable(tensor);
    }
}
