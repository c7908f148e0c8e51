package dev.scoreflow.cli;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.OnnxModel;
import dev.scoreflow.runtime.ThreadBudget;
import dev.scoreflow.server.ScoringServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code scoreflow demo}: the main job on embedded defaults. Serves the bundled example model, scores a generated
 * batch through the HTTP service, checks every score against in-process ONNX Runtime and prints rows/s.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Serve the bundled example model on a free port, score a generated batch through it over"
                + " HTTP (PUT /score), check every score against in-process ONNX Runtime, and print rows/s.", ""})
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "FILE", description = "Model to serve (default: the bundled example,"
            + " models/example/1/model.onnx: is a text English, from its 26 letter frequencies).")
    Path model;

    @Option(names = "--rows", defaultValue = "500000", description = "Rows to score (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--batch-rows", defaultValue = "1000", description = "Rows per request (default:"
            + " ${DEFAULT-VALUE}).")
    int batchRows;

    @Option(names = "--concurrency", defaultValue = "8", description = "Requests in flight (default:"
            + " ${DEFAULT-VALUE}).")
    int concurrency;

    @Override
    public Integer call() throws Exception {
        if (rows < 1 || batchRows < 1 || concurrency < 1) {
            throw new IllegalArgumentException("--rows, --batch-rows and --concurrency must be >= 1");
        }
        Path file = model != null ? model : Path.of(System.getProperty("scoreflow.home", "."), "models", "example",
                "1", "model.onnx");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("model file " + file + " not found (run from the repository root,"
                    + " or give --model)");
        }
        try (OnnxModel reference = OnnxModel.load(file, ModelConfig.read(file.resolveSibling(ModelConfig.FILE_NAME),
                ModelConfig.defaults()), 1)) {
            int features = reference.signature().featureCount();
            float[] data = sampleRows(file, rows, features);
            Log.info("generated " + rows + " rows x " + features + " features");

            ModelRepository repository = ModelRepository.builder().model("example", file)
                    .threads(ThreadBudget.defaults()).log(Log::info).build();
            ScoringServer server = ScoringServer.builder(repository).port(0).log(Log::info).start();
            try {
                System.out.println("serving " + file + " at " + server.uri() + " (score = "
                        + reference.signature().description() + ")");
                float[] scores = new float[rows];
                // warm-up: the first requests pay for class loading and JIT
                score(server.uri(), data, features, scores, Math.min(rows, 20 * batchRows), null);
                AtomicLong progress = new AtomicLong();
                long t0 = System.nanoTime();
                score(server.uri(), data, features, scores, rows, progress);
                double seconds = (System.nanoTime() - t0) / 1e9;

                float[] expected = reference.score(FloatMatrix.of(data, rows, features));
                double maxDiff = 0;
                int positive = 0;
                for (int i = 0; i < rows; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(expected[i] - scores[i]));
                    positive += scores[i] >= 0.5 ? 1 : 0;
                }
                System.out.printf("scored %,d rows in %.2f s: %,.0f rows/s over HTTP (%d rows per request,"
                                + " %d in flight, JDK HttpClient)%n", rows, seconds, rows / seconds, batchRows,
                        concurrency);
                System.out.printf("score >= 0.5 for %,d rows (%.1f%%); max |server - in-process ONNX Runtime| ="
                        + " %.2g%n", positive, 100.0 * positive / rows, maxDiff);
                if (maxDiff > 1e-5) {
                    System.out.println("MISMATCH: server scores differ from in-process scores");
                    return 2;
                }
                return 0;
            } finally {
                server.shutdown(Duration.ofSeconds(5));
            }
        }
    }

    /** Rows from the model's {@code sample-input.f32} when it has one (tiled), else uniform random values. */
    private static float[] sampleRows(Path file, int rows, int features) throws java.io.IOException {
        float[] out = new float[Math.multiplyExact(rows, features)];
        Path sample = file.resolveSibling("sample-input.f32");
        if (Files.isRegularFile(sample)) {
            float[] s = new float[(int) (Files.size(sample) / 4)];
            ByteBuffer.wrap(Files.readAllBytes(sample)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(s);
            for (int i = 0; i < out.length; i++) {
                out[i] = s[i % s.length];
            }
        } else {
            java.util.Random r = new java.util.Random(42);
            for (int i = 0; i < out.length; i++) {
                out[i] = r.nextFloat();
            }
        }
        return out;
    }

    private void score(URI uri, float[] data, int features, float[] scores, int upTo, AtomicLong progress)
            throws Exception {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        int batches = (upTo + batchRows - 1) / batchRows;
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        try {
            List<Future<?>> loops = new ArrayList<>();
            for (int c = 0; c < concurrency; c++) {
                loops.add(pool.submit(() -> {
                    int b;
                    while ((b = next.getAndIncrement()) < batches) {
                        int from = b * batchRows;
                        int n = Math.min(batchRows, upTo - from);
                        ByteBuffer body = SeedBinaryCodec.encode(FloatMatrix.of(
                                java.util.Arrays.copyOfRange(data, from * features, (from + n) * features), n,
                                features));
                        HttpRequest req = HttpRequest.newBuilder(uri.resolve("/score"))
                                .header("Content-Type", SeedBinaryCodec.CONTENT_TYPE)
                                .PUT(HttpRequest.BodyPublishers.ofByteArray(body.array())).build();
                        HttpResponse<byte[]> resp = client.send(req, HttpResponse.BodyHandlers.ofByteArray());
                        if (resp.statusCode() != 200) {
                            throw new IllegalStateException("HTTP " + resp.statusCode() + ": "
                                    + new String(resp.body(), java.nio.charset.StandardCharsets.UTF_8));
                        }
                        float[] s = SeedBinaryCodec.decodeScores(ByteBuffer.wrap(resp.body()));
                        System.arraycopy(s, 0, scores, from, n);
                        if (progress != null) {
                            long done = progress.addAndGet(n);
                            if ((done / n) % Math.max(1, batches / 5) == 0) {
                                Log.info(String.format("%,d / %,d rows", done, upTo));
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : loops) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
