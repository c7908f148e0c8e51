package dev.scoreflow.streaming;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Triggers over the windowed statistics, declared one per line as {@code name: statistic op value [for N windows]}:
 *
 * <pre>
 * high_scores:  mean_score > 0.3 for 2 windows   # two closed windows in a row
 * score_drift:  psi(score) > 0.2                  # against the reference distribution
 * amount_drift: psi(amount) > 0.25                # any feature of the features file
 * big_amounts:  mean(amount) > 300
 * fraud_wave:   positive_rate > 0.05
 * silence:      rate < 10/min                     # events per second; /s, /min or /h
 * few:          count < 5
 * </pre>
 *
 * A rule fires when its condition holds for N consecutive closed windows, and resolves at the first closed window
 * where it does not; each transition is one alert. A statistic with no value (the mean of an empty window, PSI
 * without a reference yet) makes the condition false.
 */
final class Rules {
    private static final Pattern LINE = Pattern.compile(
            "([A-Za-z_][A-Za-z0-9_.-]*)\\s*:\\s*(.+?)\\s*(>=|<=|>|<)\\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\\s*"
                    + "(/s|/min|/h)?\\s*(?:for\\s+(\\d+)\\s+windows?)?");
    private static final Pattern CALL = Pattern.compile("(mean|psi)\\(\\s*([A-Za-z_][A-Za-z0-9_.]*)\\s*\\)");

    /** What a rule looks at. {@code feature} is the index in the vector, -1 for the score. */
    enum Stat { COUNT, RATE, MEAN_SCORE, POSITIVE_RATE, MEAN, PSI }

    record Rule(String name, String text, Stat stat, int feature, String op, double threshold, int forWindows) {

        boolean holds(double v) {
            if (Double.isNaN(v)) {
                return false;
            }
            return switch (op) {
                case ">" -> v > threshold;
                case ">=" -> v >= threshold;
                case "<" -> v < threshold;
                default -> v <= threshold;
            };
        }
    }

    private final List<Rule> rules;

    private Rules(List<Rule> rules) {
        this.rules = List.copyOf(rules);
    }

    static Rules none() {
        return new Rules(List.of());
    }

    List<Rule> rules() {
        return rules;
    }

    static Rules read(Path file, FeatureSpec features) {
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString(), features);
        } catch (IOException e) {
            throw new StreamingException("cannot read the rules file " + file + ": " + e.getMessage(), e);
        }
    }

    static Rules parse(String text, String source, FeatureSpec features) {
        List<Rule> out = new ArrayList<>();
        for (Definitions.Line l : Definitions.lines(text, source, LINE,
                "'name: statistic > value [for N windows]'")) {
            Matcher m = l.match();
            String name = l.name();
            String line = l.text();
            String where = l.where();
            String stat = m.group(2).strip();
            double threshold;
            try {
                threshold = Double.parseDouble(m.group(4));
            } catch (NumberFormatException e) {
                throw new StreamingException(where + "'" + m.group(4) + "' is not a number");
            }
            String unit = m.group(5);
            int forWindows = m.group(6) == null ? 1 : Integer.parseInt(m.group(6));
            if (forWindows < 1 || forWindows > 1000) {
                throw new StreamingException(where + "'for N windows' needs N in [1, 1000], was " + forWindows);
            }
            Stat kind;
            int feature = -1;
            Matcher call = CALL.matcher(stat);
            if (call.matches()) {
                String f = call.group(2);
                kind = call.group(1).equals("mean") ? Stat.MEAN : Stat.PSI;
                if (kind == Stat.MEAN && f.equals("score")) {
                    kind = Stat.MEAN_SCORE;
                } else if (!(kind == Stat.PSI && f.equals("score"))) {
                    feature = features.names().indexOf(f);
                    if (feature < 0) {
                        throw new StreamingException(where + "'" + f + "' is not a feature of " + features.source()
                                + " (its features: " + features.names() + "; or 'score')");
                    }
                }
            } else {
                kind = switch (stat) {
                    case "count" -> Stat.COUNT;
                    case "rate" -> Stat.RATE;
                    case "mean_score" -> Stat.MEAN_SCORE;
                    case "positive_rate" -> Stat.POSITIVE_RATE;
                    default -> throw new StreamingException(where + "unknown statistic '" + stat + "' (known: count, "
                            + "rate, mean_score, positive_rate, mean(feature), psi(score), psi(feature))");
                };
            }
            if (unit != null && kind != Stat.RATE) {
                throw new StreamingException(where + "only 'rate' takes a unit like /min");
            }
            if (kind == Stat.RATE && unit != null) {
                threshold /= switch (unit) {
                    case "/min" -> 60.0;
                    case "/h" -> 3600.0;
                    default -> 1.0;
                };
            }
            out.add(new Rule(name, line.substring(line.indexOf(':') + 1).strip().replaceAll("\\s+", " "), kind,
                    feature, m.group(3), threshold, forWindows));
        }
        return new Rules(out);
    }

    /** The rule's statistic in a closed window ({@code reference} may be null: then PSI has no value). */
    static double value(Rule r, WindowStats w, long windowMs, WindowStats reference) {
        return switch (r.stat()) {
            case COUNT -> w.count;
            case RATE -> w.count / (windowMs / 1000.0);
            case MEAN_SCORE -> w.meanScore();
            case POSITIVE_RATE -> w.positiveRate();
            case MEAN -> w.featureMean(r.feature());
            case PSI -> reference == null ? Double.NaN : r.feature() < 0
                    ? WindowStats.psi(w.scoreHist, reference.scoreHist)
                    : WindowStats.psi(w.featureHists[r.feature()], reference.featureHists[r.feature()]);
        };
    }
}
