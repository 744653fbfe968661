package io.senseflow.examples.cli;

/**
 * How to name the {@code senseflow} command in printed hints ("try it: ..."): the path the launcher script was
 * started with (it passes {@code -Dsenseflow.launcher="$0"}), else the launcher's place in a built checkout.
 */
final class Launcher {
    /** System property the launcher sets to the path it was invoked as. */
    static final String PROPERTY = "senseflow.launcher";
    /** Where {@code mvn package} leaves the launcher, relative to the repository root. */
    static final String BUILT = "senseflow-examples/target/senseflow/bin/senseflow";

    private Launcher() {
    }

    /** @return the command to type, e.g. {@code senseflow-examples/target/senseflow/bin/senseflow} */
    static String command() {
        String invoked = System.getProperty(PROPERTY);
        return invoked == null || invoked.isBlank() ? BUILT : invoked;
    }
}
