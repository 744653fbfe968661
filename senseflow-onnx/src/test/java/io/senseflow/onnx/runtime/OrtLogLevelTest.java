package io.senseflow.onnx.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OrtLoggingLevel;
import io.senseflow.InvalidRequestException;
import org.junit.jupiter.api.Test;

/** The values of {@link OrtRuntime#LOG_LEVEL_PROPERTY}, which the senseflow launcher sets (error, or warning). */
class OrtLogLevelTest {
    @Test
    void namesMapToOnnxRuntimeLevels() {
        assertThat(OrtRuntime.logLevel(null)).isNull();
        assertThat(OrtRuntime.logLevel(" ")).isNull();
        assertThat(OrtRuntime.logLevel("error")).isEqualTo(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
        assertThat(OrtRuntime.logLevel("Warning")).isEqualTo(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING);
        assertThat(OrtRuntime.logLevel("verbose")).isEqualTo(OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE);
    }

    @Test
    void anUnknownNameIsRefusedNamingTheProperty() {
        assertThatThrownBy(() -> OrtRuntime.logLevel("quiet")).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("senseflow.ort.logLevel").hasMessageContaining("\"quiet\"")
                .hasMessageContaining("expected verbose, info, warning, error or fatal");
    }
}
