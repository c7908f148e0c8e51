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
 * created).
 *
 * <pre>
 * amqp://[user[:password]@]host[:port][/vhost]?store=postgresql://...[&amp;queue=NAME&amp;visibility=30s&amp;max-receives=5&amp;fifo=true&amp;prefetch=8]
 * </pre>
 *
 * opens a {@link RabbitJobQueue}: RabbitMQ (default user and password {@code guest}, port 5672, vhost {@code /})
 * carries the deliveries of the quorum queue {@code NAME}, and the required {@code store} (a {@code postgresql://}
 * URL as above, without its own query, or with its {@code &amp;} encoded as {@code %26}) keeps the jobs' states and
 * results; {@code prefetch} bounds the jobs a process holds unacknowledged (FIFO queues use one); {@code amqps://} is
 * refused, saying to use a TLS tunnel. {@code embedded} is resolved by {@code scoreflow serve --jobs embedded}, which
 * starts an embedded Kafka broker, opens {@code kafka://} on it and prints that URL: here it is refused, saying so.
 */
public final class JobQueues {
    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h)");
    /** Why {@code embedded} opens nothing here, and what to give instead. */
    static final String EMBEDDED = "embedded: the embedded queue is a Kafka broker that 'scoreflow serve --jobs "
            + "embedded' starts inside the server, which prints the URL for workers, subscribers and watchers on its "
            + "line 'jobs queue kafka://HOST:PORT': give them --queue kafka://HOST:PORT as printed";

    private JobQueues() {
    }

    /**
     * Opens the queue {@code url} names (see above).
     *
     * @throws IllegalArgumentException if the URL is not one of those, saying what is wrong and what to give instead
     * @throws QueueUnavailableException if its broker does not answer
     */
    public static JobQueue open(String url) {
        if (url.equals("embedded") || url.startsWith("embedded?")) {
            throw new IllegalArgumentException(EMBEDDED);
        }
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
            case "amqp" -> {
                return rabbit(u);
            }
            case "amqps" -> throw new IllegalArgumentException("amqps:// (RabbitMQ over TLS) is not supported: use "
                    + "amqp:// on a network you trust, or reach the broker's TLS port through a local TLS tunnel "
                    + "(stunnel, a service-mesh sidecar) and give amqp://127.0.0.1:<tunnel port>/...");
            default -> throw new IllegalArgumentException("unknown queue URL scheme '" + scheme + "' in '" + url
                    + "'; use postgresql://[user@]host[:port]/database[?queue=NAME], kafka://host:port or "
                    + "amqp://host[:port]?store=postgresql://...");
        }
    }

    private static JobQueue postgres(URI u) {
        Properties p = new Properties();
        String jdbc = jdbc(u, p);
        Map<String, String> q = query(u.getRawQuery());
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
        return PostgresJobQueue.open(jdbc, p, name, s);
    }

    /** The JDBC URL of a {@code postgresql://} URL, its user and password put in {@code props}. */
    private static String jdbc(URI u, Properties props) {
        if (u.getHost() == null || u.getPath() == null || u.getPath().length() < 2) {
            throw new IllegalArgumentException("a PostgreSQL queue URL needs a host and a database: "
                    + "postgresql://[user@]host[:port]/database, got '" + u + "'");
        }
        if (u.getRawUserInfo() != null) {
            String[] userPassword = u.getRawUserInfo().split(":", 2);
            props.put("user", decode(userPassword[0]));
            if (userPassword.length == 2) {
                props.put("password", decode(userPassword[1]));
            }
        } else {
            props.put("user", System.getProperty("user.name"));
        }
        return "jdbc:postgresql://" + u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "") + u.getPath();
    }

    private static JobQueue rabbit(URI u) {
        if (u.getHost() == null) {
            throw new IllegalArgumentException("a RabbitMQ queue URL needs a host: amqp://[user[:password]@]host"
                    + "[:port][/vhost]?store=postgresql://..., got '" + u + "'");
        }
        QueueSettings s = QueueSettings.defaults();
        String name = "scoreflow";
        String store = null;
        int prefetch = RabbitJobQueue.DEFAULT_PREFETCH;
        for (Map.Entry<String, String> e : query(u.getRawQuery()).entrySet()) {
            switch (e.getKey()) {
                case "store" -> store = e.getValue();
                case "queue" -> name = e.getValue();
                case "visibility" -> s = s.withVisibilityTimeout(duration(e.getValue(), "visibility"));
                case "max-receives" -> s = s.withMaxReceives(integer(e.getValue(), "max-receives"));
                case "fifo" -> s = s.withFifo(Boolean.parseBoolean(e.getValue()));
                case "prefetch" -> prefetch = integer(e.getValue(), "prefetch");
                default -> throw new IllegalArgumentException("unknown queue URL parameter '" + e.getKey()
                        + "' (known: store, queue, visibility, max-receives, fifo, prefetch)");
            }
        }
        if (store == null) {
            throw new IllegalArgumentException("a RabbitMQ queue URL needs store=postgresql://... (the database that "
                    + "keeps the jobs' states and results), got '" + u + "'");
        }
        URI storeUri;
        try {
            storeUri = URI.create(store);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("store is not a URL: '" + store + "' (" + e.getMessage() + ")");
        }
        if (!"postgresql".equals(storeUri.getScheme()) && !"postgres".equals(storeUri.getScheme())) {
            throw new IllegalArgumentException("store must be a postgresql:// URL, got '" + store + "'");
        }
        if (storeUri.getRawQuery() != null) {
            throw new IllegalArgumentException("the store URL takes no parameters (the queue's come from the amqp:// "
                    + "URL), got '" + store + "'");
        }
        if (prefetch < 1 || prefetch > 65_535) {
            throw new IllegalArgumentException("prefetch must be in [1, 65535], got " + prefetch);
        }
        com.rabbitmq.client.ConnectionFactory f = new com.rabbitmq.client.ConnectionFactory();
        f.setHost(u.getHost());
        f.setPort(u.getPort() > 0 ? u.getPort() : com.rabbitmq.client.ConnectionFactory.DEFAULT_AMQP_PORT);
        if (u.getRawUserInfo() != null) {
            String[] userPassword = u.getRawUserInfo().split(":", 2);
            f.setUsername(decode(userPassword[0]));
            if (userPassword.length == 2) {
                f.setPassword(decode(userPassword[1]));
            }
        }
        String vhost = u.getRawPath() == null || u.getRawPath().length() < 2 ? "/" : decode(u.getRawPath().substring(1));
        f.setVirtualHost(vhost);
        Properties p = new Properties();
        String jdbc = jdbc(storeUri, p);
        PostgresJobQueue st = PostgresJobQueue.openStore(jdbc, p, "amqp", name, s);
        return RabbitJobQueue.open(f, name, s, prefetch, st);
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
