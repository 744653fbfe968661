package io.senseflow.examples.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A front-door run's long {@code losses.csv} ({@code iteration,term,value}) read into the curves: one row per
 * iteration with every term under its name, a research plug-in's term drawn in the generator panel beside the recipe's,
 * and a damaged line refused naming the file and the line.
 */
class RunHistoryLongLossesTest {
    private static final List<String> LONG = List.of("iteration,term,value", "0,fake_score,0.5", "1,dmd,1.25",
            "1,fake_score,0.25", "1,ode_regression,0.75", "2,fake_score,0.125");

    @Test
    void groupsTheTermsOfAnIterationAndDrawsAPluginTerm() throws java.io.IOException {
        RunHistory h = RunHistory.fromLongLosses(LONG, "losses.csv");
        assertThat(h.losses()).extracting(RunHistory.Row::iteration).containsExactly(0L, 1L, 2L);
        assertThat(h.losses().get(1).values()).isEqualTo(Map.of("dmd", 1.25, "fake_score", 0.25, "ode_regression",
                0.75));
        assertThat(h.evaluations()).isEmpty();
        byte[] with = Curves.png(h);
        byte[] without = Curves.png(RunHistory.fromLongLosses(LONG.stream().filter(l -> !l.contains("ode_"))
                .toList(), "losses.csv"));
        assertThat(with).as("the plug-in term is a series of its own").isNotEqualTo(without);
        assertThat(javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(with)).getWidth()).isGreaterThan(100);
    }

    @Test
    void aDamagedLineIsRefusedNamingIt() {
        assertThatThrownBy(() -> RunHistory.fromLongLosses(List.of("iteration,term,value", "0,dmd,1", "x,dmd,2"),
                "RUN/losses.csv")).isInstanceOf(InvalidRequestException.class).hasMessageContaining("RUN/losses.csv line 3")
                .hasMessageContaining("iteration,term,value").hasMessageContaining("x,dmd,2");
    }
}
