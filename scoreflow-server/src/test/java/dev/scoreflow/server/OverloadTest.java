package dev.scoreflow.server;

import dev.scoreflow.runtime.TestModels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** More concurrent requests than the queue holds: fast 503s with Retry-After, nothing else, correct scores. */
@Tag("slow")
class OverloadTest {

    @Test
    void answersFastServiceUnavailableAndServesTheRestCorrectly() throws Exception {
        int clients = 96;
        int rounds = 6;
        int rowsPerRequest = 1000;
        try (ServerFixture f = new ServerFixture(r -> r.model("forest", TestModels.forest())
                .defaults(dev.scoreflow.runtime.ModelConfig.builder().queueRows(3000).maxQueueMillis(0).build()),
                s -> { })) {
            float[] rows = TestModels.noisyRows(TestModels.forest(), rowsPerRequest, 20, 9);
            float[] expected = TestModels.inProcessScores(TestModels.forest(), rows, 20);
            byte[] body = ServerFixture.body(rows, 20);
            Map<Integer, AtomicInteger> codes = new ConcurrentHashMap<>();
            List<Long> rejectNanos = java.util.Collections.synchronizedList(new ArrayList<>());
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            List<Future<?>> all = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                all.add(pool.submit(() -> {
                    for (int i = 0; i < rounds; i++) {
                        long t0 = System.nanoTime();
                        HttpResponse<byte[]> r = f.put("/models/forest/score", body, "application/octet-stream");
                        codes.computeIfAbsent(r.statusCode(), k -> new AtomicInteger()).incrementAndGet();
                        if (r.statusCode() == 200) {
                            float[] got = ServerFixture.scores(r);
                            for (int k = 0; k < rowsPerRequest; k++) {
                                assertThat(got[k]).isCloseTo(expected[k], within(1e-5f));
                            }
                        } else {
                            rejectNanos.add(System.nanoTime() - t0);
                            assertThat(r.statusCode()).as(ServerFixture.text(r)).isEqualTo(503);
                            assertThat(r.headers().firstValue("Retry-After")).isPresent();
                            assertThat(ServerFixture.text(r)).contains("queue full");
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> fu : all) {
                fu.get(120, TimeUnit.SECONDS);
            }
            pool.shutdownNow();
            assertThat(codes.keySet()).containsOnly(200, 503).contains(200, 503);
            assertThat(codes.values().stream().mapToInt(AtomicInteger::get).sum()).isEqualTo(clients * rounds);
            long rejected = codes.get(503).get();
            String metrics = f.server.metricsText();
            assertThat(metrics).contains("scoreflow_rejections_total{model=\"forest\",reason=\"queue_full\"} "
                    + (double) rejected + "\n");
            assertThat(metrics).contains("scoreflow_requests_total{code=\"200\",model=\"forest\",protocol=\"seed\"} "
                    + (double) codes.get(200).get() + "\n");
            // a refusal does no scoring work: the median one is far quicker than a scored request
            List<Long> sorted = new ArrayList<>(rejectNanos);
            sorted.sort(null);
            assertThat(sorted.get(sorted.size() / 2)).isLessThan(TimeUnit.MILLISECONDS.toNanos(500));
        }
    }
}
