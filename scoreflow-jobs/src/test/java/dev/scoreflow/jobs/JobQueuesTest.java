package dev.scoreflow.jobs;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Queue URLs: what they open, and clear errors for what they cannot. */
class JobQueuesTest {

    @Test
    void aPostgresUrlOpensTheNamedQueueWithItsSettings() {
        try (JobQueue q = JobQueues.open("postgresql://postgres@127.0.0.1:5432/test?queue=urls-"
                + Long.toHexString(System.nanoTime()) + "&visibility=1500ms&max-receives=3&fifo=true")) {
            assertThat(q).isInstanceOf(PostgresJobQueue.class);
            assertThat(q.settings()).isEqualTo(new QueueSettings(Duration.ofMillis(1500), 3, true,
                    QueueSettings.defaults().keepFinished()));
        }
    }

    @Test
    void anAmqpUrlOpensARabbitQueueWithItsPostgresStoreAndSettings() throws Exception {
        String name = "urls-" + Long.toHexString(System.nanoTime());
        try (JobQueue q = JobQueues.open("amqp://guest:guest@127.0.0.1:5672/?store=postgresql://postgres@127.0.0.1:"
                + "5432/test&queue=" + name + "&visibility=1500ms&max-receives=3&fifo=true&prefetch=4")) {
            assertThat(q).isInstanceOf(RabbitJobQueue.class);
            assertThat(q.settings()).isEqualTo(new QueueSettings(Duration.ofMillis(1500), 3, true,
                    QueueSettings.defaults().keepFinished()));
        } finally {
            RabbitJobQueueTest.deleteFromBroker(name);
        }
    }

    @Test
    void embeddedIsRefusedSayingWhichCommandStartsItAndWhichUrlToGiveInstead() {
        for (String url : java.util.List.of("embedded", "embedded?port=0&visibility=2s")) {
            assertThatThrownBy(() -> JobQueues.open(url)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("embedded: the embedded queue is a Kafka broker that 'scoreflow serve "
                            + "--jobs embedded' starts inside the server")
                    .hasMessageContaining("'jobs queue kafka://HOST:PORT'")
                    .hasMessageContaining("--queue kafka://HOST:PORT as printed");
        }
    }

    @Test
    void badUrlsAreRefusedSayingWhatIsWrong() {
        assertThatThrownBy(() -> JobQueues.open("mysql://h/db")).hasMessageContaining("unknown queue URL scheme 'mysql'");
        assertThatThrownBy(() -> JobQueues.open("amqp://guest@127.0.0.1"))
                .hasMessageContaining("needs store=postgresql://");
        assertThatThrownBy(() -> JobQueues.open("amqp://guest@127.0.0.1?store=mysql://h/db"))
                .hasMessageContaining("store must be a postgresql:// URL");
        assertThatThrownBy(() -> JobQueues.open("amqp://127.0.0.1?store=postgresql://127.0.0.1/test&prefetch=0"))
                .hasMessageContaining("prefetch must be in [1, 65535], got 0");
        assertThatThrownBy(() -> JobQueues.open("amqps://guest@127.0.0.1"))
                .hasMessageStartingWith("amqps:// (RabbitMQ over TLS) is not supported")
                .hasMessageContaining("through a local TLS tunnel").hasMessageContaining("amqp://127.0.0.1:<tunnel port>");
        assertThatThrownBy(() -> JobQueues.open("postgresql://127.0.0.1")).hasMessageContaining("needs a host and a database");
        assertThatThrownBy(() -> JobQueues.open("postgresql://127.0.0.1/test?colour=blue"))
                .hasMessageContaining("unknown queue URL parameter 'colour'");
        assertThatThrownBy(() -> JobQueues.open("postgresql://127.0.0.1/test?visibility=soon"))
                .hasMessageContaining("visibility must be a duration like 500ms, 30s, 5m or 1h, got 'soon'");
        assertThatThrownBy(() -> JobQueues.open("postgresql://127.0.0.1/test?max-receives=x"))
                .hasMessageContaining("max-receives must be an integer");
    }
}
