package io.senseflow.onnx.runtime;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * Lets any number of threads use a native resource at once and closes it only when none is using it: users hold the
 * read lock, {@link #close} takes the write lock. Use after close throws {@link IllegalStateException}; closing twice
 * does nothing.
 */
final class CloseGuard {
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final String what;
    private volatile boolean closed;

    CloseGuard(String what) {
        this.what = what;
    }

    <T> T use(Supplier<T> body) {
        lock.readLock().lock();
        try {
            checkOpen();
            return body.get();
        } finally {
            lock.readLock().unlock();
        }
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException(what + " is closed");
        }
    }

    boolean isClosed() {
        return closed;
    }

    /** @param release frees the resource; runs at most once, after every user has left */
    void close(Runnable release) {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            release.run();
        } finally {
            lock.writeLock().unlock();
        }
    }
}
