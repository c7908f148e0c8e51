package dev.scoreflow.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The plan's numbers as terminal tables: the load, then one row per design, side by side. */
public final class TextReport {
    private TextReport() {
    }

    public static String render(Planner.Report r) {
        Plan p = r.plan();
        Load l = r.load();
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "Plan: %s%n", p.name()));
        out.append(String.format(Locale.ROOT, "  %,d users x %s requests/day, %02d:00-%02d:00%s; request %s MB, "
                        + "response %s MB, %s bits/byte, %s; one server: %s requests/s (%s)%n",
                p.users(), trim(p.requestsPerUser()), p.dayStart(), p.dayEnd(), profile(p), trim(p.requestMegabytes()),
                trim(p.responseMegabytes()), trim(p.bitsPerByte()), p.encoding().name().toLowerCase(Locale.ROOT),
                trim(p.serviceRate()), p.serviceTime()));
        out.append(String.format(Locale.ROOT, "Load: %,.0f requests/day%n", l.requestsPerDay()));
        out.append(String.format(Locale.ROOT, "  average over the working hours %.2f requests/s: %.1f Mbit/s in, "
                + "%.2f Mbit/s out%n", l.averageRate(), l.megabitsIn(l.averageRate()), l.megabitsOut(l.averageRate())));
        String step = step(l.stepSeconds());
        out.append(String.format(Locale.ROOT, "  peak %s %s-%s %.2f requests/s (%,.0f requests): %.1f Mbit/s in%n",
                step, clock(l.peakStart()), clock(l.peakStart() + l.stepSeconds()), l.peakRate(),
                l.peakRate() * l.stepSeconds(), l.megabitsIn(l.peakRate())));
        if (l.stepSeconds() < 3600) {
            double hour = l.hourlyRates()[l.peakHour()];
            out.append(String.format(Locale.ROOT, "  hourly view: %02d:00-%02d:00 averages %.2f requests/s, %.1f "
                            + "Mbit/s in (the peak is %.1f times that)%n", l.peakHour(), l.peakHour() + 1, hour,
                    l.megabitsIn(hour), l.peakRate() / hour));
        }
        if (l.quietRate() < l.peakRate() - 1e-9) {
            out.append(String.format(Locale.ROOT, "  quietest working %s %.2f requests/s: %.1f Mbit/s in%n", step,
                    l.quietRate(), l.megabitsIn(l.quietRate())));
        }
        out.append(String.format(Locale.ROOT, "Servers of %s requests/s: %d for the peak (capacity >= %.2f "
                        + "requests/s); %d so that at most %s of requests wait at the peak (Erlang C, M/M/c)%n",
                trim(p.serviceRate()), r.serversForPeak(), l.peakRate(), r.serversSoFewWait(),
                trim(p.waitProbability() * 100) + " %"));
        out.append("Designs (one simulated day each, seed ").append(p.seed()).append("):\n");
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[]{"design", "capacity/s", "per day", "util work", "util peak", "efficiency", "fits peak",
                "served", "refused", "max queue", "p99 wait", "max wait", "queue clears", "cost/day"});
        for (Outcome o : r.outcomes()) {
            SimulatedDay d = o.simulated();
            boolean fn = d == null;
            rows.add(new String[]{
                    o.design().label(),
                    fn ? "on demand" : trim(o.capacity()),
                    fn ? "-" : String.format(Locale.ROOT, "%,.0f", o.capacity() * Simulation.DAY_SECONDS),
                    fn ? "-" : percent(o.workingUtilisation()),
                    fn ? "-" : percent(o.peakUtilisation()),
                    fn ? "-" : percent(o.efficiency()),
                    fn ? "yes" : o.capacity() >= l.peakRate() ? "yes" : "no (" + o.serversNeeded() + " needed)",
                    String.format(Locale.ROOT, "%,.0f", o.served(l)),
                    fn ? "0" : String.format(Locale.ROOT, "%,d", d.refused()),
                    fn ? "0" : String.format(Locale.ROOT, "%,d", d.maxWaiting()),
                    fn ? "0" : duration(d.p99Wait()),
                    fn ? "0" : duration(d.maxWait()),
                    // a backlog is a queue that held more than a minute of waiting; below that there is none to clear
                    fn || d.maxWait() < 60 || Double.isNaN(d.clearedAt()) ? "-" : clock(d.clearedAt()),
                    String.format(Locale.ROOT, "%,.2f", o.costPerDay())});
        }
        out.append(table(rows));
        out.append("util work: the working hours' average rate over the capacity; efficiency: requests over what the "
                + "design could serve in 24 h;\nfits peak: capacity >= the peak " + step + "'s rate; refused: a server "
                + "whose queue (server-queue) is full answers 503;\nqueue clears: when a backlog of more than a "
                + "minute's wait is gone.\n");
        return out.toString();
    }

    /** The profile as the plan gives it: hourly weights listed, finer ones with their step and runs as W*N. */
    private static String profile(Plan p) {
        if (p.profile().isEmpty()) {
            return " evenly";
        }
        if (p.profileStepMinutes() == 60) {
            return ", profile " + p.profile();
        }
        StringBuilder runs = new StringBuilder();
        List<Double> w = p.profile();
        for (int i = 0; i < w.size(); ) {
            int j = i;
            while (j < w.size() && w.get(j).equals(w.get(i))) {
                j++;
            }
            runs.append(runs.length() == 0 ? "" : " ").append(trim(w.get(i))).append(j - i > 1 ? "*" + (j - i) : "");
            i = j;
        }
        return ", profile per " + p.profileStepMinutes() + " min [" + runs + "]";
    }

    /** A profile step's name: hour, 15 min, 1 min. */
    static String step(double seconds) {
        return seconds == 3600 ? "hour" : TextReport.trim(seconds / 60) + " min";
    }

    static String table(List<String[]> rows) {
        int[] widths = new int[rows.get(0).length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        StringBuilder out = new StringBuilder();
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                String cell = row[i];
                line.append(i == 0 ? pad(cell, widths[i]) : padLeft(cell, widths[i])).append("  ");
            }
            out.append(line.toString().stripTrailing()).append('\n');
        }
        return out.toString();
    }

    private static String pad(String s, int w) {
        return s + " ".repeat(w - s.length());
    }

    private static String padLeft(String s, int w) {
        return " ".repeat(w - s.length()) + s;
    }

    static String percent(double share) {
        return String.format(Locale.ROOT, "%.1f %%", share * 100);
    }

    /** A number without trailing zeros: 10, 0.01, 2.78. */
    static String trim(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return String.format(Locale.ROOT, "%d", (long) v);
        }
        return String.format(Locale.ROOT, "%.4f", v).replaceAll("0+$", "").replaceAll("\\.$", "");
    }

    /** Seconds as 0.12 s, 45 s, 31 min 40 s, 2 h 05 min. */
    static String duration(double s) {
        if (s < 10) {
            return String.format(Locale.ROOT, "%.2f s", s);
        }
        if (s < 60) {
            return String.format(Locale.ROOT, "%.0f s", s);
        }
        if (s < 3600) {
            return String.format(Locale.ROOT, "%d min %02d s", (long) s / 60, (long) s % 60);
        }
        return String.format(Locale.ROOT, "%d h %02d min", (long) s / 3600, (long) s % 3600 / 60);
    }

    /** Seconds since midnight as hh:mm. */
    static String clock(double s) {
        long m = (long) Math.floor(s / 60);
        return String.format(Locale.ROOT, "%02d:%02d", m / 60, m % 60);
    }
}
