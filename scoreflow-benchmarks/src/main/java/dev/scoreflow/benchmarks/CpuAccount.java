package dev.scoreflow.benchmarks;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * CPU time spent by each part of a remote scoring path while a benchmark runs, so that a rows/s figure can be split
 * into per-row CPU costs: this JVM's threads grouped by name (Spark's task threads, the Scoreflow client's event
 * loops, the JDK HttpClient's threads, the rest: driver, GC, JIT) and other processes read from
 * {@code /proc/PID/stat} (the server, the latency proxy). A part's cost per row is its CPU time over the rows scored;
 * the sum over parts against the cores available gives the path's CPU ceiling.
 */
final class CpuAccount {
    /** Thread-name prefixes of this JVM's parts; a thread matching none is counted in "jvm-other". */
    private static final String[][] GROUPS = {
            {"spark-tasks", "Executor task launch worker"},
            {"client-io", "scoreflow-client"},
            {"jdk-http", "HttpClient"}};
    private static final long TICK_NANOS = 10_000_000L; // USER_HZ is 100 on Linux
    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private final com.sun.management.OperatingSystemMXBean os =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private final Map<String, Long> pids;

    /** {@code pids}: name to process id of the other processes to account, e.g. server and proxy. */
    CpuAccount(Map<String, Long> pids) {
        this.pids = pids;
        threads.setThreadCpuTimeEnabled(true);
    }

    /** Parses {@code name=pid,name=pid} (empty: none). */
    static CpuAccount of(String spec) {
        Map<String, Long> pids = new LinkedHashMap<>();
        if (spec != null && !spec.isBlank()) {
            for (String part : spec.split(",")) {
                String[] kv = part.split("=", 2);
                pids.put(kv[0].trim(), Long.parseLong(kv[1].trim()));
            }
        }
        return new CpuAccount(pids);
    }

    /** CPU nanoseconds so far per part. Threads that ended since the last snapshot take their time with them. */
    Map<String, Long> snapshot() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String[] g : GROUPS) {
            out.put(g[0], 0L);
        }
        long grouped = 0;
        long[] ids = threads.getAllThreadIds();
        ThreadInfo[] infos = threads.getThreadInfo(ids);
        for (int i = 0; i < ids.length; i++) {
            if (infos[i] == null) {
                continue;
            }
            long cpu = threads.getThreadCpuTime(ids[i]);
            if (cpu < 0) {
                continue;
            }
            for (String[] g : GROUPS) {
                if (infos[i].getThreadName().startsWith(g[1])) {
                    out.merge(g[0], cpu, Long::sum);
                    grouped += cpu;
                    break;
                }
            }
        }
        out.put("jvm-other", os.getProcessCpuTime() - grouped);
        pids.forEach((name, pid) -> out.put(name, processCpu(pid)));
        return out;
    }

    /** Per-row microseconds of CPU per part between two snapshots, and their total, as {@code key=value} pairs. */
    static String perRow(Map<String, Long> before, Map<String, Long> after, long rows) {
        StringBuilder out = new StringBuilder();
        double total = 0;
        for (Map.Entry<String, Long> e : after.entrySet()) {
            double us = (e.getValue() - before.getOrDefault(e.getKey(), 0L)) / 1e3 / rows;
            total += us;
            out.append(String.format(Locale.ROOT, " cpu_us_per_row.%s=%.3f", e.getKey(), us));
        }
        return out.append(String.format(Locale.ROOT, " cpu_us_per_row.total=%.3f", total)).toString();
    }

    private static long processCpu(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // fields after the command name, which is in parentheses and may hold spaces
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * TICK_NANOS; // utime, stime
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the CPU time of process " + pid + ": " + e.getMessage(), e);
        }
    }
}
