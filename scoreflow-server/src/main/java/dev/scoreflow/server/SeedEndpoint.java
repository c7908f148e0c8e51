package dev.scoreflow.server;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.ModelNotFoundException;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.ServedModel;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The seed article's protocol: {@code PUT /score} and {@code PUT /models/{name}[/versions/{v}]/score}, body =
 * little-endian float32 rows, answer = one little-endian float32 score per row.
 */
final class SeedEndpoint {
    /** Content types a binary body may be sent with (none at all is accepted too). */
    static final Set<String> BINARY_TYPES = Set.of("application/octet-stream", "application/binary",
            "application/x-binary");

    /** Optional request header: the number of features per row the client sends. */
    static final String FEATURES_HEADER = "Scoreflow-Features";

    private final ModelRepository repository;
    private final String defaultModel;

    SeedEndpoint(ModelRepository repository, String defaultModel) {
        this.repository = repository;
        this.defaultModel = defaultModel;
    }

    /** Scores the body with model {@code name} (null: the default model), version {@code version} (null: latest). */
    CompletableFuture<Answer> score(Exchange ex, String name, String version) {
        String encoding = RequestDecompressor.refusal(ex.request.headers());
        if (encoding != null) {
            return CompletableFuture.completedFuture(Answer.of(Answer.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
                    encoding)).about(name == null ? "" : name, "seed", 0));
        }
        String type = ex.mediaType();
        if (type != null && !BINARY_TYPES.contains(type)) {
            return CompletableFuture.completedFuture(Answer.of(Answer.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
                    "unsupported content type '" + type + "'; send raw little-endian float32 rows as "
                            + SeedBinaryCodec.CONTENT_TYPE)).about(name == null ? "" : name, "seed", 0));
        }
        ServedModel model = name == null ? defaultModel() : repository.get(name, version);
        int features = model.signature().featureCount();
        int rows;
        try {
            checkDeclaredFeatures(ex, model);
            rows = SeedBinaryCodec.rows(ex.bodyLength(), features);
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(Answer.of(Answer.error(e)).about(model.name(), "seed", 0));
        }
        FloatMatrix matrix = new ByteBufMatrix(ex.request.content(), rows, features);
        CompletableFuture<float[]> scores;
        try {
            scores = model.score(matrix, ex.deadline(), true); // on the event loop: a quick batch runs here
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(Answer.of(Answer.error(e)).about(model.name(), "seed", rows));
        }
        return scores.handle((s, err) -> {
            Answer a = err == null
                    ? Answer.of(Answer.body(HttpResponseStatus.OK, Unpooled.wrappedBuffer(SeedBinaryCodec.encode(s)),
                    SeedBinaryCodec.CONTENT_TYPE))
                    : Answer.of(Answer.error(err));
            return a.about(model.name(), "seed", rows);
        });
    }

    /**
     * A raw body cannot show its row width (10 rows of 26 floats are 13 rows of 20), so a client may declare it in
     * {@value #FEATURES_HEADER} and get a 400 instead of wrong scores.
     */
    private static void checkDeclaredFeatures(Exchange ex, ServedModel model) {
        String declared = ex.request.headers().get(FEATURES_HEADER);
        if (declared == null) {
            return;
        }
        int features = model.signature().featureCount();
        if (!declared.trim().equals(Integer.toString(features))) {
            throw new BadInputException("the request declares " + FEATURES_HEADER + ": " + declared.trim()
                    + ", but model '" + model.name() + "' takes " + features + " features per row");
        }
    }

    private ServedModel defaultModel() {
        if (defaultModel != null) {
            return repository.get(defaultModel, null);
        }
        List<String> ready = repository.readyNames();
        if (ready.size() == 1) {
            return repository.get(ready.get(0), null);
        }
        throw new ModelNotFoundException(ready.isEmpty() ? "no model is loaded"
                : "several models are loaded " + ready + "; PUT to /models/{name}/score or start the server with"
                + " --default-model");
    }
}
