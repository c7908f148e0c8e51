package dev.scoreflow.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The plan's day as SVG line charts (no library: a few hundred lines of markup): arrivals per second, minute by
 * minute, simulated and as the profile plans them (at its step), against each design's capacity; and the queue depth
 * through the day of each design that queues. Each line carries its label as a {@code <title>} and the data's peaks
 * are marked with their values, so the chart can be read (and checked) without the text report.
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
        lines.add(new Series("arrivals/s (simulated, per minute)", "#1f77b4", perSecond, false, null));
        Load l = r.load();
        double[] planned = new double[perSecond.length];
        for (int i = 0; i < planned.length; i++) {
            planned[i] = l.stepRates()[(int) (i * day.bucketSeconds() / l.stepSeconds())];
        }
        lines.add(new Series("planned arrivals/s (per " + TextReport.step(l.stepSeconds()) + ")", "#000000", planned,
                false, String.format(Locale.ROOT, "peak %.2f/s %s-%s", l.peakRate(), TextReport.clock(l.peakStart()),
                TextReport.clock(l.peakStart() + l.stepSeconds()))));
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
                    COLOURS[colour++ % COLOURS.length], flat, true, null));
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
                SimulatedDay day = o.simulated();
                lines.add(new Series(o.design().label(), COLOURS[colour++ % COLOURS.length], d, false,
                        day.maxWaiting() == 0 ? null : String.format(Locale.ROOT, "max %,d waiting at %s",
                                day.maxWaiting(), TextReport.clock(day.maxWaitingAt()))));
            }
        }
        return lines.isEmpty() ? "" : chart("Queue depth through the day", "requests waiting", lines);
    }

    private static SimulatedDay firstSimulated(Planner.Report r) {
        return r.outcomes().stream().map(Outcome::simulated).filter(java.util.Objects::nonNull).findFirst()
                .orElse(null);
    }

    /** One line; {@code mark} (null: none) labels its highest point, if that stands clear of the bottom. */
    record Series(String label, String colour, double[] values, boolean dashed, String mark) {
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
            int top = 0;
            for (int i = 0; i < v.length; i++) {
                points.append(String.format(Locale.ROOT, "%.1f,%.1f ", x(i, v.length, plotW),
                        y(v[i], max, plotH)));
                top = v[i] > v[top] ? i : top;
            }
            svg.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s "
                            + "points=\"%s\"><title>%s</title></polyline>%n", s.colour(),
                    s.dashed() ? " stroke-dasharray=\"6 4\"" : "", points.toString().trim(), escape(s.label())));
            // a peak along the bottom (a queue of a few dozen beside one of thousands) would bury the others' labels
            if (s.mark() != null && v.length > 0 && v[top] >= max / 10) {
                double x = x(top, v.length, plotW);
                double y = y(v[top], max, plotH);
                // the label sits left of a point in the right half, so that it stays inside the plot
                boolean right = x > LEFT + plotW / 2.0;
                svg.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\">"
                                + "<title>%s</title></circle><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">"
                                + "%s</text>%n",
                        x, y, s.colour(), escape(s.mark()), right ? x - 6 : x + 6, Math.max(TOP + 10, y - 4),
                        right ? "end" : "start", escape(s.mark())));
            }
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

    /** The x of point {@code i} of {@code n} spread over the day: the middle of its bucket. */
    private static double x(int i, int n, int plotW) {
        return LEFT + plotW * (i + 0.5) / n;
    }

    /** The y of {@code v} on an axis from 0 to {@code max}. */
    private static double y(double v, double max, int plotH) {
        return TOP + plotH - (max == 0 ? 0 : plotH * Math.min(v, max) / max);
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
