package dev.scoreflow.runtime;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** Requests for a model's own outputs through the dynamic batcher, on a real ONNX model. */
class BatcherOutputsTest {
    private static final List<String> OUTPUTS = List.of("targets", "total", "total_fp64", "positive", "bucket",
            "total_int64");
    private final ExecutorService pool = Executors.newSingleThreadExecutor();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    @Test
    void item22_batchesRequestsForDifferentOutputsAndScoresTogetherEachGettingItsOwnRows() throws Exception {
        ModelConfig config = ModelConfig.read(TestModels.multitarget().resolveSibling(ModelConfig.FILE_NAME),
                ModelConfig.defaults());
        try (OnnxModel model = OnnxModel.load(TestModels.multitarget(), config, 1);
             OnnxModel reference = OnnxModel.load(TestModels.multitarget(), config, 1)) {
            AtomicInteger mixedBatches = new AtomicInteger();
            AtomicInteger batches = new AtomicInteger();
            BatchObserver observer = new BatchObserver() {
                @Override
                public void batch(int rows, int parts, long nanos) {
                    batches.incrementAndGet();
                    if (parts > 1) {
                        mixedBatches.incrementAndGet();
                    }
                }
            };
            // a 64-row batch limit splits the larger requests into parts that land in different batches
            Batcher b = new Batcher("multitarget", model, new BatchPolicy(64, 0, 1 << 20), pool, 1,
                    Ticker.system(), observer);
            // hold the only inference thread so that every request queues, then release them into shared batches
            CountDownLatch hold = new CountDownLatch(1);
            pool.execute(() -> {
                try {
                    hold.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Random r = new Random(22);
            List<FloatMatrix> inputs = new ArrayList<>();
            List<Set<String>> asked = new ArrayList<>();
            List<CompletableFuture<?>> futures = new ArrayList<>();
            for (int i = 0; i < 60; i++) {
                int rows = r.nextInt(8) == 0 ? 65 + r.nextInt(100) : r.nextInt(30);
                FloatMatrix m = FloatMatrix.of(TestModels.noisyRows(TestModels.multitarget(), rows, 6, i), rows, 6);
                inputs.add(m);
                if (r.nextInt(3) == 0) {
                    asked.add(null);
                    futures.add(b.submit(m, Long.MAX_VALUE));
                } else {
                    Set<String> outs = new LinkedHashSet<>();
                    for (String o : OUTPUTS) {
                        if (r.nextInt(3) == 0) {
                            outs.add(o);
                        }
                    }
                    if (outs.isEmpty()) {
                        outs.add(OUTPUTS.get(r.nextInt(OUTPUTS.size())));
                    }
                    asked.add(outs);
                    futures.add(b.submit(m, outs, Long.MAX_VALUE));
                }
            }
            hold.countDown();
            for (int i = 0; i < futures.size(); i++) {
                Object got = futures.get(i).get(30, TimeUnit.SECONDS);
                FloatMatrix m = inputs.get(i);
                if (asked.get(i) == null) {
                    TestModels.assertSameValues("request " + i + " score", got, reference.score(m));
                    continue;
                }
                @SuppressWarnings("unchecked")
                Map<String, Tensor> values = (Map<String, Tensor>) got;
                assertThat(values.keySet()).as("request %d", i).containsExactlyElementsOf(asked.get(i));
                Map<String, Tensor> alone = reference.infer(m, asked.get(i));
                for (String name : asked.get(i)) {
                    assertThat(values.get(name).shape()).as("request %d %s", i, name)
                            .isEqualTo(alone.get(name).shape());
                    TestModels.assertSameValues("request " + i + " " + name, values.get(name).data(),
                            alone.get(name).data());
                }
            }
            assertThat(mixedBatches.get()).as("batches of several requests, of %d", batches.get())
                    .isGreaterThan(0);
            assertThat(batches.get()).isLessThan(futures.size());
            b.close();
        }
    }
}
