package io.senseflow;

/** A NaN or infinity appeared where the run cannot continue; the message names the stage, step and tensor. */
public class NumericalException extends SenseFlowException {
    private static final long serialVersionUID = 1L;

    public NumericalException(String message) {
        super(message);
    }
}
