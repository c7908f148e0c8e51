package dev.scoreflow.benchmarks;

import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.jobs.PostgresJobQueue;
import dev.scoreflow.jobs.QueueSettings;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.ThreadBudget;
import dev.scoreflow.server.JobWorker;
import dev.scoreflow.server.ScoringServer;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Request-acknowledge jobs on PostgreSQL against the synchronous {@code /score} on the same model and rows, in one
 * JVM (server, workers, clients) with the machine's PostgreSQL: for 1 and 2 worker threads, {@code jobs} jobs
 * submitted by 16 clients at once, each followed by a long poll for its result (jobs/s submitted, jobs/s completed
 * as the clients see them), then jobs at half the completed rate for {@code seconds}: submit-to-result latency as a
 * client sees it (the long poll's answer). The synchronous ceiling: the same requests to {@code PUT /score}.
 *
 * <p>{@code java dev.scoreflow.benchmarks.JobsBench QUEUE ROOT JOBS ROWS_PER_JOB SECONDS}, QUEUE being a JDBC URL
 * (PostgreSQL, {@code jobs-bench.sh}), {@code embedded-kafka} (a broker in this JVM, {@code jobs-bench-kafka.sh}) or
 * an {@code amqp://...?store=postgresql://...} queue URL (RabbitMQ, {@code jobs-bench-rabbitmq.sh}).
 */
public final class JobsBench {
    private static final Pattern ID = Pattern.compile("\"id\":\"([0-9a-f-]{36})\"");
    private static final int CLIENTS = 16;

    private JobsBench() {
    }

    public static void main(String[] args) throws Exception {
        // "embedded-kafka": the queue on a Kafka broker started in this JVM (jobs-bench-kafka.sh), else a JDBC URL
        dev.scoreflow.streaming.EmbeddedBroker kafka = args[0].equals("embedded-kafka")
                ? dev.scoreflow.streaming.EmbeddedBroker.start(java.nio.file.Files.createTempDirectory("jobs-bench-kafka"),
                        "127.0.0.1", 0, java.util.Map.of()) : null;
        String url = kafka != null ? "kafka://" + kafka.bootstrapServers() : args[0];
        boolean rabbit = url.startsWith("amqp://");
        String broker = kafka != null ? "Kafka" : rabbit ? "RabbitMQ" : "PostgreSQL";
        Path root = Path.of(args[1]);
        int jobs = Integer.parseInt(args[2]);
        int rows = Integer.parseInt(args[3]);
        int seconds = Integer.parseInt(args[4]);
        Random r = new Random(7);
        float[] x = new float[rows * 26];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        ByteBuffer b = SeedBinaryCodec.encode(FloatMatrix.of(x, rows, 26));
        byte[] body = new byte[b.remaining()];
        b.get(body);
        String run = Long.toHexString(System.currentTimeMillis());
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        System.out.printf("jobs %,d of %d rows (example model, 26 features), %d clients, " + broker + " %s%n", jobs, rows,
                CLIENTS, url);
        System.out.println("| what | submitted/s | completed/s | latency at half rate: rate/s, p50 ms, p99 ms, "
                + "answers |");
        System.out.println("|---|---|---|---|");
        Path model = root.resolve("models/example/1/model.onnx");
        {
            for (int workers : new int[]{1, 2}) {
                Properties p = new Properties();
                p.put("user", "postgres");
                // a server closes its repository: one each
                ModelRepository repo = ModelRepository.builder().threads(new ThreadBudget(1, 1))
                        .model("example", model).build();
                String name = "bench-" + run + "-" + workers;
                try (dev.scoreflow.jobs.JobQueue q = kafka != null || rabbit
                        ? dev.scoreflow.jobs.JobQueues.open(url + (rabbit ? "&" : "?") + "queue=" + name)
                        : PostgresJobQueue.open(url, p, name, QueueSettings.defaults());
                     ScoringServer server = ScoringServer.builder(repo).port(0).jobs(q).start();
                     JobWorker worker = JobWorker.start(ScoringServer.builder(repo), q, workers)) {
                    URI submit = server.uri().resolve("/models/example/jobs");
                    double[] rates = throughput(http, server.uri(), submit, body, jobs);
                    String latency = paced(rates[1] / 2, seconds,
                            () -> poll(http, server.uri(), submit(http, submit, body)).get(120, TimeUnit.SECONDS));
                    System.out.printf("| jobs, " + broker + ", %d worker thread%s | %,.0f | %,.0f | %s |%n", workers,
                            workers == 1 ? "" : "s", rates[0], rates[1], latency);
                    System.err.printf("worker: %d done, %d failed attempts%n", worker.done(), worker.failed());
                }
            }
            ModelRepository repo = ModelRepository.builder().threads(new ThreadBudget(1, 1))
                    .model("example", model).build();
            try (ScoringServer server = ScoringServer.builder(repo).port(0).start()) {
                URI score = server.uri().resolve("/models/example/score");
                double rate = synchronous(http, score, body, jobs);
                String latency = paced(rate / 2, seconds, () -> {
                    HttpResponse<byte[]> a = http.send(HttpRequest.newBuilder(score)
                            .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                            HttpResponse.BodyHandlers.ofByteArray());
                    if (a.statusCode() != 200) {
                        throw new IllegalStateException("score answered " + a.statusCode());
                    }
                    return a;
                });
                System.out.printf("| synchronous PUT /score (the ceiling) | %,.0f | %,.0f | %s |%n", rate, rate,
                        latency);
            }
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    /** @return {submitted/s, completed/s (every result seen by its client's long poll)} */
    static double[] throughput(HttpClient http, URI base, URI submit, byte[] body, int jobs) throws Exception {
        AtomicInteger next = new AtomicInteger();
        List<CompletableFuture<HttpResponse<String>>> polls = java.util.Collections.synchronizedList(new ArrayList<>());
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        long start = System.nanoTime();
        List<Future<?>> running = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            running.add(clients.submit(() -> {
                while (next.getAndIncrement() < jobs) {
                    String id = submit(http, submit, body);
                    polls.add(poll(http, base, id));
                }
                return null;
            }));
        }
        for (Future<?> f : running) {
            f.get();
        }
        double submitted = jobs / ((System.nanoTime() - start) / 1e9);
        for (CompletableFuture<HttpResponse<String>> f : polls) {
            String s = f.get(120, TimeUnit.SECONDS).body();
            if (!s.contains("\"state\":\"done\"")) {
                throw new IllegalStateException("a job did not finish: " + s);
            }
        }
        double completed = jobs / ((System.nanoTime() - start) / 1e9);
        clients.shutdown();
        return new double[]{submitted, completed};
    }

    /** Calls {@code call} {@code rate} times a second for {@code seconds}, from 16 threads: how long each took. */
    static String paced(double rate, int seconds, Callable<?> call) throws Exception {
        int n = (int) (rate * seconds);
        long[] lat = new long[n];
        List<CompletableFuture<?>> all = new ArrayList<>();
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            LockSupport.parkNanos(start + (long) (i * 1e9 / rate) - System.nanoTime());
            int k = i;
            all.add(CompletableFuture.runAsync(() -> {
                long t0 = System.nanoTime();
                try {
                    call.call();
                    lat[k] = (System.nanoTime() - t0) / 1_000_000;
                } catch (Exception e) {
                    lat[k] = -1;
                }
            }, clients));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(300, TimeUnit.SECONDS);
        clients.shutdown();
        return summary(rate, lat);
    }

    static String summary(double rate, long[] lat) {
        long failed = Arrays.stream(lat).filter(v -> v < 0).count();
        long[] ok = Arrays.stream(lat).filter(v -> v >= 0).sorted().toArray();
        return String.format("%,.0f, %d, %d, %,d of %,d", rate, pct(ok, 0.5), pct(ok, 0.99), ok.length,
                lat.length) + (failed > 0 ? " (" + failed + " failed)" : "");
    }

    static String submit(HttpClient http, URI submit, byte[] body) throws Exception {
        HttpResponse<String> a = http.send(HttpRequest.newBuilder(submit).PUT(HttpRequest.BodyPublishers
                .ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
        Matcher m = ID.matcher(a.body());
        if (a.statusCode() != 202 || !m.find()) {
            throw new IllegalStateException("submission refused: " + a.statusCode() + " " + a.body());
        }
        return m.group(1);
    }

    static CompletableFuture<HttpResponse<String>> poll(HttpClient http, URI base, String id) {
        return http.sendAsync(HttpRequest.newBuilder(base.resolve("/jobs/" + id + "?wait=60s"))
                .timeout(Duration.ofSeconds(90)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static double synchronous(HttpClient http, URI score, byte[] body, int n) throws Exception {
        AtomicInteger next = new AtomicInteger();
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        long start = System.nanoTime();
        List<Future<?>> running = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            running.add(clients.submit(() -> {
                while (next.getAndIncrement() < n) {
                    HttpResponse<byte[]> a = http.send(HttpRequest.newBuilder(score).PUT(HttpRequest.BodyPublishers
                            .ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofByteArray());
                    if (a.statusCode() != 200) {
                        throw new IllegalStateException("score answered " + a.statusCode());
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : running) {
            f.get();
        }
        clients.shutdown();
        return n / ((System.nanoTime() - start) / 1e9);
    }

    static long pct(long[] sorted, double q) {
        return sorted.length == 0 ? -1 : sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }
}
