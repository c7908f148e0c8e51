package dev.scoreflow.plan;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The charts carry the data, not only their markup: a line's highest point, read back through the chart's own axes
 * (their grid lines and labels), is the number the report computes, at the time it happens.
 */
class ChartsTest {

    /** A line of the chart, read back: values along the axes' labels. */
    record Line(double[] hours, double[] values) {
        int top() {
            int best = 0;
            for (int i = 1; i < values.length; i++) {
                best = values[i] > values[best] ? i : best;
            }
            return best;
        }
    }

    /** The line titled {@code title}, its points mapped through the y axis's labels and the x axis's hours. */
    static Line line(String svg, String title) {
        Matcher y = Pattern.compile("<line x1=\"[0-9.]+\" y1=\"([0-9.]+)\" x2=\"[0-9.]+\" y2=\"[0-9.]+\" "
                + "stroke=\"#eee\"/><text x=\"[0-9.]+\" y=\"[0-9.]+\" text-anchor=\"end\">([0-9.]+)</text>")
                .matcher(svg);
        List<double[]> yTicks = new ArrayList<>();
        while (y.find()) {
            yTicks.add(new double[]{Double.parseDouble(y.group(1)), Double.parseDouble(y.group(2))});
        }
        Matcher x = Pattern.compile("<text x=\"([0-9.]+)\" y=\"[0-9]+\" text-anchor=\"middle\">([0-9]{2}):00</text>")
                .matcher(svg);
        List<double[]> xTicks = new ArrayList<>();
        while (x.find()) {
            xTicks.add(new double[]{Double.parseDouble(x.group(1)), Double.parseDouble(x.group(2))});
        }
        assertThat(yTicks).hasSizeGreaterThanOrEqualTo(2);
        assertThat(xTicks).hasSizeGreaterThanOrEqualTo(2);
        double[] y0 = yTicks.get(0);
        double[] y1 = yTicks.get(yTicks.size() - 1);
        double[] x0 = xTicks.get(0);
        double[] x1 = xTicks.get(xTicks.size() - 1);
        Matcher m = Pattern.compile("<polyline [^>]*points=\"([^\"]*)\"><title>" + Pattern.quote(Charts.escape(title))
                + "</title>").matcher(svg);
        assertThat(m.find()).as("a line titled %s", title).isTrue();
        String[] points = m.group(1).split(" ");
        double[] hours = new double[points.length];
        double[] values = new double[points.length];
        for (int i = 0; i < points.length; i++) {
            String[] xy = points[i].split(",");
            double px = Double.parseDouble(xy[0]);
            double py = Double.parseDouble(xy[1]);
            hours[i] = x0[1] + (px - x0[0]) * (x1[1] - x0[1]) / (x1[0] - x0[0]);
            values[i] = y0[1] + (py - y0[0]) * (y1[1] - y0[1]) / (y1[0] - y0[0]);
        }
        return new Line(hours, values);
    }

    /** What one pixel of the plot (well above the points' 0.1 px rounding) is worth on the y axis. */
    static double pixel(String svg) {
        Matcher y = Pattern.compile("text-anchor=\"end\">([0-9.]+)</text>").matcher(svg);
        double top = 0;
        while (y.find()) {
            top = Math.max(top, Double.parseDouble(y.group(1)));
        }
        return top / 230; // the plot's height in pixels
    }

    /** The planned line's highest point is {@code value}, between the hours {@code from} and {@code to}. */
    static void plannedPeak(String svg, String step, double value, double from, double to) {
        Line planned = line(svg, "planned arrivals/s (per " + step + ")");
        int top = planned.top();
        assertThat(planned.values()[top]).isCloseTo(value, within(pixel(svg)));
        assertThat(planned.hours()[top]).isBetween(from, to);
    }

    @Test
    void theArrivalsChartPlotsThePlannedPeakAtItsValueAndTime() {
        Planner.Report r = Planner.plan(Examples.plan("case3"));
        String svg = Charts.arrivals(r);
        plannedPeak(svg, "hour", r.load().peakRate(), 8, 9);
        assertThat(svg).contains("peak 15.28/s 08:00-09:00");
        // the capacity line of one server (and one worker) sits at 10
        Line capacity = line(svg, "capacity 10/s: 1 server, queue + 1 worker");
        assertThat(capacity.values()[0]).isCloseTo(10, within(pixel(svg)));
        // the simulated arrivals average the planned rate over the peak hour
        Line simulated = line(svg, "arrivals/s (simulated, per minute)");
        double sum = 0;
        for (int m = 8 * 60; m < 9 * 60; m++) {
            sum += simulated.values()[m];
        }
        assertThat(sum / 60).isCloseTo(15.28, within(0.5));
    }

    @Test
    void aBurstsChartPeaksInItsQuarterHour() {
        Planner.Report r = Planner.plan(Examples.plan("case3-burst"));
        String svg = Charts.arrivals(r);
        plannedPeak(svg, "15 min", 61.11, 8, 8.25);
        assertThat(line(svg, "planned arrivals/s (per 15 min)").values()[8 * 60 + 30]).isCloseTo(0,
                within(pixel(svg)));
        assertThat(svg).contains("peak 61.11/s 08:00-08:15");
    }

    @Test
    void theQueueChartPlotsTheDeepestQueueAtItsValueAndTime() {
        Planner.Report r = Planner.plan(Examples.plan("case3"));
        SimulatedDay queue = r.outcomes().get(2).simulated();
        String svg = Charts.queueDepth(r);
        Line depth = line(svg, "queue + 1 worker");
        int top = depth.top();
        assertThat(depth.values()[top]).isCloseTo(queue.maxWaiting(), within(pixel(svg)));
        assertThat(depth.hours()[top]).isCloseTo(queue.maxWaitingAt() / 3600, within(1 / 60.0));
        assertThat(svg).contains(String.format(java.util.Locale.ROOT, "max %,d waiting at %s", queue.maxWaiting(),
                TextReport.clock(queue.maxWaitingAt())));
        // two servers hold a few dozen at most: a line along the bottom
        Line two = line(svg, "2 servers + proxy");
        assertThat(two.values()[two.top()]).isLessThan(r.outcomes().get(1).simulated().maxWaiting()
                + pixel(svg));
    }
}
