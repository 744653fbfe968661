package io.senseflow.tf.distributed;

import io.senseflow.distill.DataShard;
import io.senseflow.distill.Distiller;
import io.senseflow.train.GradientReducer;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Objects;

/**
 * What a {@link DataParallelJob} gets in a worker: which shard it computes, the reducer to give its distiller, and
 * the run's job arguments. Closes what the job registers with {@link #own}, in reverse order.
 */
public final class WorkerContext implements AutoCloseable {
    private final DataShard shard;
    private final GradientReducer reducer;
    private final List<String> arguments;
    private final Deque<AutoCloseable> owned = new ArrayDeque<>();

    /**
     * @param shard this worker's shard
     * @param reducer the gradient reducer ({@link GradientReducer#none()} in a one-process run)
     * @param arguments the job's arguments, the same on every worker
     */
    public WorkerContext(DataShard shard, GradientReducer reducer, List<String> arguments) {
        this.shard = Objects.requireNonNull(shard);
        this.reducer = Objects.requireNonNull(reducer);
        this.arguments = List.copyOf(arguments);
    }

    /** @return this worker's shard */
    public DataShard shard() {
        return shard;
    }

    /** @return the reducer */
    public GradientReducer reducer() {
        return reducer;
    }

    /** @return the job's arguments */
    public List<String> arguments() {
        return arguments;
    }

    /**
     * @param builder a distiller builder
     * @return it, made this worker of the run ({@link Distiller.Builder#dataParallel})
     */
    public Distiller.Builder dataParallel(Distiller.Builder builder) {
        return builder.dataParallel(shard, reducer);
    }

    /**
     * @param resource closed when the worker ends
     * @param <T> its type
     * @return it
     */
    public <T extends AutoCloseable> T own(T resource) {
        owned.push(Objects.requireNonNull(resource));
        return resource;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        while (!owned.isEmpty()) {
            try {
                owned.pop().close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException r ? r : new RuntimeException(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
