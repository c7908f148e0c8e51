package dev.scoreflow.jobs;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.CapacityExceededException;
import dev.scoreflow.api.DeadlineExceededException;
import dev.scoreflow.api.FloatMatrix;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.ScoreflowException;
import dev.scoreflow.api.SeedBinaryCodec;
import dev.scoreflow.runtime.ModelConfig;
import dev.scoreflow.runtime.OnnxModel;
import dev.scoreflow.runtime.TestModels;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static dev.scoreflow.jobs.PostgresJobQueueTest.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Fully asynchronous request-reply on the machine's real RabbitMQ: {@link RabbitScoringService} instances scoring
 * with a real ONNX model and {@link RabbitScoringClient}; every reply matches the in-process model and its request's
 * correlation id; errors, timeouts, the in-flight bound and close fail futures as documented.
 */
class RabbitRequestReplyTest {
    static final String URI = "amqp://guest:guest@127.0.0.1:5672/";
    static final Duration WAIT = Duration.ofSeconds(60);
    static Model model;
    static int n;
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeAll
    static void load() {
        model = OnnxModel.load(TestModels.example(), ModelConfig.defaults(), 1);
        n = model.signature().featureCount();
    }

    @AfterAll
    static void unload() {
        model.close();
    }

    final List<String> queues = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        try (Connection c = RabbitJobQueueTest.connect(); Channel ch = c.createChannel()) {
            for (String q : queues) {
                ch.queueDelete(q); // durable quorum queues: a Raft group each on the broker
            }
        }
    }

    <T extends AutoCloseable> T keep(T c) {
        open.add(c);
        return c;
    }

    String queue(String what) {
        String q = "rpc-" + what + "-" + Long.toHexString(System.nanoTime());
        queues.add(q);
        return q;
    }

    static FloatMatrix rows(Random random) {
        int rows = 1 + random.nextInt(20);
        return FloatMatrix.of(TestModels.noisyRows(TestModels.example(), rows, n, random.nextLong()), rows, n);
    }

    static void assertScoredInProcess(FloatMatrix rows, float[] got) {
        float[] expected = model.score(rows);
        assertThat(got).hasSize(rows.rows());
        for (int i = 0; i < got.length; i++) {
            assertThat(got[i]).as("score of row " + i).isCloseTo(expected[i], Offset.offset(1e-5f));
        }
    }

    @Test
    void answersConcurrentRequestsWithTheModelsScoresMatchedByCorrelationIdAcrossTwoInstances() throws Exception {
        String q = queue("many");
        RabbitScoringService a = keep(RabbitScoringService.start(URI, model, q, 2, 4));
        RabbitScoringService b = keep(RabbitScoringService.start(URI, model, q, 2, 4));
        RabbitScoringClient client = keep(RabbitScoringClient.builder(URI, q).build());
        Random random = new Random(42);
        List<FloatMatrix> sent = new ArrayList<>();
        List<CompletableFuture<float[]>> replies = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            FloatMatrix m = rows(random);
            sent.add(m);
            replies.add(client.score(m));
        }
        for (int i = 0; i < sent.size(); i++) {
            assertScoredInProcess(sent.get(i), replies.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS));
        }
        assertThat(client.pending()).isZero();
        assertThat(a.scored() + b.scored()).isEqualTo(300);
        assertThat(a.scored()).as("both instances took requests").isPositive();
        assertThat(b.scored()).as("both instances took requests").isPositive();
    }

    @Test
    void repliesToAnyReplyToQueueWithTheRequestsCorrelationId() throws Exception {
        String q = queue("raw");
        keep(RabbitScoringService.start(URI, model, q, 1, 1));
        Connection c = keep(RabbitScoringService.connect(URI, "rpc-test"));
        Channel ch = c.createChannel();
        String replies = ch.queueDeclare().getQueue(); // exclusive, server-named
        FloatMatrix m = rows(new Random(3));
        ByteBuffer body = SeedBinaryCodec.encode(m);
        byte[] bytes = new byte[body.remaining()];
        body.get(bytes);
        ch.basicPublish("", q, new AMQP.BasicProperties.Builder().correlationId("order-17").replyTo(replies).build(),
                bytes);
        GetResponse[] got = new GetResponse[1];
        await("the reply", WAIT, () -> {
            try {
                return (got[0] = ch.basicGet(replies, true)) != null;
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
        });
        assertThat(got[0].getProps().getCorrelationId()).isEqualTo("order-17");
        assertScoredInProcess(m, SeedBinaryCodec.decodeScores(ByteBuffer.wrap(got[0].getBody())));
    }

    @Test
    void aBadRequestGetsAnErrorReplyAndOneWithoutReplyToIsDroppedAndCounted() throws Exception {
        String q = queue("bad");
        RabbitScoringService s = keep(RabbitScoringService.start(URI, model, q, 1, 1));
        RabbitScoringClient client = keep(RabbitScoringClient.builder(URI, q).build());
        CompletableFuture<float[]> wrong = client.score(FloatMatrix.of(new float[n + 1], 1, n + 1));
        assertThatThrownBy(() -> wrong.get(WAIT.toSeconds(), TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).cause().isInstanceOf(BadInputException.class);
        Connection c = keep(RabbitScoringService.connect(URI, "rpc-test"));
        try (Channel ch = c.createChannel()) {
            ch.basicPublish("", q, new AMQP.BasicProperties.Builder().correlationId("nowhere").build(), new byte[4]);
        }
        await("the request without reply_to dropped", WAIT, () -> s.unanswered() == 1);
        assertThat(s.badInput()).isEqualTo(1);
        CompletableFuture<float[]> fine = client.score(rows(new Random(5)));
        assertThat(fine.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isNotEmpty();
    }

    @Test
    void withoutAServiceRequestsTimeOutTheInFlightBoundRefusesAtOnceAndCloseFailsThePending() throws Exception {
        String q = queue("idle");
        Connection c = keep(RabbitScoringService.connect(URI, "rpc-test"));
        try (Channel ch = c.createChannel()) {
            ch.queueDeclare(q, false, false, true, Map.of()); // a queue nobody serves
        }
        RabbitScoringClient client = keep(RabbitScoringClient.builder(URI, q).maxInFlight(2).build());
        CompletableFuture<float[]> late = client.score(rows(new Random(1)), Duration.ofMillis(300));
        assertThatThrownBy(() -> late.get(WAIT.toSeconds(), TimeUnit.SECONDS)).cause()
                .isInstanceOf(DeadlineExceededException.class);
        CompletableFuture<float[]> first = client.score(rows(new Random(2)));
        CompletableFuture<float[]> second = client.score(rows(new Random(3)));
        CompletableFuture<float[]> third = client.score(rows(new Random(4)));
        assertThat(third).isCompletedExceptionally();
        assertThatThrownBy(third::join).cause().isInstanceOf(CapacityExceededException.class);
        client.close();
        for (CompletableFuture<float[]> f : List.of(first, second)) {
            assertThatThrownBy(() -> f.get(WAIT.toSeconds(), TimeUnit.SECONDS)).cause()
                    .isInstanceOf(ScoreflowException.class).hasMessageContaining("closed");
        }
        assertThat(client.pending()).isZero();
    }

    @Test
    void aRequestToAQueueThatDoesNotExistFailsAtOnceInsteadOfTimingOut() throws Exception {
        RabbitScoringClient client = keep(RabbitScoringClient.builder(URI, queue("missing")).build());
        CompletableFuture<float[]> f = client.score(rows(new Random(9)), Duration.ofSeconds(50));
        assertThatThrownBy(() -> f.get(20, TimeUnit.SECONDS)).cause().isInstanceOf(ScoreflowException.class)
                .hasMessageContaining("could not be routed");
    }
}
