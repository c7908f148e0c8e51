package dev.scoreflow.streaming.app;

import dev.scoreflow.api.internal.Json;
import dev.scoreflow.api.internal.Log;
import dev.scoreflow.streaming.StreamingException;
import dev.scoreflow.streaming.internal.AlertThreshold;
import dev.scoreflow.streaming.internal.Durations;
import dev.scoreflow.streaming.internal.LagMonitor;
import dev.scoreflow.streaming.internal.Observation;
import dev.scoreflow.streaming.internal.PartitionLag;
import dev.scoreflow.streaming.internal.Retention;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * {@code scoreflow lag}: how far a consumer group is behind, and whether retention will delete what it has not read
 * first.
 */
@Command(name = "lag", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Show how far a consumer group (a Kafka Streams app: its application id) is behind on each "
                + "partition, and how soon Kafka's retention may delete records it has not read yet: Kafka deletes "
                + "by age (retention.ms) and size (retention.bytes) whether or not anyone has read them.",
                "Per partition: the committed offset, the log start and end offsets, the lag, records already "
                        + "deleted unread (LOST), the age of the oldest unread record and the time left before it "
                        + "may be deleted (its timestamp + retention.ms - now; the broker deletes whole segments, so "
                        + "the real deletion comes then or later), the retention and, with retention.bytes, the "
                        + "partition's size against it.",
                "Prints an ALERT line for each partition with records already lost or less time left than "
                        + "--alert-before. Exit status: 0 no alert; 2 an alert (when not watching; also a mistake "
                        + "on the command line); 1 an error (unknown group or topic, unreachable cluster). When "
                        + "watching, a look that fails after the first is reported on standard error and retried.",
                ""})
public final class LagCommand implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka;

    @Option(names = "--group", required = true, paramLabel = "ID", description = "Consumer group to check (a Kafka "
            + "Streams app's group is its application id).")
    String group;

    @Option(names = "--topic", paramLabel = "TOPIC", description = "Only this topic, every partition of it; where "
            + "the group has committed nothing, lag counts from the first record (default: every topic the group "
            + "has committed offsets for).")
    String topic;

    @Option(names = "--watch", paramLabel = "S", description = "Look again every S seconds until Ctrl-C "
            + "(default: look once and exit).")
    Double watch;

    @Option(names = "--alert-before", defaultValue = "20%", paramLabel = "TIME|PCT", description = "Alert when "
            + "the oldest unread record may be deleted sooner than this: a time (500ms, 30s, 10m, 2h, 1d) or a share "
            + "of the topic's retention.ms (default: ${DEFAULT-VALUE}).")
    String alertBefore;

    @Option(names = "--json", description = "Print each look as one JSON line instead of a table.")
    boolean json;

    PrintStream out = System.out;
    LongSupplier clock = System::currentTimeMillis;
    /** Where the monitor comes from: the cluster, or in tests made-up observations. */
    Supplier<LagMonitor> monitors = () -> LagMonitor.create(kafka.properties(), group, topic, clock);
    /** Looks to take when watching; tests stop the loop with it, users with Ctrl-C. */
    long maxLooks = Long.MAX_VALUE;

    @Override
    public Integer call() throws InterruptedException {
        AlertThreshold threshold = AlertThreshold.parse(alertBefore);
        if (watch != null && !(watch > 0)) {
            throw new IllegalArgumentException("--watch must be > 0 seconds, was " + watch);
        }
        try (LagMonitor monitor = monitors.get()) {
            for (long look = 1; ; look++) {
                int status;
                try {
                    status = look(monitor, threshold);
                } catch (StreamingException e) {
                    // a mistake shows at the first look; later, a broker restart should not end the watch
                    if (watch == null || look == 1) {
                        throw e;
                    }
                    Log.info("look " + look + " failed, trying again in " + watch + " s: " + e.getMessage());
                    status = 0;
                }
                if (watch == null) {
                    return status;
                }
                if (look >= maxLooks) {
                    return 0;
                }
                Thread.sleep(Math.round(watch * 1000));
            }
        }
    }

    /** One look: prints the table (or JSON) and the alerts; 2 if there are alerts, else 0. */
    private int look(LagMonitor monitor, AlertThreshold threshold) {
        List<PartitionLag> lags = monitor.poll();
        List<String> alerts = monitor.alerts(lags, threshold);
        if (json) {
            out.println(Json.write(json(group, lags, alerts)));
        } else {
            if (watch != null) {
                out.println("group " + group + " at " + Instant.ofEpochMilli(clock.getAsLong()));
            }
            out.print(table(lags));
            alerts.forEach(a -> out.println("ALERT " + a));
            if (watch != null) {
                out.println();
            }
        }
        out.flush();
        return alerts.isEmpty() ? 0 : 2;
    }

    /** The lags as an aligned text table, one line per partition after a header. */
    static String table(List<PartitionLag> lags) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[]{"TOPIC", "PARTITION", "COMMITTED", "START", "END", "LAG", "LOST", "OLDEST UNREAD",
            "TIME LEFT", "RETENTION", "SIZE"});
        for (PartitionLag l : lags) {
            Observation o = l.observed();
            rows.add(new String[]{l.topic(), Integer.toString(l.partition()),
                o.committed().isPresent() ? Long.toString(o.committed().getAsLong()) : "-",
                Long.toString(o.logStart()), Long.toString(o.logEnd()), Long.toString(l.lag()),
                l.lost() > 0 ? Long.toString(l.lost()) : "-", orDash(l.oldestUnreadAgeMs()), timeLeft(l),
                retention(o.retention()), size(o)});
        }
        int[] width = new int[rows.get(0).length];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                // numbers read best right-aligned; the topic name left-aligned
                String cell = i == 0 ? String.format("%-" + width[i] + "s", r[i])
                        : String.format("%" + width[i] + "s", r[i]);
                sb.append(i == 0 ? "" : "  ").append(cell);
            }
            sb.append(System.lineSeparator());
        }
        return sb.toString();
    }

    private static String timeLeft(PartitionLag l) {
        if (l.msUntilDeletion().isPresent()) {
            long left = l.msUntilDeletion().getAsLong();
            return left >= 0 ? Durations.format(left) : "overdue " + Durations.format(-left);
        }
        if (!l.unreadLeft()) {
            return "-";
        }
        return l.observed().retention().byTime() ? "?" : "never";
    }

    private static String retention(Retention r) {
        if (!r.byTime() && !r.bySize()) {
            return r.cleanupPolicy().contains("delete") ? "forever" : r.cleanupPolicy();
        }
        String time = r.byTime() ? Durations.format(r.ms()) : "";
        String size = r.bySize() ? bytes(r.bytes()) : "";
        return time.isEmpty() ? size : size.isEmpty() ? time : time + ", " + size;
    }

    private static String size(Observation o) {
        if (o.sizeBytes().isEmpty()) {
            return "-";
        }
        long size = o.sizeBytes().getAsLong();
        long limit = o.retention().bytes();
        return bytes(size) + (limit > 0 ? String.format(Locale.ROOT, " (%.0f%%)", 100.0 * size / limit) : "");
    }

    private static String orDash(OptionalLong ms) {
        return ms.isPresent() ? Durations.format(ms.getAsLong()) : "-";
    }

    /** A size in binary units: 512 B, 1.5 KiB, 20.0 MiB. */
    static String bytes(long b) {
        if (b < 1024) {
            return b + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = b;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** One look as a JSON object: group, time, partitions (the numbers, not the table's text) and alerts. */
    static Map<String, Object> json(String group, List<PartitionLag> lags, List<String> alerts) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("group", group);
        m.put("time", lags.isEmpty() ? null : lags.get(0).observedAt());
        List<Object> parts = new ArrayList<>();
        for (PartitionLag l : lags) {
            Observation o = l.observed();
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("topic", l.topic());
            p.put("partition", l.partition());
            p.put("committed", o.committed().isPresent() ? o.committed().getAsLong() : null);
            p.put("log_start", o.logStart());
            p.put("log_end", o.logEnd());
            p.put("lag", l.lag());
            p.put("lost", l.lost());
            p.put("oldest_unread_timestamp", boxed(o.oldestUnreadTimestamp()));
            p.put("oldest_unread_age_ms", boxed(l.oldestUnreadAgeMs()));
            p.put("ms_until_deletion", boxed(l.msUntilDeletion()));
            p.put("retention_ms", o.retention().ms());
            p.put("retention_bytes", o.retention().bytes());
            p.put("cleanup_policy", o.retention().cleanupPolicy());
            p.put("size_bytes", boxed(o.sizeBytes()));
            parts.add(p);
        }
        m.put("partitions", parts);
        m.put("alerts", alerts);
        return m;
    }

    private static Long boxed(OptionalLong v) {
        return v.isPresent() ? v.getAsLong() : null;
    }
}
