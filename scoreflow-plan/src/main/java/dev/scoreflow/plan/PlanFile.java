package dev.scoreflow.plan;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads a plan file: one {@code key = value} per line, {@code #} starts a comment. Every key has a default (the
 * lecture's first case), so a file holds only what differs. A line that cannot be read is refused with the file, the
 * line number and what was expected.
 *
 * <pre>
 * name = case 3: everyone at nine
 * users = 10000
 * requests-per-user = 10
 * hours = 8-18                      # the working day; requests arrive only then
 * profile = 5.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5   # weights per working hour (default: all alike);
 *                                 # W*N repeats W N times: 22 0*3 0.125*36 is a burst in the first 15 minutes
 * profile-step = auto               # minutes per weight, dividing the hour (auto: the working day over the weights)
 * request-mb = 1
 * response-mb = 0.01
 * bits-per-byte = 10
 * encoding = binary                 # binary | protobuf | base64
 * service-rate = 10                 # requests/s one server handles
 * service-time = exponential        # exponential | deterministic | lognormal:CV
 * server-queue = 100                # waiting requests a server holds before it answers 503
 * servers = 1 2                     # the "servers behind a proxy" designs to compare
 * queue-workers = 1                 # the "queue with a worker" design (0: leave it out)
 * function = true                   # the "cloud function per request" design
 * price.server-hour = 1             # and price.proxy-hour, price.queue-hour, price.worker-hour,
 * price.function-factor = 5         # price.function-request (default: factor x a server's price per request)
 * wait-probability = 0.01           # the share that may wait at the peak when sizing servers (Erlang C)
 * seed = 42
 * </pre>
 */
public final class PlanFile {
    /** Every key and its default: the lecture's case 1. */
    static final Map<String, String> DEFAULTS = new LinkedHashMap<>();

    static {
        DEFAULTS.put("name", "plan");
        DEFAULTS.put("users", "1000");
        DEFAULTS.put("requests-per-user", "10");
        DEFAULTS.put("hours", "8-18");
        DEFAULTS.put("profile", "");
        DEFAULTS.put("profile-step", "auto");
        DEFAULTS.put("request-mb", "1");
        DEFAULTS.put("response-mb", "0.01");
        DEFAULTS.put("bits-per-byte", "10");
        DEFAULTS.put("encoding", "binary");
        DEFAULTS.put("service-rate", "10");
        DEFAULTS.put("service-time", "exponential");
        DEFAULTS.put("server-queue", "100");
        DEFAULTS.put("servers", "1");
        DEFAULTS.put("queue-workers", "1");
        DEFAULTS.put("function", "true");
        DEFAULTS.put("price.server-hour", "1");
        DEFAULTS.put("price.proxy-hour", "0.5");
        DEFAULTS.put("price.queue-hour", "0.5");
        DEFAULTS.put("price.worker-hour", "1");
        DEFAULTS.put("price.function-request", "-1");
        DEFAULTS.put("price.function-factor", "5");
        DEFAULTS.put("wait-probability", "0.01");
        DEFAULTS.put("seed", "42");
    }

    private PlanFile() {
    }

    public static Plan read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the plan file " + file + ": " + e.getMessage(), e);
        }
        return parse(file.toString(), lines, Map.of());
    }

    /**
     * Reads {@code lines} (named {@code source} in errors), then applies {@code overrides} (keys as in the file, as
     * the command line gives them).
     */
    public static Plan parse(String source, List<String> lines, Map<String, String> overrides) {
        Map<String, String> v = new LinkedHashMap<>(DEFAULTS);
        Map<String, String> where = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            String content = (hash >= 0 ? line.substring(0, hash) : line).trim();
            if (content.isEmpty()) {
                continue;
            }
            String at = source + ":" + (i + 1);
            int eq = content.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException(at + ": expected key = value, got '" + content + "'");
            }
            String key = content.substring(0, eq).trim().toLowerCase(Locale.ROOT);
            if (!DEFAULTS.containsKey(key)) {
                throw new IllegalArgumentException(at + ": unknown key '" + key + "' (known: "
                        + String.join(", ", DEFAULTS.keySet()) + ")");
            }
            v.put(key, content.substring(eq + 1).trim());
            where.put(key, at);
        }
        for (Map.Entry<String, String> o : overrides.entrySet()) {
            if (!DEFAULTS.containsKey(o.getKey())) {
                throw new IllegalArgumentException("unknown plan key '" + o.getKey() + "'");
            }
            v.put(o.getKey(), o.getValue());
            where.put(o.getKey(), "the command line's " + o.getKey());
        }
        Reader r = new Reader(v, where, source);
        int[] hours = r.hours("hours");
        Plan.Builder b = new Plan.Builder();
        return b.name(r.text("name")).users(r.integer("users")).requestsPerUser(r.number("requests-per-user"))
                .hours(hours[0], hours[1]).profile(r.weights("profile")).profileStepMinutes(r.profileStep("profile-step"))
                .requestMegabytes(r.number("request-mb")).responseMegabytes(r.number("response-mb"))
                .bitsPerByte(r.number("bits-per-byte")).encoding(r.encoding("encoding"))
                .serviceRate(r.number("service-rate")).serviceTime(r.serviceTime("service-time"))
                .serverQueue((int) r.integer("server-queue")).serverCounts(r.integers("servers"))
                .queueWorkers((int) r.integer("queue-workers")).function(r.bool("function"))
                .prices(new Plan.Prices(r.number("price.server-hour"), r.number("price.proxy-hour"),
                        r.number("price.queue-hour"), r.number("price.worker-hour"),
                        r.number("price.function-request"), r.number("price.function-factor")))
                .waitProbability(r.number("wait-probability")).seed(r.integer("seed")).build();
    }

    /** Reads typed values, naming where a bad one came from. */
    private record Reader(Map<String, String> values, Map<String, String> where, String source) {

        String text(String key) {
            return values.get(key);
        }

        private IllegalArgumentException bad(String key, String expected) {
            return new IllegalArgumentException(where.getOrDefault(key, source + " (default)") + ": " + key
                    + " must be " + expected + ", got '" + values.get(key) + "'");
        }

        double number(String key) {
            try {
                return Double.parseDouble(values.get(key));
            } catch (NumberFormatException e) {
                throw bad(key, "a number");
            }
        }

        long integer(String key) {
            try {
                return Long.parseLong(values.get(key));
            } catch (NumberFormatException e) {
                throw bad(key, "an integer");
            }
        }

        boolean bool(String key) {
            String s = values.get(key).toLowerCase(Locale.ROOT);
            if (!s.equals("true") && !s.equals("false")) {
                throw bad(key, "true or false");
            }
            return s.equals("true");
        }

        /** Numbers where {@code W*N} stands for W repeated N times (a per-minute profile is 600 weights long). */
        List<Double> weights(String key) {
            List<Double> out = new ArrayList<>();
            for (String part : values.get(key).split("[\\s,]+")) {
                if (part.isEmpty()) {
                    continue;
                }
                int star = part.indexOf('*');
                try {
                    double w = Double.parseDouble(star < 0 ? part : part.substring(0, star));
                    int times = star < 0 ? 1 : Integer.parseInt(part.substring(star + 1));
                    if (times < 1 || times > 100_000 || out.size() + times > 100_000) {
                        throw bad(key, "at most 100000 weights (W*N repeats W N times, N >= 1)");
                    }
                    out.addAll(java.util.Collections.nCopies(times, w));
                } catch (NumberFormatException e) {
                    throw bad(key, "numbers separated by spaces or commas, W*N for W repeated N times");
                }
            }
            return out;
        }

        /** Minutes per profile weight; {@code auto} (0) leaves it to the weights' count. */
        int profileStep(String key) {
            String s = values.get(key).trim().toLowerCase(Locale.ROOT);
            if (s.equals("auto")) {
                return 0;
            }
            try {
                return Integer.parseInt(s);
            } catch (NumberFormatException e) {
                throw bad(key, "auto or minutes dividing the hour (1, 5, 15, 30, 60, ...)");
            }
        }

        List<Integer> integers(String key) {
            List<Integer> out = new ArrayList<>();
            for (double d : weights(key)) {
                if (d != Math.rint(d)) {
                    throw bad(key, "whole numbers");
                }
                out.add((int) d);
            }
            return out;
        }

        int[] hours(String key) {
            String[] parts = values.get(key).split("-");
            try {
                if (parts.length == 2) {
                    return new int[]{Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[1].trim())};
                }
            } catch (NumberFormatException e) {
                // the error below says what is expected
            }
            throw bad(key, "START-END in whole hours, like 8-18");
        }

        Plan.Encoding encoding(String key) {
            try {
                return Plan.Encoding.valueOf(values.get(key).toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw bad(key, "binary, protobuf or base64");
            }
        }

        ServiceTime serviceTime(String key) {
            try {
                return ServiceTime.parse(values.get(key));
            } catch (IllegalArgumentException e) {
                throw bad(key, "exponential, deterministic or lognormal:CV");
            }
        }
    }
}
