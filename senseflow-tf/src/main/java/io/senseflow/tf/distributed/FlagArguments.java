package io.senseflow.tf.distributed;

import io.senseflow.InvalidRequestException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The launcher's and the worker's command lines: {@code --flag value} pairs, then optionally {@code --} and the job's
 * own arguments.
 *
 * @param flags the flags by name (without {@code --}), in order
 * @param job the arguments after {@code --}
 */
record FlagArguments(Map<String, String> flags, List<String> job) {
    /**
     * @param args the command line
     * @param what what the arguments are, for the error ("launcher argument", "worker argument")
     * @return the flags and the job's arguments
     * @throws InvalidRequestException naming an argument that is not a flag followed by a value
     */
    static FlagArguments parse(String[] args, String what) {
        Map<String, String> flags = new LinkedHashMap<>();
        List<String> job = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--")) {
                job.addAll(List.of(args).subList(i + 1, args.length));
                break;
            }
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw InvalidRequestException.of(what + " " + args[i], "--flag value", "no value");
            }
            flags.put(args[i].substring(2), args[++i]);
        }
        return new FlagArguments(flags, job);
    }
}
