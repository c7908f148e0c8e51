package dev.scoreflow.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The plan's day as SVG line charts (no library: a few hundred lines of markup): arrivals per second, minute by
 * minute, against each design's capacity; and the queue depth through the day of each design that queues.
 */
public final class Charts {
    private static final int WIDTH = 900;
    private static final int HEIGHT = 300;
    private static final int LEFT = 60;
    private static final int RIGHT = 20;
    private static final int TOP = 30;
    private static final int BOTTOM = 40;
    private static final String[] COLOURS = {"#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"};

    private Charts() {
    }

    /** Arrivals per second in each minute of the simulated day (the first design's day), and every capacity. */
    public static String arrivals(Planner.Report r) {
        SimulatedDay day = firstSimulated(r);
        if (day == null) {
            return "";
        }
        double[] perSecond = new double[day.arrivalsByBucket().length];
        for (int i = 0; i < perSecond.length; i++) {
            perSecond[i] = day.arrivalsByBucket()[i] / day.bucketSeconds();
        }
        List<Series> lines = new ArrayList<>();
        lines.add(new Series("arrivals/s (simulated, per minute)", "#1f77b4", perSecond, false));
        // designs of equal capacity share one line (one server and one worker are both 10/s in the lecture)
        java.util.Map<Double, List<String>> byCapacity = new java.util.LinkedHashMap<>();
        for (Outcome o : r.outcomes()) {
            if (o.simulated() != null) {
                byCapacity.computeIfAbsent(o.capacity(), c -> new ArrayList<>()).add(o.design().label());
            }
        }
        int colour = 0;
        for (java.util.Map.Entry<Double, List<String>> e : byCapacity.entrySet()) {
            double[] flat = new double[perSecond.length];
            java.util.Arrays.fill(flat, e.getKey());
            lines.add(new Series("capacity " + TextReport.trim(e.getKey()) + "/s: " + String.join(", ", e.getValue()),
                    COLOURS[colour++ % COLOURS.length], flat, true));
        }
        return chart("Arrivals against capacity: " + r.plan().name(), "requests/s", lines);
    }

    /** Requests waiting, minute by minute (the deepest point of each minute), for each design that simulated. */
    public static String queueDepth(Planner.Report r) {
        List<Series> lines = new ArrayList<>();
        int colour = 0;
        for (Outcome o : r.outcomes()) {
            if (o.simulated() != null) {
                int[] depth = o.simulated().depthByBucket();
                double[] d = new double[depth.length];
                for (int i = 0; i < d.length; i++) {
                    d[i] = depth[i];
                }
                lines.add(new Series(o.design().label(), COLOURS[colour++ % COLOURS.length], d, false));
            }
        }
        return lines.isEmpty() ? "" : chart("Queue depth through the day", "requests waiting", lines);
    }

    private static SimulatedDay firstSimulated(Planner.Report r) {
        return r.outcomes().stream().map(Outcome::simulated).filter(java.util.Objects::nonNull).findFirst()
                .orElse(null);
    }

    record Series(String label, String colour, double[] values, boolean dashed) {
    }

    static String chart(String title, String yLabel, List<Series> series) {
        double max = 0;
        for (Series s : series) {
            for (double v : s.values()) {
                max = Math.max(max, v);
            }
        }
        max = niceCeiling(max);
        int plotW = WIDTH - LEFT - RIGHT;
        int plotH = HEIGHT - TOP - BOTTOM;
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "font-family=\"sans-serif\" font-size=\"11\">%n", WIDTH, HEIGHT + 18 * series.size()));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" font-size=\"14\">%s</text>%n", LEFT,
                escape(title)));
        // axes and grid: hours along x, five steps up y
        for (int h = 0; h <= 24; h += 2) {
            double x = LEFT + plotW * h / 24.0;
            svg.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                    + "stroke=\"#eee\"/><text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%02d:00</text>%n", x, TOP, x,
                    TOP + plotH, x, TOP + plotH + 15, h));
        }
        for (int i = 0; i <= 5; i++) {
            double v = max * i / 5;
            double y = TOP + plotH - plotH * i / 5.0;
            svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
                    + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n", LEFT, y, LEFT + plotW, y, LEFT - 5,
                    y + 4, TextReport.trim(Math.round(v * 100) / 100.0)));
        }
        svg.append(String.format(Locale.ROOT, "<text x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" "
                + "text-anchor=\"middle\">%s</text>%n", TOP + plotH / 2, TOP + plotH / 2, escape(yLabel)));
        for (Series s : series) {
            StringBuilder points = new StringBuilder();
            double[] v = s.values();
            for (int i = 0; i < v.length; i++) {
                double x = LEFT + plotW * (i + 0.5) / v.length;
                double y = TOP + plotH - (max == 0 ? 0 : plotH * Math.min(v[i], max) / max);
                points.append(String.format(Locale.ROOT, "%.1f,%.1f ", x, y));
            }
            svg.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s "
                            + "points=\"%s\"/>%n", s.colour(), s.dashed() ? " stroke-dasharray=\"6 4\"" : "",
                    points.toString().trim()));
        }
        for (int i = 0; i < series.size(); i++) {
            int y = HEIGHT + 18 * i;
            svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                            + "stroke-width=\"3\"/><text x=\"%d\" y=\"%d\">%s</text>%n", LEFT, y, LEFT + 25, y,
                    series.get(i).colour(), LEFT + 32, y + 4, escape(series.get(i).label())));
        }
        svg.append("</svg>\n");
        return svg.toString();
    }

    /** 1, 2 or 5 times a power of ten, at or above {@code v}: round axis ends. */
    static double niceCeiling(double v) {
        if (v <= 0) {
            return 1;
        }
        double p = Math.pow(10, Math.floor(Math.log10(v)));
        for (double m : new double[]{1, 2, 5, 10}) {
            if (m * p >= v) {
                return m * p;
            }
        }
        return 10 * p;
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /** A self-contained HTML page: the text report and both charts. */
    public static String html(Planner.Report r) {
        return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Scoreflow plan: "
                + escape(r.plan().name()) + "</title></head>\n<body style=\"font-family: sans-serif\">\n<h1>"
                + escape(r.plan().name()) + "</h1>\n<pre>" + escape(TextReport.render(r)) + "</pre>\n"
                + arrivals(r) + queueDepth(r) + "</body></html>\n";
    }
}
