package dev.scoreflow.server;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.InferInput;
import dev.scoreflow.api.InferOutput;
import dev.scoreflow.api.InferenceRequest;
import dev.scoreflow.api.InferenceResponse;
import dev.scoreflow.api.ModelSignature;
import dev.scoreflow.api.RequestedOutput;
import dev.scoreflow.api.V2Codec;
import dev.scoreflow.api.Tensor;
import dev.scoreflow.api.TensorSpec;
import dev.scoreflow.api.V2Message;
import dev.scoreflow.api.internal.Json;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.ModelStatus;
import dev.scoreflow.runtime.ServedModel;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

/**
 * The Open Inference Protocol (KServe V2) REST endpoints with Triton's binary tensor data extension, and
 * Triton's model repository extension (index, load, unload).
 *
 * <p>A model is presented with one FP32 input {@code [-1, features]} under the model's input name, and these
 * outputs: {@code score} FP32 {@code [-1, 1]} if the model has a score, {@code prediction} INT32 {@code [-1, 1]}
 * (1 when score >= threshold) if it also has a threshold, then every output of the model itself that Scoreflow
 * serves (FP32, FP64, INT64, INT32, BOOL, BYTES tensors; a ZipMap as FP32 {@code [-1, classes]} whose metadata
 * {@code parameters.class_labels} holds the column labels as JSON text). A model output named {@code score} or
 * {@code prediction} is hidden by the convenience output of that name.
 *
 * <p>Without {@code outputs} in the request, a model with a score answers score (and prediction), as the seed
 * protocol; a model without a score answers all its outputs. A request for score and prediction only takes the
 * fast float[] path; one that names any other output runs the model for those outputs (still batched with other
 * requests), and its score, if asked too, is read from the score output's tensor.
 */
final class V2Endpoint {
    static final String SCORE = "score";
    static final String PREDICTION = "prediction";
    /**
     * Content types an inference request may have (none at all is accepted too). curl's {@code -d} sends the form
     * type; Triton reads such a body as JSON, and so does Scoreflow.
     */
    private static final Set<String> JSON_TYPES = Set.of("application/json", "application/octet-stream",
            "application/binary", "text/plain", "application/x-www-form-urlencoded");

    private final ModelRepository repository;
    private final String serverVersion;
    private final BooleanSupplier draining;
    private final Readiness readiness;

    V2Endpoint(ModelRepository repository, String serverVersion, BooleanSupplier draining, Readiness readiness) {
        this.repository = repository;
        this.serverVersion = serverVersion;
        this.draining = draining;
        this.readiness = readiness;
    }

    FullHttpResponse serverMetadata() {
        return Answer.json(HttpResponseStatus.OK, Map.of("name", "scoreflow", "version", serverVersion,
                "extensions", List.of("binary_tensor_data", "model_repository", "schedule_policy")));
    }

    FullHttpResponse live() {
        return Answer.json(HttpResponseStatus.OK, Map.of("live", true));
    }

    /**
     * {@code GET /v2/health/ready}: 200 when the server can serve (see {@link Readiness}); else 503 with an
     * {@code error} that says why, and {@code not_ready}: each model version that is not ready, with its reason.
     */
    FullHttpResponse ready() {
        if (draining.getAsBoolean()) {
            return notReady("the server is draining (shutting down)", List.of());
        }
        List<ModelStatus> failed = repository.notReady();
        if (repository.readyNames().isEmpty()) {
            return notReady("no model is ready" + describe(failed), failed);
        }
        if (readiness == Readiness.STRICT && !failed.isEmpty()) {
            return notReady("not every model is ready (strict readiness; the lenient setting is ready while one"
                    + " model is)" + describe(failed), failed);
        }
        return Answer.json(HttpResponseStatus.OK, Map.of("ready", true));
    }

    private static String describe(List<ModelStatus> failed) {
        List<String> parts = new ArrayList<>();
        for (ModelStatus s : failed) {
            parts.add("model " + s.name() + " version " + s.version() + ": " + s.reason());
        }
        return parts.isEmpty() ? "" : "; " + String.join("; ", parts);
    }

    private static FullHttpResponse notReady(String error, List<ModelStatus> failed) {
        List<Object> models = new ArrayList<>();
        for (ModelStatus s : failed) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", s.name());
            m.put("version", s.version());
            m.put("state", s.state().name());
            m.put("reason", s.reason());
            models.add(m);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("ready", false);
        body.put("error", error);
        body.put("not_ready", models);
        return Answer.json(HttpResponseStatus.SERVICE_UNAVAILABLE, body);
    }

    FullHttpResponse modelReady(String name, String version) {
        ServedModel m = repository.get(name, version);
        return Answer.json(HttpResponseStatus.OK, Map.of("name", m.name(), "version", m.version(), "ready", true));
    }

    FullHttpResponse modelMetadata(String name, String version) {
        ServedModel m = repository.get(name, version);
        ModelSignature sig = m.signature();
        List<String> versions = new ArrayList<>();
        for (ModelStatus s : repository.index()) {
            if (s.name().equals(name) && s.state() == ModelStatus.State.READY) {
                versions.add(s.version());
            }
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", m.name());
        body.put("versions", versions);
        body.put("platform", m.platform());
        body.put("inputs", List.of(tensor(sig.inputName(), "FP32", List.of(-1L, (long) sig.featureCount()))));
        List<Object> outputs = new ArrayList<>();
        if (sig.hasScore()) {
            outputs.add(tensor(SCORE, "FP32", List.of(-1L, 1L)));
            if (m.config().threshold() != null) {
                outputs.add(tensor(PREDICTION, "INT32", List.of(-1L, 1L)));
            }
        }
        for (String output : modelOutputs(m)) {
            TensorSpec spec = sig.output(output);
            Map<String, Object> t = tensor(output, spec.datatype(), spec.shape());
            if (spec.classLabels() != null) {
                // parameter values are strings, numbers or booleans: the labels go as JSON text
                t.put("parameters", Map.of("class_labels", Json.write(spec.classLabels())));
            }
            outputs.add(t);
        }
        body.put("outputs", outputs);
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("score", sig.description());
        if (m.config().threshold() != null) {
            params.put("threshold", m.config().threshold());
        }
        if (m.config().description() != null) {
            params.put("description", m.config().description());
        }
        body.put("parameters", params);
        return Answer.json(HttpResponseStatus.OK, body);
    }

    private static Map<String, Object> tensor(String name, String datatype, List<Long> shape) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("name", name);
        t.put("datatype", datatype);
        t.put("shape", shape);
        return t;
    }

    /** {@code POST /v2/models/{name}[/versions/{v}]/infer}. */
    CompletableFuture<Answer> infer(Exchange ex, String name, String version) {
        String encoding = RequestDecompressor.refusal(ex.request.headers());
        if (encoding != null) {
            return CompletableFuture.completedFuture(Answer.of(Answer.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
                    encoding)).about(name, "v2", 0));
        }
        String type = ex.mediaType();
        if (type != null && !JSON_TYPES.contains(type) && !type.endsWith("+json")) {
            return CompletableFuture.completedFuture(Answer.of(Answer.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
                    "unsupported content type '" + type + "'; send application/json, or application/octet-stream"
                            + " with " + V2Codec.HEADER_LENGTH)).about(name, "v2", 0));
        }
        ServedModel model = repository.get(name, version);
        InferenceRequest req;
        long rows = 0;
        try {
            req = V2Codec.decodeRequest(ex.body(), headerLength(ex));
            InferInput input = input(req, model);
            rows = input.data().rows();
            long deadline = deadline(ex, req);
            long rowCount = rows;
            List<RequestedOutput> wanted = wanted(req, model);
            Set<String> fromModel = new LinkedHashSet<>();
            boolean scoreWanted = false;
            for (RequestedOutput o : wanted) {
                if (o.name().equals(SCORE) || o.name().equals(PREDICTION)) {
                    scoreWanted = true;
                } else {
                    fromModel.add(o.name());
                }
            }
            if (fromModel.isEmpty()) {
                // score and prediction only: the fast path, as the seed protocol
                return model.score(input.data(), deadline, true).handle((scores, err) -> err != null
                        ? Answer.of(Answer.error(err)).about(model.name(), "v2", rowCount)
                        : Answer.of(response(model, req, wanted, scores, Map.of())).about(model.name(), "v2",
                        rowCount));
            }
            String scoreOutput = model.signature().scoreOutput();
            Set<String> fetch = new LinkedHashSet<>(fromModel);
            if (scoreWanted) {
                fetch.add(scoreOutput);
            }
            boolean withScore = scoreWanted;
            return model.infer(input.data(), fetch, deadline).handle((values, err) -> {
                if (err != null) {
                    return Answer.of(Answer.error(err)).about(model.name(), "v2", rowCount);
                }
                float[] scores = withScore ? values.get(scoreOutput).column(model.signature().scoreIndex()) : null;
                return Answer.of(response(model, req, wanted, scores, values)).about(model.name(), "v2", rowCount);
            });
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(Answer.of(Answer.error(e)).about(model.name(), "v2", rows));
        }
    }

    private static long headerLength(Exchange ex) {
        String h = ex.request.headers().get(V2Codec.HEADER_LENGTH);
        if (h == null) {
            return -1;
        }
        try {
            long n = Long.parseLong(h.trim());
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new BadInputException(V2Codec.HEADER_LENGTH + " must be a non-negative integer, got '" + h + "'");
        }
    }

    private static InferInput input(InferenceRequest req, ServedModel model) {
        ModelSignature sig = model.signature();
        if (req.inputs().size() != 1) {
            throw new BadInputException("model '" + model.name() + "' takes one input '" + sig.inputName()
                    + "', the request has " + req.inputs().size());
        }
        InferInput in = req.inputs().get(0);
        if (!in.name().equals(sig.inputName())) {
            throw new BadInputException("model '" + model.name() + "' has input '" + sig.inputName()
                    + "', the request sent '" + in.name() + "'");
        }
        if (in.data().cols() != sig.featureCount()) {
            throw new BadInputException("input '" + in.name() + "' has shape " + in.shape() + "; model '"
                    + model.name() + "' takes [rows, " + sig.featureCount() + "]");
        }
        return in;
    }

    /**
     * The outputs to answer, in order: those asked for, each checked against the model (400 naming the available
     * outputs otherwise); without any, score and prediction for a model with a score, else all its outputs.
     */
    private static List<RequestedOutput> wanted(InferenceRequest req, ServedModel model) {
        List<String> available = available(model);
        if (req.outputs().isEmpty()) {
            List<RequestedOutput> all = new ArrayList<>();
            for (String name : model.signature().hasScore() ? available.subList(0, available.size()
                    - modelOutputs(model).size()) : available) {
                all.add(new RequestedOutput(name, null));
            }
            return all;
        }
        for (RequestedOutput o : req.outputs()) {
            if (!available.contains(o.name())) {
                throw new BadInputException("model '" + model.name() + "' has no output '" + o.name()
                        + "'; outputs: " + available + (model.signature().hasScore() || !o.name().equals(SCORE)
                        ? "" : " (" + model.signature().description() + ")"));
            }
        }
        return req.outputs();
    }

    /** Every output name a request may ask of the model: score and prediction first, then the model's own. */
    private static List<String> available(ServedModel model) {
        List<String> names = new ArrayList<>();
        if (model.signature().hasScore()) {
            names.add(SCORE);
            if (model.config().threshold() != null) {
                names.add(PREDICTION);
            }
        }
        names.addAll(modelOutputs(model));
        return names;
    }

    /** The model's own outputs served by name (one called score or prediction is hidden by Scoreflow's). */
    private static List<String> modelOutputs(ServedModel model) {
        List<String> names = new ArrayList<>();
        for (String name : model.servedOutputs()) {
            if (!name.equals(SCORE) && !name.equals(PREDICTION)) {
                names.add(name);
            }
        }
        return names;
    }

    /** The deadline from the Triton-style {@code timeout} parameter (microseconds) or the timeout header. */
    private static long deadline(Exchange ex, InferenceRequest req) {
        long header = ex.deadline();
        Object t = req.parameters().get("timeout");
        if (t == null) {
            return header;
        }
        // the codec has checked it is a positive integer; a day is as long as any wait here can be
        long micros = Math.min(((Double) t).longValue(), 86_400_000_000L);
        return Math.min(header, ex.startNanos + micros * 1000);
    }

    private static FullHttpResponse response(ServedModel model, InferenceRequest req, List<RequestedOutput> wanted,
                                             float[] scores, Map<String, Tensor> values) {
        boolean binaryDefault = req.binaryDataOutput();
        Double threshold = model.config().threshold();
        List<InferOutput> outputs = new ArrayList<>();
        for (RequestedOutput o : wanted) {
            boolean binary = o.binaryData() != null ? o.binaryData() : binaryDefault;
            if (o.name().equals(SCORE)) {
                outputs.add(new InferOutput(SCORE, "FP32", List.of((long) scores.length, 1L), scores, binary));
            } else if (o.name().equals(PREDICTION)) {
                int[] p = new int[scores.length];
                for (int i = 0; i < p.length; i++) {
                    p[i] = scores[i] >= threshold ? 1 : 0;
                }
                outputs.add(new InferOutput(PREDICTION, "INT32", List.of((long) scores.length, 1L), p, binary));
            } else {
                outputs.add(InferOutput.of(o.name(), values.get(o.name()), binary));
            }
        }
        V2Message msg = V2Codec.encodeResponse(new InferenceResponse(model.name(), model.version(), req.id(),
                outputs));
        if (!msg.hasBinary()) {
            return Answer.bytes(HttpResponseStatus.OK, msg.json(), "application/json");
        }
        ByteBuf[] parts = new ByteBuf[1 + msg.binary().size()];
        parts[0] = Unpooled.wrappedBuffer(msg.json());
        for (int i = 0; i < msg.binary().size(); i++) {
            ByteBuffer b = msg.binary().get(i);
            parts[i + 1] = Unpooled.wrappedBuffer(b);
        }
        FullHttpResponse r = Answer.body(HttpResponseStatus.OK, Unpooled.wrappedBuffer(parts),
                "application/octet-stream");
        r.headers().setInt(V2Codec.HEADER_LENGTH, msg.headerLength());
        return r;
    }

    /** {@code POST /v2/repository/index}: every model version and its state. */
    FullHttpResponse index() {
        List<Object> out = new ArrayList<>();
        for (ModelStatus s : repository.index()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", s.name());
            m.put("version", s.version());
            m.put("state", s.state().name());
            if (s.reason() != null) {
                m.put("reason", s.reason());
            }
            out.add(m);
        }
        return Answer.json(HttpResponseStatus.OK, out);
    }

    /** {@code POST /v2/repository/models/{name}/load}: (re)loads a model from its files. */
    FullHttpResponse load(String name, ByteBuffer body) {
        V2Codec.decodeLoadRequest(body);
        repository.load(name);
        return Answer.json(HttpResponseStatus.OK, Map.of());
    }

    /** {@code POST /v2/repository/models/{name}/unload}. */
    FullHttpResponse unload(String name) {
        repository.unload(name);
        return Answer.json(HttpResponseStatus.OK, Map.of());
    }
}
