package dev.scoreflow.api;

import dev.scoreflow.api.internal.Metrics;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The registry behind {@code /metrics}: what the Prometheus client's text writer makes of our families. */
class MetricsTest {

    @Test
    void countersKeepTheirTotalSuffixInHeaderAndSamples() {
        Metrics m = new Metrics();
        Metrics.Counter bytes = m.counter("scoreflow_request_body_bytes_total", "body bytes", "read");
        bytes.labels("in_place").inc(3);
        bytes.inc(2, "copied");
        m.counter("scoreflow_connections_refused_total", "refused").inc(1);

        assertThat(m.render())
                .contains("# HELP scoreflow_request_body_bytes_total body bytes\n")
                .contains("# TYPE scoreflow_request_body_bytes_total counter\n")
                .contains("scoreflow_request_body_bytes_total{read=\"copied\"} 2.0\n")
                .contains("scoreflow_request_body_bytes_total{read=\"in_place\"} 3.0\n")
                // no braces on a sample without labels, and no _created samples
                .contains("scoreflow_connections_refused_total 1.0\n")
                .doesNotContain("{}")
                .doesNotContain("_created");
    }

    @Test
    void labelPairsAreWrittenInNameOrderAndSamplesInValueOrder() {
        Metrics m = new Metrics();
        Metrics.Counter requests = m.counter("scoreflow_requests_total", "requests", "model", "protocol", "code");
        requests.inc(1, "forest", "v2", "503");
        requests.inc(1, "example", "seed", "200");

        String text = m.render();
        assertThat(text).contains("scoreflow_requests_total{code=\"200\",model=\"example\",protocol=\"seed\"} 1.0\n"
                + "scoreflow_requests_total{code=\"503\",model=\"forest\",protocol=\"v2\"} 1.0\n");
    }

    @Test
    void histogramsHaveClassicBucketsOnly() {
        Metrics m = new Metrics();
        Metrics.Histogram rows = m.histogram("scoreflow_batch_rows", "rows per call", new double[]{1, 2, 4, 8},
                "model");
        rows.labels("example").observe(5);
        rows.observe(1, "example");

        assertThat(m.render()).contains("# TYPE scoreflow_batch_rows histogram\n"
                + "scoreflow_batch_rows_bucket{model=\"example\",le=\"1.0\"} 1\n"
                + "scoreflow_batch_rows_bucket{model=\"example\",le=\"2.0\"} 1\n"
                + "scoreflow_batch_rows_bucket{model=\"example\",le=\"4.0\"} 1\n"
                + "scoreflow_batch_rows_bucket{model=\"example\",le=\"8.0\"} 2\n"
                + "scoreflow_batch_rows_bucket{model=\"example\",le=\"+Inf\"} 2\n"
                + "scoreflow_batch_rows_count{model=\"example\"} 2\n"
                + "scoreflow_batch_rows_sum{model=\"example\"} 6.0\n");
    }

    @Test
    void familyWithoutLabelsShowsZeroFromTheStart() {
        Metrics m = new Metrics();
        m.counter("scoreflow_stream_events_in_total", "in");
        m.histogram("scoreflow_stream_event_to_score_seconds", "latency", new double[]{0.5});

        assertThat(m.render()).contains("scoreflow_stream_events_in_total 0.0\n")
                .contains("scoreflow_stream_event_to_score_seconds_count 0\n");
    }

    @Test
    void askingForAFamilyAgainReturnsTheSameOne() {
        Metrics m = new Metrics();
        Metrics.Counter a = m.counter("scoreflow_udp_datagrams_received_total", "received");
        a.inc(4);

        assertThat(m.counter("scoreflow_udp_datagrams_received_total", "")).isSameAs(a);
        assertThat(m.counter("scoreflow_udp_datagrams_received_total", "").value()).isEqualTo(4);
        assertThatThrownBy(() -> m.histogram("scoreflow_udp_datagrams_received_total", "", new double[]{1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("already a Counter");
    }

    @Test
    void readingACountCreatesNoSeries() {
        Metrics m = new Metrics();
        Metrics.Counter alerts = m.counter("scoreflow_stream_alerts_total", "alerts", "rule", "state");
        alerts.inc(2, "high", "firing");
        alerts.inc(1, "low", "firing");
        alerts.inc(1, "high", "resolved");

        assertThat(alerts.value("high", "firing")).isEqualTo(2);
        assertThat(alerts.value("nope", "firing")).isZero();
        assertThat(alerts.sum(labels -> labels.get(1).equals("firing"))).isEqualTo(3);
        assertThat(alerts.sum(labels -> labels.equals(List.of("high", "resolved")))).isEqualTo(1);
        assertThat(m.render()).doesNotContain("nope");
        assertThatThrownBy(() -> alerts.value("high")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[rule, state]");
    }

    @Test
    void keptChildAndCallByLabelValuesAddToOneSeries() {
        Metrics m = new Metrics();
        Metrics.Counter timeouts = m.counter("scoreflow_connection_timeouts_total", "timeouts", "phase");
        CounterDataPoint write = timeouts.labels("write");
        write.inc();
        timeouts.inc(1, "write");

        assertThat(timeouts.value("write")).isEqualTo(2);
        assertThat(m.render()).contains("scoreflow_connection_timeouts_total{phase=\"write\"} 2.0\n");
    }

    @Test
    void gaugesAreReadWhenScrapedAndLeaveOutWhatIsUnknown() {
        Metrics m = new Metrics();
        AtomicLong open = new AtomicLong(3);
        m.gauge("scoreflow_open_connections", "open", open::get);
        m.gauge("scoreflow_udp_kernel_drops", "drops", () -> Double.NaN);
        m.gauge("scoreflow_stream_lag_records", "lag", new String[]{"topic", "partition"}, sample -> { });

        assertThat(m.render()).contains("# TYPE scoreflow_open_connections gauge\nscoreflow_open_connections 3.0\n")
                // a family with no sample is left out, header and all
                .doesNotContain("scoreflow_udp_kernel_drops")
                .doesNotContain("scoreflow_stream_lag_records");
        open.set(5);
        assertThat(m.render()).contains("scoreflow_open_connections 5.0\n");
    }

    @Test
    void registeringAGaugeAgainReplacesItsCallback() {
        Metrics m = new Metrics();
        m.gauge("scoreflow_udp_kernel_drops", "drops", () -> 1);
        m.gauge("scoreflow_udp_kernel_drops", "drops", () -> 2);

        assertThat(m.render()).contains("scoreflow_udp_kernel_drops 2.0\n").doesNotContain("drops 1.0");
    }

    @Test
    void labelledGaugeWritesOneSamplePerCall() {
        Metrics m = new Metrics();
        m.gauge("scoreflow_stream_seconds_until_unread_deleted", "seconds", new String[]{"topic", "partition"},
                sample -> {
                    sample.call(10, "tx", "0");
                    sample.call(Double.POSITIVE_INFINITY, "tx", "1");
                });

        assertThat(m.render())
                .contains("scoreflow_stream_seconds_until_unread_deleted{partition=\"0\",topic=\"tx\"} 10.0\n")
                .contains("scoreflow_stream_seconds_until_unread_deleted{partition=\"1\",topic=\"tx\"} +Inf\n");
    }

    @Test
    void withJvmServesTheJvmFamiliesBesideOurs() {
        Metrics a = Metrics.withJvm();
        Metrics b = Metrics.withJvm();
        a.counter("scoreflow_rows_total", "rows", "model", "code").inc(5, "example", "200");

        String text = a.render();
        assertThat(text).contains("scoreflow_rows_total{code=\"200\",model=\"example\"} 5.0\n")
                .containsPattern("jvm_memory_used_bytes\\{area=\"heap\"} [0-9.eE+]+\n")
                .containsPattern("jvm_buffer_pool_used_bytes\\{pool=\"direct\"} [0-9.eE+]+\n")
                .contains("jvm_gc_collection_seconds_count", "jvm_threads_current");
        // each registry has its own families, the JVM's are shared
        assertThat(b.render()).contains("jvm_threads_current").doesNotContain("scoreflow_rows_total");
        assertThat(new Metrics().render()).doesNotContain("jvm_");
    }

    @Test
    void contentTypeIsTheTextFormats() {
        assertThat(Metrics.CONTENT_TYPE).startsWith("text/plain; version=0.0.4");
    }
}
