package dev.scoreflow.jobs;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Opens a job queue from its URL, as {@code --jobs} and {@code --queue} take it:
 *
 * <pre>
 * postgresql://[user[:password]@]host[:port]/database[?queue=NAME&amp;visibility=30s&amp;max-receives=5&amp;fifo=true]
 * </pre>
 *
 * The query's {@code queue} names the queue in the database (default {@code scoreflow}); {@code visibility} is the
 * lease (ms, s, m or h), {@code max-receives} the deliveries before a job is dead-lettered, {@code fifo=true} keeps
 * each {@code Scoreflow-Job-Group}'s jobs in order.
 *
 * <pre>
 * kafka://host:port[,host:port][?queue=NAME&amp;visibility=30s&amp;max-receives=5&amp;fifo=true&amp;partitions=6]
 * </pre>
 *
 * opens a {@link KafkaJobQueue} (topics {@code scoreflow.jobs.NAME*}; {@code partitions} of the jobs topic when it is
 * created). RabbitMQ ({@code amqp://}) is not built yet; {@code embedded} is resolved by the command line, which
 * starts an embedded Kafka broker and opens {@code kafka://} on it.
 */
public final class JobQueues {
    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h)");

    private JobQueues() {
    }

    public static JobQueue open(String url) {
        URI u;
        try {
            u = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a queue URL: '" + url + "' (" + e.getMessage() + ")");
        }
        String scheme = u.getScheme() == null ? url : u.getScheme();
        switch (scheme) {
            case "postgresql", "postgres" -> {
                return postgres(u);
            }
            case "kafka" -> {
                return kafka(u);
            }
            case "amqp", "amqps", "embedded" -> throw new IllegalArgumentException("the " + scheme
                    + " queue is not built yet; use postgresql://host:port/database");
            default -> throw new IllegalArgumentException("unknown queue URL scheme '" + scheme + "' in '" + url
                    + "'; use postgresql://[user@]host[:port]/database[?queue=NAME]");
        }
    }

    private static JobQueue postgres(URI u) {
        if (u.getHost() == null || u.getPath() == null || u.getPath().length() < 2) {
            throw new IllegalArgumentException("a PostgreSQL queue URL needs a host and a database: "
                    + "postgresql://[user@]host[:port]/database, got '" + u + "'");
        }
        Map<String, String> q = query(u.getRawQuery());
        Properties p = new Properties();
        if (u.getRawUserInfo() != null) {
            String[] userPassword = u.getRawUserInfo().split(":", 2);
            p.put("user", decode(userPassword[0]));
            if (userPassword.length == 2) {
                p.put("password", decode(userPassword[1]));
            }
        } else {
            p.put("user", System.getProperty("user.name"));
        }
        QueueSettings s = QueueSettings.defaults();
        String name = "scoreflow";
        for (Map.Entry<String, String> e : q.entrySet()) {
            switch (e.getKey()) {
                case "queue" -> name = e.getValue();
                case "visibility" -> s = s.withVisibilityTimeout(duration(e.getValue(), "visibility"));
                case "max-receives" -> s = s.withMaxReceives(integer(e.getValue(), "max-receives"));
                case "fifo" -> s = s.withFifo(Boolean.parseBoolean(e.getValue()));
                default -> throw new IllegalArgumentException("unknown queue URL parameter '" + e.getKey()
                        + "' (known: queue, visibility, max-receives, fifo)");
            }
        }
        String jdbc = "jdbc:postgresql://" + u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "") + u.getPath();
        return PostgresJobQueue.open(jdbc, p, name, s);
    }

    private static JobQueue kafka(URI u) {
        String bootstrap = u.getRawAuthority();
        if (bootstrap == null || bootstrap.isEmpty() || bootstrap.contains("@")) {
            throw new IllegalArgumentException("a Kafka queue URL needs its brokers: kafka://host:port[,host:port]"
                    + "[?queue=NAME], got '" + u + "'");
        }
        QueueSettings s = QueueSettings.defaults();
        String name = "scoreflow";
        int partitions = KafkaJobQueue.DEFAULT_PARTITIONS;
        for (Map.Entry<String, String> e : query(u.getRawQuery()).entrySet()) {
            switch (e.getKey()) {
                case "queue" -> name = e.getValue();
                case "visibility" -> s = s.withVisibilityTimeout(duration(e.getValue(), "visibility"));
                case "max-receives" -> s = s.withMaxReceives(integer(e.getValue(), "max-receives"));
                case "fifo" -> s = s.withFifo(Boolean.parseBoolean(e.getValue()));
                case "partitions" -> partitions = integer(e.getValue(), "partitions");
                default -> throw new IllegalArgumentException("unknown queue URL parameter '" + e.getKey()
                        + "' (known: queue, visibility, max-receives, fifo, partitions)");
            }
        }
        return KafkaJobQueue.open(bootstrap, name, s, partitions);
    }

    static Map<String, String> query(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("queue URL parameter '" + pair + "' is not name=value");
            }
            out.put(decode(pair.substring(0, eq)), decode(pair.substring(eq + 1)));
        }
        return out;
    }

    static Duration duration(String v, String what) {
        Matcher m = DURATION.matcher(v.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException(what + " must be a duration like 500ms, 30s, 5m or 1h, got '" + v + "'");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
    }

    private static int integer(String v, String what) {
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " must be an integer, got '" + v + "'");
        }
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }
}
