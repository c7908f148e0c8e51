package dev.scoreflow.plan;

import dev.scoreflow.api.internal.Json;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * A model on an Open Inference Protocol server, as the load of {@code plan --measure} and {@code plan replay} sees
 * it: its infer URL, its jobs URL (Scoreflow's request-acknowledge API) and a request body of the asked size built
 * from the model's metadata (one FP32 input of shape [-1, n]; seeded random features). Every call has a timeout.
 */
final class V2Target {
    static final Duration TIMEOUT = Duration.ofSeconds(10);
    final URI base;
    final String model;
    final byte[] body;
    final HttpClient http;

    private V2Target(URI base, String model, byte[] body, HttpClient http) {
        this.base = base;
        this.model = model;
        this.body = body;
        this.http = http;
    }

    /** Looks up {@code model} (null: the first ready one) on the server at {@code base} and builds its request. */
    static V2Target open(URI base, String model, int rows, long seed) {
        if (rows < 1 || rows > 100_000) {
            throw new IllegalArgumentException("rows must be in [1, 100000], was " + rows);
        }
        HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
        String root = base.toString().replaceAll("/+$", "");
        try {
            if (model == null) {
                Object index = call(http, HttpRequest.newBuilder(URI.create(root + "/v2/repository/index"))
                        .POST(HttpRequest.BodyPublishers.ofString("{\"ready\": true}")));
                if (!(index instanceof List<?> l) || l.isEmpty() || !(l.get(0) instanceof Map<?, ?> first)) {
                    throw new IllegalStateException(root + " has no ready model to measure; name one with --model");
                }
                model = String.valueOf(first.get("name"));
            }
            Object meta = call(http, HttpRequest.newBuilder(URI.create(root + "/v2/models/" + model)).GET());
            if (!(meta instanceof Map<?, ?> m) || !(m.get("inputs") instanceof List<?> inputs) || inputs.size() != 1
                    || !(inputs.get(0) instanceof Map<?, ?> input)) {
                throw new IllegalStateException("model " + model + " at " + root + " does not have exactly one input; "
                        + "the load needs one FP32 input of shape [-1, n]");
            }
            List<?> shape = (List<?>) input.get("shape");
            if (!"FP32".equals(input.get("datatype")) || shape == null || shape.size() != 2) {
                throw new IllegalStateException("model " + model + "'s input is " + input.get("datatype") + " "
                        + shape + "; the load needs FP32 [-1, n]");
            }
            int features = ((Number) shape.get(1)).intValue();
            Random random = new Random(seed);
            List<Object> data = new ArrayList<>(rows * features);
            for (int i = 0; i < rows * features; i++) {
                data.add((double) random.nextFloat());
            }
            Map<String, Object> tensor = new LinkedHashMap<>();
            tensor.put("name", input.get("name"));
            tensor.put("shape", List.of((long) rows, (long) features));
            tensor.put("datatype", "FP32");
            tensor.put("data", data);
            String json = Json.write(Map.of("inputs", List.of(tensor)));
            return new V2Target(URI.create(root), model, json.getBytes(java.nio.charset.StandardCharsets.UTF_8), http);
        } catch (IOException e) {
            throw new IllegalStateException("cannot reach " + root + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static Object call(HttpClient http, HttpRequest.Builder b) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(b.timeout(TIMEOUT).header("Content-Type", "application/json").build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException(r.request().method() + " " + r.uri() + " answered " + r.statusCode()
                    + ": " + r.body());
        }
        return Json.parse(r.body());
    }

    HttpRequest infer() {
        return HttpRequest.newBuilder(URI.create(base + "/v2/models/" + model + "/infer")).timeout(TIMEOUT)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    }

    HttpRequest submitJob() {
        return HttpRequest.newBuilder(URI.create(base + "/v2/models/" + model + "/jobs")).timeout(TIMEOUT)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    }

    /** A long poll for the job at {@code location} (as the 202 named it), for at most {@code waitSeconds}. */
    HttpRequest awaitJob(String location, int waitSeconds) {
        return HttpRequest.newBuilder(base.resolve(location + "?wait=" + waitSeconds + "s"))
                .timeout(Duration.ofSeconds(waitSeconds + 10)).GET().build();
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s model %s", base, model);
    }
}
