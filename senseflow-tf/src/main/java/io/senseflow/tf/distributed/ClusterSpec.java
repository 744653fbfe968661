package io.senseflow.tf.distributed;

import io.senseflow.InvalidRequestException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * The workers of a data-parallel run: one {@code host:port} per worker, in task order (task 0 is the group leader
 * and the worker that writes checkpoints). Every worker is started with the same list.
 *
 * @param addresses {@code host:port} of each task
 */
public record ClusterSpec(List<String> addresses) {

    /** Checks the addresses. */
    public ClusterSpec {
        addresses = List.copyOf(addresses);
        if (addresses.isEmpty()) {
            throw InvalidRequestException.of("cluster", "at least one host:port", "none");
        }
        for (String a : addresses) {
            int colon = a.lastIndexOf(':');
            boolean ok = colon > 0 && colon < a.length() - 1;
            if (ok) {
                try {
                    int port = Integer.parseInt(a.substring(colon + 1));
                    ok = port > 0 && port < 65536;
                } catch (NumberFormatException e) {
                    ok = false;
                }
            }
            if (!ok) {
                throw InvalidRequestException.of("cluster address", "host:port with a port in 1..65535", a);
            }
        }
        if (addresses.stream().distinct().count() != addresses.size()) {
            throw InvalidRequestException.of("cluster", "distinct host:port addresses", String.join(",", addresses));
        }
    }

    /**
     * @param commaSeparated e.g. {@code "10.0.0.1:2222,10.0.0.2:2222"}
     * @return the spec
     */
    public static ClusterSpec parse(String commaSeparated) {
        List<String> out = new ArrayList<>();
        for (String part : commaSeparated.split(",")) {
            if (!part.isBlank()) {
                out.add(part.trim());
            }
        }
        return new ClusterSpec(out);
    }

    /**
     * Picks {@code n} free loopback ports (by binding and releasing them; another process could still take one
     * before the workers bind, in which case the run fails at start and can be retried).
     *
     * @param n workers
     * @return {@code 127.0.0.1:port} for each
     */
    public static ClusterSpec loopback(int n) {
        if (n < 1) {
            throw InvalidRequestException.of("workers", "at least 1", n);
        }
        List<ServerSocket> held = new ArrayList<>();
        List<String> out = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                held.add(s);
                out.add("127.0.0.1:" + s.getLocalPort());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("no free loopback port", e);
        } finally {
            for (ServerSocket s : held) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // released either way
                }
            }
        }
        return new ClusterSpec(out);
    }

    /** @return the number of workers */
    public int size() {
        return addresses.size();
    }

    /** @param task a task index @return its {@code host:port} */
    public String address(int task) {
        if (task < 0 || task >= addresses.size()) {
            throw InvalidRequestException.of("task", "0.." + (addresses.size() - 1), task);
        }
        return addresses.get(task);
    }

    /** @return the comma-separated form {@link #parse} reads */
    @Override
    public String toString() {
        return String.join(",", addresses);
    }
}
