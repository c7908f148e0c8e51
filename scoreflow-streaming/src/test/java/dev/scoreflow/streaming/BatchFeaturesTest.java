package dev.scoreflow.streaming;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.scoreflow.streaming.ScoringTopologyTest.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The features of a file of events, in file order, per entity, skipping what the stream would dead-letter. */
class BatchFeaturesTest {
    @TempDir
    Path dir;

    @Test
    void writesEachEventsFeaturesFromItsEntitysHistoryAndSkipsWhatTheStreamWouldDeadLetter() throws Exception {
        long t = 1_767_225_600_000L;
        Path events = Files.write(dir.resolve("events.jsonl"), List.of(
                event("e1", "a", t, 10, "FR").replace("}", ",\"label\":1}"),
                event("e2", "b", t + 1_000, 5, "DE"),
                "not json",
                event("e3", "a", t + 2_000, 30, "FR"),
                event("e4", "a", t + 120_000, 1, "FR")));
        FeatureSpec spec = FeatureSpec.parse("n = count() over 1m\ntotal = sum(amount) over 1m", "test");

        BatchFeatures.Summary done = BatchFeatures.writeCsv(events, spec, List.of("label"), 0, dir.resolve("f.csv"));

        assertThat(done).isEqualTo(new BatchFeatures.Summary(4, 1));
        List<String> rows = Files.readAllLines(dir.resolve("f.csv"));
        assertThat(rows.get(0)).isEqualTo("event_id,n,total,label");
        assertThat(rows).hasSize(5);
        String[] e1 = rows.get(1).split(",", -1);
        String[] e3 = rows.get(3).split(",", -1);
        String[] e4 = rows.get(4).split(",", -1);
        assertThat(e1[0]).isEqualTo("e1");
        assertThat(e1[3]).isEqualTo("1");
        assertThat(e3[3]).isEmpty();
        // e3 sees e1 in its minute, e4 (two minutes on) sees neither: the entity's history, as the stream keeps it
        assertThat(Float.parseFloat(e3[1])).isEqualTo(Float.parseFloat(e1[1]) + 1);
        assertThat(Float.parseFloat(e4[1])).isEqualTo(Float.parseFloat(e1[1]));
        assertThat(rows.get(2)).startsWith("e2,").endsWith(",");
    }

    @Test
    void aMissingFileIsAStreamingException() {
        FeatureSpec spec = FeatureSpec.parse("n = count() over 1m", "test");
        assertThatThrownBy(() -> BatchFeatures.writeCsv(dir.resolve("none.jsonl"), spec, List.of(), 0,
                dir.resolve("f.csv"))).isInstanceOf(StreamingException.class).hasMessageContaining("none.jsonl");
    }
}
