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
    void badUrlsAreRefusedSayingWhatIsWrong() {
        assertThatThrownBy(() -> JobQueues.open("mysql://h/db")).hasMessageContaining("unknown queue URL scheme 'mysql'");
        assertThatThrownBy(() -> JobQueues.open("amqp://guest@127.0.0.1")).hasMessageContaining("not built yet");
        assertThatThrownBy(() -> JobQueues.open("postgresql://127.0.0.1")).hasMessageContaining("needs a host and a database");
        assertThatThrownBy(() -> JobQueues.open("postgresql://127.0.0.1/test?colour=blue"))
                .hasMessageContaining("unknown queue URL parameter 'colour'");
        assertThatThrownBy(() -> JobQueues.open("postgresql://127.0.0.1/test?visibility=soon"))
                .hasMessageContaining("visibility must be a duration like 500ms, 30s, 5m or 1h, got 'soon'");
        assertThatThrownBy(() -> JobQueues.open("postgresql://127.0.0.1/test?max-receives=x"))
                .hasMessageContaining("max-receives must be an integer");
    }
}
