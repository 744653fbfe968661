package io.senseflow.onnx.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.CheckpointException;
import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.Recipe;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.io.AtomicFiles;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.GaussianMixture;
import io.senseflow.testing.MixtureDataset;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saving, verifying and resuming from checkpoint folders, on the pure-Java reference backend. */
class CheckpointStoreTest {
    static final GaussianMixture DATA = GaussianMixture.ring(8, 2.0, 0.2);
    static final MlpSpec DENOISER = MlpSpec.denoiser(2, 8, 16, 2);
    static final MlpSpec DISCRIMINATOR = MlpSpec.discriminator(2, 8, 8, 1);

    @TempDir
    Path dir;

    static DistillationConfig config() {
        return DistillationConfig.preset(Recipe.SENSEFLOW, Family.CUSTOM).toBuilder().batchSize(8).iterations(10)
                .seed(11).ttur(2).emaDecay(0.9).optimizers(AdamWConfig.constant(1e-3)).build();
    }

    record Run(Mlp g, Mlp f, Mlp d, Mlp ema, Distiller distiller) {
    }

    static Run run(DistillationConfig cfg, long initSeed) {
        Mlp g = new Mlp(DENOISER, initSeed, cfg.generatorOptimizer());
        Mlp f = new Mlp(DENOISER, initSeed, cfg.fakeScoreOptimizer());
        Mlp d = new Mlp(DISCRIMINATOR, initSeed + 1, cfg.discriminatorOptimizer());
        Mlp ema = new Mlp(DENOISER, initSeed + 2, null);
        MixtureDataset data = new MixtureDataset(DATA, List.of("all", "modes 0,1,2,3", "modes 2"), cfg.seed());
        Distiller dist = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(DATA)).generator(g).fakeScore(f)
                .discriminator(d).ema(ema.parameters()).dataset(data).promptEncoder(data.promptEncoder()).build();
        return new Run(g, f, d, ema, dist);
    }

    static void assertSameState(Run a, Run b) {
        assertThat(b.g().parameters().snapshot()).isEqualTo(a.g().parameters().snapshot());
        assertThat(b.f().parameters().snapshot()).isEqualTo(a.f().parameters().snapshot());
        assertThat(b.d().parameters().snapshot()).isEqualTo(a.d().parameters().snapshot());
        assertThat(b.ema().parameters().snapshot()).isEqualTo(a.ema().parameters().snapshot());
        assertThat(b.g().optimizer().state()).isEqualTo(a.g().optimizer().state());
        assertThat(b.f().optimizer().state()).isEqualTo(a.f().optimizer().state());
        assertThat(b.d().optimizer().state()).isEqualTo(a.d().optimizer().state());
    }

    private Path savedAt(long iterations) {
        Run r = run(config(), 1);
        r.distiller().runUntil(iterations, CancellationToken.none());
        return CheckpointStore.at(dir).save(r.distiller().snapshot());
    }

    @Test
    void aRunResumedFromDiskEndsBitIdenticalToAnUninterruptedRun() {
        DistillationConfig cfg = config();
        Run full = run(cfg, 1);
        full.distiller().run(CancellationToken.none());

        Run first = run(cfg, 1);
        first.distiller().runUntil(5, CancellationToken.none());
        CheckpointStore store = CheckpointStore.at(dir);
        Path folder = store.save(first.distiller().snapshot());
        assertThat(folder.getFileName().toString()).isEqualTo("checkpoint-000000005");

        Run resumed = run(cfg, 77); // other initial weights: everything must come from the checkpoint
        Checkpoint cp = store.loadLatest().orElseThrow();
        assertThat(cp.iteration()).isEqualTo(5);
        cp.restore(resumed.distiller());
        resumed.distiller().run(CancellationToken.none());
        assertThat(resumed.distiller().iteration()).isEqualTo(full.distiller().iteration());
        assertSameState(full, resumed);
    }

    @Test
    void roundTripKeepsEveryValueAndTheSameSnapshotGivesTheSameBytes() throws IOException {
        Run r = run(config(), 1);
        r.distiller().runUntil(3, CancellationToken.none());
        TrainingSnapshot s = r.distiller().snapshot();
        Path a = CheckpointStore.at(dir.resolve("a")).save(s, Map.of("data-position", ch -> ch.write(
                ByteBuffer.wrap("42".getBytes(StandardCharsets.UTF_8)))), Map.of("data", "mixture ring 8"));
        Path b = CheckpointStore.at(dir.resolve("b")).save(s, Map.of("data-position", ch -> ch.write(
                ByteBuffer.wrap("42".getBytes(StandardCharsets.UTF_8)))), Map.of("data", "mixture ring 8"));
        Checkpoint cp = CheckpointStore.load(a);
        assertThat(cp.snapshot().iteration()).isEqualTo(3);
        assertThat(cp.snapshot().configJson()).isEqualTo(s.configJson());
        assertThat(cp.snapshot().parameters()).isEqualTo(s.parameters());
        assertThat(cp.snapshot().optimizers()).isEqualTo(s.optimizers());
        assertThat(cp.snapshot().optimizers()).doesNotContainKey("ema");
        assertThat(cp.snapshot().optimizers().get("generator").step()).isEqualTo(2);
        assertThat(new String(cp.extras().get("data-position"), StandardCharsets.UTF_8)).isEqualTo("42");
        assertThat(cp.manifest().metadata()).containsEntry("data", "mixture ring 8");
        assertThat(cp.manifest().modules()).containsOnlyKeys("generator", "fake_score", "discriminator", "ema");
        try (Stream<Path> files = Files.walk(a)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                assertThat(Files.readAllBytes(b.resolve(a.relativize(f).toString()))).as(f.toString())
                        .isEqualTo(Files.readAllBytes(f));
            }
        }
    }

    @Test
    void aTruncatedFileIsRefusedNamingIt() throws IOException {
        Path folder = savedAt(2);
        Path f = folder.resolve("fake_score.safetensors");
        long size = Files.size(f);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.truncate(size - 10);
        }
        assertThatThrownBy(() -> CheckpointStore.load(folder)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("fake_score.safetensors").hasMessageContaining("truncated");
    }

    @Test
    void aTamperedFileOfTheSameSizeIsRefusedByItsChecksum() throws IOException {
        Path folder = savedAt(2);
        Path f = folder.resolve("generator.optimizer.safetensors");
        byte[] bytes = Files.readAllBytes(f);
        bytes[bytes.length - 3] ^= 0x01; // one bit of one Adam moment
        Files.write(f, bytes);
        assertThatThrownBy(() -> CheckpointStore.load(folder)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("generator.optimizer.safetensors").hasMessageContaining("SHA-256");
    }

    @Test
    void aMissingFileOrManifestIsRefused() throws IOException {
        Path folder = savedAt(2);
        Files.delete(folder.resolve("config.json"));
        assertThatThrownBy(() -> CheckpointStore.load(folder)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("config.json").hasMessageContaining("missing");
        Files.delete(folder.resolve("manifest.json"));
        assertThatThrownBy(() -> CheckpointStore.load(folder)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("not a complete checkpoint");
        assertThat(CheckpointStore.at(dir).list()).isEmpty();
    }

    @Test
    void aManifestOfANewerFormatVersionIsRefused() throws IOException {
        Path folder = savedAt(1);
        Path m = folder.resolve("manifest.json");
        Files.writeString(m, Files.readString(m).replace("\"version\": 1", "\"version\": 2"));
        assertThatThrownBy(() -> CheckpointStore.load(folder)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("manifest.json").hasMessageContaining("newer");
    }

    @Test
    void aCheckpointOfAnotherConfigOrArchitectureGivesAClearError() {
        Path folder = savedAt(2);
        Checkpoint cp = CheckpointStore.load(folder);
        Run other = run(config().toBuilder().batchSize(4).build(), 1);
        assertThatThrownBy(() -> cp.restore(other.distiller())).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(folder.toString()).hasMessageContaining("batch_size: 8 vs 4");
        Mlp wider = new Mlp(MlpSpec.denoiser(2, 8, 24, 2), 1, null);
        assertThatThrownBy(() -> cp.requireArchitecture("generator", wider.parameters()))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("another architecture")
                .hasMessageContaining("l0.weight has shape [16, 23], expected [24, 23]");
        assertThatThrownBy(() -> cp.requireArchitecture("teacher", wider.parameters()))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("no module 'teacher'");
    }

    @Test
    void aSaveThatFailsMidwayLeavesThePreviousCheckpointLoadable() throws IOException {
        Run r = run(config(), 1);
        r.distiller().runUntil(2, CancellationToken.none());
        CheckpointStore store = CheckpointStore.builder(dir).keepLast(1).build();
        Path good = store.save(r.distiller().snapshot());
        r.distiller().runUntil(4, CancellationToken.none());
        TrainingSnapshot later = r.distiller().snapshot();
        AtomicFiles.Writer failing = ch -> {
            ch.write(ByteBuffer.allocate(1000));
            throw new IOException("disk full (simulated)");
        };
        assertThatThrownBy(() -> store.save(later, Map.of("loader", failing), Map.of()))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("iteration 4")
                .hasMessageContaining("disk full (simulated)");
        assertThat(store.list()).containsExactly(good);
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("checkpoint-000000002");
        }
        Checkpoint cp = store.loadLatest().orElseThrow();
        assertThat(cp.iteration()).isEqualTo(2);
    }

    @Test
    void aSaveIntoAnUnwritableFolderFailsAndTheOldCheckpointStays() throws IOException {
        Path good = savedAt(2);
        boolean root = !dir.toFile().setWritable(false) || Files.isWritable(dir);
        try {
            if (root) {
                // privileged users write anyway: make the store's root a file inside an existing checkpoint's parent
                Path blocked = dir.resolve("blocked");
                Files.writeString(blocked, "not a folder");
                CheckpointStore bad = CheckpointStore.at(blocked.resolve("checkpoints"));
                assertThatThrownBy(() -> bad.save(CheckpointStore.load(good).snapshot()))
                        .isInstanceOf(CheckpointException.class).hasMessageContaining("blocked");
            } else {
                Run r = run(config(), 1);
                r.distiller().runUntil(3, CancellationToken.none());
                assertThatThrownBy(() -> CheckpointStore.at(dir).save(r.distiller().snapshot()))
                        .isInstanceOf(CheckpointException.class).hasMessageContaining("iteration 3");
            }
        } finally {
            dir.toFile().setWritable(true);
        }
        assertThat(CheckpointStore.at(dir).list()).containsExactly(good);
        assertThat(CheckpointStore.load(good).iteration()).isEqualTo(2);
    }

    @Test
    void keepLastPrunesOldCheckpointsOnlyAfterANewOneIsComplete() {
        Run r = run(config(), 1);
        CheckpointStore store = CheckpointStore.builder(dir).keepLast(2).build();
        r.distiller().addListener(store.saveEvery(r.distiller(), 3));
        r.distiller().runUntil(10, CancellationToken.none());
        assertThat(store.list()).extracting(p -> p.getFileName().toString())
                .containsExactly("checkpoint-000000006", "checkpoint-000000009");
        assertThat(store.latest()).contains(store.folderFor(9));
    }

    @Test
    void savingTheSameIterationAgainReplacesIt() {
        Run r = run(config(), 1);
        r.distiller().runUntil(2, CancellationToken.none());
        CheckpointStore store = CheckpointStore.at(dir);
        TrainingSnapshot s = r.distiller().snapshot();
        store.save(s);
        TrainingSnapshot altered = new TrainingSnapshot(s.iteration(), 1, s.configJson(), s.parameters(), s.optimizers());
        store.save(altered);
        assertThat(store.list()).hasSize(1);
        assertThat(store.loadLatest().orElseThrow().snapshot().skippedBatches()).isEqualTo(1);
    }

    @Test
    void unsafeNamesAreRefusedBeforeAnythingIsWritten() {
        TrainingSnapshot s = new TrainingSnapshot(0, 0, "{}", Map.of("../g", Map.of("w", Tensor.zeros(2))), Map.of());
        assertThatThrownBy(() -> CheckpointStore.at(dir).save(s)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("module name").hasMessageContaining("../g");
        assertThat(CheckpointStore.at(dir).list()).isEmpty();
    }

    @Test
    void theLeftoversOfAnInterruptedSaveAreCleanedUpAndAMovedAsideCheckpointComesBack() throws IOException {
        Path two = savedAt(2);
        Path four = savedAt(4);
        // a crash while replacing iteration 4: the old folder was moved aside, the new one not yet renamed in
        Path aside = dir.resolve(".checkpoint-old-123");
        Files.move(four, aside);
        Path half = Files.createDirectories(dir.resolve(".checkpoint-tmp-456"));
        Files.writeString(half.resolve("config.json"), "{}");
        assertThat(CheckpointStore.at(dir).list()).containsExactly(two);
        Run r = run(config(), 1);
        r.distiller().runUntil(6, CancellationToken.none());
        CheckpointStore.at(dir).save(r.distiller().snapshot());
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly("checkpoint-000000002", "checkpoint-000000004", "checkpoint-000000006");
        }
        assertThat(CheckpointStore.load(four).iteration()).isEqualTo(4);
    }
}
