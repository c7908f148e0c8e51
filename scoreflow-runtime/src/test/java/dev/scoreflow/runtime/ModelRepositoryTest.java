package dev.scoreflow.runtime;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ModelLoadException;
import dev.scoreflow.api.ModelNotFoundException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ModelRepositoryTest {
    private ModelRepository open(Path dir) {
        return ModelRepository.builder().root(dir).threads(new ThreadBudget(2, 1)).build();
    }

    private static float scoreFirstSampleRow(ServedModel m) throws Exception {
        float[] in = TestModels.sampleInput(m.source());
        int f = m.signature().featureCount();
        return m.score(FloatMatrix.of(java.util.Arrays.copyOf(in, f), 1, f), Long.MAX_VALUE)
                .get(10, TimeUnit.SECONDS)[0];
    }

    @Test
    void servesSeveralModelsAndVersionsWithTheHighestAsDefault(@TempDir Path dir) throws Exception {
        TestModels.install(TestModels.example(), dir, "example", "1");
        TestModels.install(TestModels.forest(), dir, "trees", "2");
        TestModels.install(TestModels.forest(), dir, "trees", "10");
        try (ModelRepository r = open(dir)) {
            assertThat(r.readyNames()).containsExactly("example", "trees");
            assertThat(r.get("trees", null).version()).isEqualTo("10"); // numeric order, not "2" > "10"
            assertThat(r.get("trees", "2").version()).isEqualTo("2");
            assertThat(scoreFirstSampleRow(r.get("trees", null)))
                    .isCloseTo(TestModels.sampleScores(TestModels.forest())[0], within(1e-5f));
            assertThatThrownBy(() -> r.get("nope", null)).isInstanceOf(ModelNotFoundException.class)
                    .hasMessageContaining("loaded: [example, trees]");
            assertThatThrownBy(() -> r.get("trees", "3")).isInstanceOf(ModelNotFoundException.class)
                    .hasMessageContaining("versions: [2, 10]");
        }
    }

    @Test
    void refusesABrokenModelWhileTheOthersKeepServing(@TempDir Path dir) throws Exception {
        TestModels.install(TestModels.example(), dir, "good", "1");
        Path broken = Files.createDirectories(dir.resolve("broken/1"));
        Files.writeString(broken.resolve("model.onnx"), "garbage");
        try (ModelRepository r = open(dir)) {
            assertThat(r.readyNames()).containsExactly("good");
            assertThat(r.index()).anySatisfy(s -> {
                assertThat(s.name()).isEqualTo("broken");
                assertThat(s.state()).isEqualTo(ModelStatus.State.UNAVAILABLE);
                assertThat(s.reason()).contains("cannot load").contains("broken/1/model.onnx");
            });
            assertThatThrownBy(() -> r.get("broken", null)).isInstanceOf(ModelNotFoundException.class)
                    .hasMessageContaining("has no version that loaded");
            assertThat(scoreFirstSampleRow(r.get("good", null))).isBetween(0f, 1f);
            assertThatThrownBy(() -> r.load("broken")).isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("did not load");
        }
    }

    @Test
    void picksUpAddedChangedAndRemovedFilesOnRescan(@TempDir Path dir) throws Exception {
        Path file = TestModels.install(TestModels.example(), dir, "m", "1");
        try (ModelRepository r = open(dir)) {
            assertThat(r.get("m", null).signature().featureCount()).isEqualTo(26);
            // a new version appears
            TestModels.install(TestModels.forest(), dir, "m", "2");
            r.rescan();
            assertThat(r.get("m", null).version()).isEqualTo("2");
            assertThat(r.get("m", null).signature().featureCount()).isEqualTo(20);
            // version 1's file is replaced by another model
            Files.copy(TestModels.regressor(), file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.delete(file.resolveSibling("model.json"));
            Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 5000));
            r.rescan();
            assertThat(r.get("m", "1").signature().featureCount()).isEqualTo(10);
            // version 2 is deleted
            Files.delete(dir.resolve("m/2/model.onnx"));
            r.rescan();
            assertThat(r.get("m", null).version()).isEqualTo("1");
            assertThatThrownBy(() -> r.get("m", "2")).isInstanceOf(ModelNotFoundException.class);
        }
    }

    @Test
    void keepsServingTheOldModelWhenItsNewFileIsBroken(@TempDir Path dir) throws Exception {
        Path file = TestModels.install(TestModels.example(), dir, "m", "1");
        try (ModelRepository r = open(dir)) {
            ServedModel before = r.get("m", null);
            Files.writeString(file, "half-written file");
            Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 5000));
            r.rescan();
            assertThat(r.get("m", null)).isSameAs(before);
            assertThat(scoreFirstSampleRow(r.get("m", null))).isBetween(0f, 1f);
            assertThat(r.index().get(0).state()).isEqualTo(ModelStatus.State.READY);
            assertThat(r.index().get(0).reason()).startsWith("reload failed, still serving the previous file");
        }
    }

    @Test
    void unloadsAndLoadsOnRequest(@TempDir Path dir) throws Exception {
        TestModels.install(TestModels.example(), dir, "m", "1");
        try (ModelRepository r = open(dir)) {
            ServedModel old = r.get("m", null);
            r.unload("m");
            assertThatThrownBy(() -> r.get("m", null)).isInstanceOf(ModelNotFoundException.class);
            r.rescan(); // an unloaded model stays unloaded until asked for
            assertThat(r.readyNames()).isEmpty();
            r.load("m");
            assertThat(r.get("m", null)).isNotSameAs(old);
            assertThat(scoreFirstSampleRow(r.get("m", null))).isBetween(0f, 1f);
        }
    }

    @Test
    void servesASingleFileUnderItsName() throws Exception {
        try (ModelRepository r = ModelRepository.builder().model("ex", TestModels.example())
                .threads(new ThreadBudget(1, 1)).build()) {
            assertThat(r.get("ex", null).version()).isEqualTo("1");
            assertThat(r.get("ex", null).config().threshold()).isEqualTo(0.5); // from the model.json beside it
            assertThat(scoreFirstSampleRow(r.get("ex", null)))
                    .isCloseTo(TestModels.sampleScores(TestModels.example())[0], within(1e-5f));
        }
    }

    @Test
    void refusesBadBuilderInputWithTheValue(@TempDir Path dir) throws IOException {
        assertThatThrownBy(() -> ModelRepository.builder().model("bad name", dir))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'bad name'");
        assertThatThrownBy(() -> new ThreadBudget(0, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("got 0");
        Path file = Files.writeString(dir.resolve("f"), "x");
        assertThatThrownBy(() -> ModelRepository.builder().root(file)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is not a directory");
    }

    /** A model.json that is a named pipe: reading it (part of loading the model) blocks until the test writes. */
    private static Path blockingConfig(Path versionDir) throws Exception {
        Path fifo = versionDir.resolve("model.json");
        Files.deleteIfExists(fifo);
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).redirectErrorStream(true).start();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("mkfifo exit code").isZero();
        return fifo;
    }

    private static <T> T within1s(java.util.concurrent.Callable<T> call) throws Exception {
        java.util.concurrent.ExecutorService e = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            return e.submit(call).get(1, TimeUnit.SECONDS);
        } finally {
            e.shutdownNow();
        }
    }

    @Test
    void item11_lookupsAndUnloadDoNotWaitForAModelThatIsLoading(@TempDir Path dir) throws Exception {
        TestModels.install(TestModels.example(), dir, "fast", "1");
        TestModels.install(TestModels.example(), dir, "other", "1");
        try (ModelRepository r = open(dir)) {
            ServedModel fast = r.get("fast", null);
            Path slow = TestModels.install(TestModels.example(), dir, "slow", "1");
            Path fifo = blockingConfig(slow.getParent());
            java.util.concurrent.CompletableFuture<Void> rescan = java.util.concurrent.CompletableFuture
                    .runAsync(r::rescan);
            try {
                // the rescan is now inside the load of 'slow', reading its model.json
                FakeModels.await("the rescan is loading 'slow'", () -> !rescan.isDone()
                        && threadReading(fifo));
                assertThat(within1s(() -> r.get("fast", null))).isSameAs(fast);
                assertThat(within1s(r::readyNames)).containsExactly("fast", "other");
                assertThat(within1s(r::index)).hasSize(2);
                assertThat(within1s(r::served)).hasSize(2);
                assertThat(within1s(r::notReady)).isEmpty();
                within1s(() -> {
                    r.unload("other");
                    return null;
                });
                assertThatThrownBy(() -> r.get("other", null)).isInstanceOf(ModelNotFoundException.class);
            } finally {
                Files.writeString(fifo, "{}");
            }
            rescan.get(30, TimeUnit.SECONDS);
            assertThat(r.readyNames()).containsExactly("fast", "slow");
        }
    }

    /** Whether some thread is blocked opening or reading {@code fifo} (it shows in its stack as a file read). */
    private static boolean threadReading(Path fifo) {
        return Thread.getAllStackTraces().values().stream().anyMatch(stack -> java.util.Arrays.stream(stack)
                .anyMatch(f -> f.getClassName().equals(ModelConfig.class.getName()) && f.getMethodName().equals("read")));
    }

    @Test
    void item12_refusesNamesThatAreNotOneSafePathSegment(@TempDir Path tmp) throws Exception {
        Path root = Files.createDirectories(tmp.resolve("repo"));
        TestModels.install(TestModels.example(), root, "good", "1");
        // what '..' would reach: <root>/../evil/model.onnx, a "version" of model '..'
        TestModels.install(TestModels.example(), tmp, "evil", "1");
        Files.copy(TestModels.example(), tmp.resolve("evil/model.onnx"));
        try (ModelRepository r = open(root)) {
            for (String bad : List.of("..", ".", "a/b", "a\\b", "a\u0000b", "a\nb", "", "x".repeat(129))) {
                assertThatThrownBy(() -> r.load(bad)).as("load '%s'", bad)
                        .isInstanceOf(dev.scoreflow.api.BadInputException.class).hasMessageContaining("is not allowed");
                assertThatThrownBy(() -> r.unload(bad)).as("unload '%s'", bad)
                        .isInstanceOf(dev.scoreflow.api.BadInputException.class);
            }
            assertThatThrownBy(() -> r.load("..")).hasMessageContaining("model name '..'");
            assertThat(r.readyNames()).containsExactly("good");
            assertThat(r.index()).extracting(ModelStatus::name).containsExactly("good");
        }
    }

    @Test
    void item12_refusesAModelLinkedFromOutsideTheRoot(@TempDir Path tmp) throws Exception {
        Path root = Files.createDirectories(tmp.resolve("repo"));
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        TestModels.install(TestModels.example(), root, "good", "1");
        TestModels.install(TestModels.example(), elsewhere, "linked", "1");
        Files.createSymbolicLink(root.resolve("linked"), elsewhere.resolve("linked"));
        // a link that stays inside the root is followed
        Files.createSymbolicLink(root.resolve("alias"), root.resolve("good"));
        try (ModelRepository r = open(root)) {
            assertThat(r.readyNames()).containsExactly("alias", "good");
            assertThatThrownBy(() -> r.get("linked", null)).isInstanceOf(ModelNotFoundException.class);
            assertThat(r.notReady()).singleElement().satisfies(s -> {
                assertThat(s.name()).isEqualTo("linked");
                assertThat(s.reason()).contains("outside the model repository");
            });
            assertThatThrownBy(() -> r.load("linked")).isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("outside the model repository");
        }
    }

    @Test
    void item13_notReadyListsTheVersionsThatFailedWithTheirReasons(@TempDir Path dir) throws Exception {
        TestModels.install(TestModels.example(), dir, "good", "1");
        Path broken = Files.createDirectories(dir.resolve("broken/2"));
        Files.writeString(broken.resolve("model.onnx"), "garbage");
        try (ModelRepository r = open(dir)) {
            assertThat(r.notReady()).singleElement().satisfies(s -> {
                assertThat(s.name()).isEqualTo("broken");
                assertThat(s.version()).isEqualTo("2");
                assertThat(s.reason()).contains("cannot load");
            });
            Files.delete(broken.resolve("model.onnx"));
            r.rescan();
            assertThat(r.notReady()).isEmpty();
        }
    }
}
