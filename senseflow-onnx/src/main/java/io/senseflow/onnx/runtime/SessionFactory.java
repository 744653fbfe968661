package io.senseflow.onnx.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.providers.OrtCUDAProviderOptions;
import io.senseflow.ModelLoadException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates ONNX Runtime sessions for a {@link SessionConfig}, falling back from CUDA to CPU. */
final class SessionFactory {
    private static final Logger LOG = LoggerFactory.getLogger(SessionFactory.class);
    /** Configurations whose CUDA fallback was already reported in this process (plain values, nothing native). */
    private static final Set<SessionConfig> WARNED = ConcurrentHashMap.newKeySet();

    /** ONNX Runtime's session config key: whether idle intra-op workers spin at all. */
    static final String ALLOW_SPINNING = "session.intra_op.allow_spinning";
    /** ONNX Runtime's session config key: stop the workers' spinning when the last concurrent run returns. */
    static final String FORCE_SPINNING_STOP = "session.force_spinning_stop";

    private SessionFactory() {
    }

    /** Where the model comes from: a file ONNX Runtime reads itself, or serialized bytes. */
    interface Source {
        OrtSession open(OrtEnvironment env, SessionOptions options) throws OrtException;
    }

    /** Extra per-session setup (external initializers, config entries), applied before the provider is added. */
    interface Customizer {
        void apply(SessionOptions options) throws OrtException;
    }

    /** A created session with the options it must outlive. */
    record Created(OrtSession session, SessionOptions options, ExecutionInfo info) {
    }

    static Created create(OrtEnvironment env, String name, Source source, SessionConfig config, Customizer customizer) {
        String cudaFailure = null;
        if (config.executionProvider() == ExecutionProvider.CUDA) {
            SessionOptions options = null;
            try {
                options = baseOptions(config, customizer);
                try (OrtCUDAProviderOptions cuda = cudaOptions(config)) {
                    options.addCUDA(cuda);
                    OrtSession session = source.open(env, options);
                    return new Created(session, options, new ExecutionInfo(ExecutionProvider.CUDA, ExecutionProvider.CUDA, null));
                }
            } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
                // the GPU artifact reports CUDA as available even when its libraries cannot load: try, then fall back
                cudaFailure = e.getClass().getSimpleName() + ": " + firstLine(e.getMessage());
                if (options != null) {
                    options.close();
                }
            }
        }
        SessionOptions options = null;
        try {
            options = baseOptions(config, customizer);
            OrtSession session = source.open(env, options);
            if (cudaFailure != null) {
                reportFallback(name, config, cudaFailure);
            }
            return new Created(session, options, new ExecutionInfo(config.executionProvider(), ExecutionProvider.CPU, cudaFailure));
        } catch (OrtException | RuntimeException e) {
            if (options != null) {
                options.close();
            }
            if (e instanceof ModelLoadException m) {
                throw m;
            }
            throw new ModelLoadException("ONNX Runtime cannot load " + name + ": " + e.getMessage(), e);
        }
    }

    private static SessionOptions baseOptions(SessionConfig config, Customizer customizer) throws OrtException {
        SessionOptions options = new SessionOptions();
        try {
            options.setOptimizationLevel(config.optimizationLevel().ort());
            if (config.intraOpThreads() > 0) {
                options.setIntraOpNumThreads(config.intraOpThreads());
            }
            if (config.interOpThreads() > 0) {
                options.setInterOpNumThreads(config.interOpThreads());
            }
            if (config.deterministicCompute()) {
                options.setDeterministicCompute(true);
            }
            if (!config.allowSpinning()) {
                options.addConfigEntry(ALLOW_SPINNING, "0");
            } else if (!config.spinBetweenRuns()) {
                // workers spin while a run is in progress and sleep as soon as it returns, so that the idle pools of
                // the other sessions of a pipeline do not take the cores from the one that runs next
                options.addConfigEntry(FORCE_SPINNING_STOP, "1");
            }
            customizer.apply(options);
            return options;
        } catch (OrtException | RuntimeException e) {
            options.close();
            throw e;
        }
    }

    private static OrtCUDAProviderOptions cudaOptions(SessionConfig config) throws OrtException {
        OrtCUDAProviderOptions cuda = new OrtCUDAProviderOptions(config.deviceId());
        try {
            if (config.cudaMemoryLimitBytes() > 0) {
                cuda.add("gpu_mem_limit", Long.toString(config.cudaMemoryLimitBytes()));
                // grow the arena by what is asked for, not by powers of two, so the limit is not reached early
                cuda.add("arena_extend_strategy", "kSameAsRequested");
            }
            return cuda;
        } catch (OrtException | RuntimeException e) {
            cuda.close();
            throw e;
        }
    }

    private static void reportFallback(String name, SessionConfig config, String reason) {
        if (WARNED.add(config)) {
            LOG.warn("{}: the CUDA execution provider (device {}) could not be used, running on CPU instead: {}. "
                    + "GPU inference needs the onnxruntime_gpu artifact (Maven profile -Pgpu) with CUDA 12 and cuDNN 9 "
                    + "installed. Logged once per session configuration; OrtModel.executionInfo() tells per model.",
                    name, config.deviceId(), reason);
        } else {
            LOG.debug("{}: CUDA unavailable, running on CPU: {}", name, reason);
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "no message";
        }
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).strip();
    }
}
