package dev.scoreflow.jobs;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The lecture's "ordinary database polled for new rows", done right: one jobs table shared by named queues, claimed
 * with {@code SELECT ... FOR UPDATE SKIP LOCKED} (workers never wait on each other's rows), leases with an expiry
 * (the visibility timeout), {@code LISTEN/NOTIFY} so idle workers sleep until a job arrives, a dead-letter table,
 * partial indexes that cover only the jobs still in play (claims stay fast with millions of finished rows), and a
 * clean-up of finished jobs. Connections come from a HikariCP pool; every statement has a socket timeout.
 *
 * <p>Times (leases, delays) are the database's {@code now()}: one clock for every worker.
 */
public final class PostgresJobQueue implements JobQueue {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresJobQueue.class);
    static final String CHANNEL = "scoreflow_jobs";
    /** Where finished jobs are announced ("queue id"), for those who wait on them (long polling). */
    static final String FINISHED = "scoreflow_jobs_finished";
    /** Where {@link #publish} announces events ("queue event"). */
    static final String EVENTS = "scoreflow_jobs_events";
    private static final String COLUMNS = "id, queue, model, state, receives, error, result, result_type, "
            + "submitted_at, updated_at, callback_status";
    /** What a worker needs to run the job, as the claim returns it. */
    private static final String REQUEST = "model, version, protocol, content_type, header_length, body, msg_group, "
            + "idempotency_key, callbacks";
    /** Finished jobs are cleaned up at most this often (by whichever receive comes first). */
    private static final Duration CLEAN_UP_EVERY = Duration.ofMinutes(1);
    /** Without notifications (the listening connection is down), an idle receive looks again this often. */
    private static final long FALLBACK_POLL_MS = 1000;

    private final String jdbcUrl;
    private final Properties connectionProperties;
    private final String queue;
    private final QueueSettings settings;
    private final HikariDataSource pool;
    private final ReentrantLock listening = new ReentrantLock();
    private Connection listener; // guarded by listening
    private volatile long nextCleanUpNanos = System.nanoTime();
    /** The dead-letter sweep runs at most this often (by whichever receive comes first): it is a query per call. */
    private static final long SWEEP_EVERY_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    private volatile long nextSweepNanos = System.nanoTime();
    private final List<java.util.function.Consumer<String>> finishedListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<java.util.function.Consumer<String>> eventListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    private Thread finishedWatcher; // guarded by this
    private volatile boolean closed;
    /**
     * Store mode: another broker carries the deliveries (see {@link #openStore}); this queue keeps the jobs' states
     * and results only, never hands out a job itself and sends no notifications (the broker announces).
     */
    private final boolean storeOnly;

    private PostgresJobQueue(String jdbcUrl, Properties props, String queue, QueueSettings settings,
                             boolean storeOnly) {
        this.storeOnly = storeOnly;
        this.jdbcUrl = jdbcUrl;
        this.connectionProperties = props;
        this.queue = queue;
        this.settings = settings;
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(jdbcUrl);
        c.setDataSourceProperties(props);
        c.setPoolName("scoreflow-jobs-" + queue);
        c.setMaximumPoolSize(8);
        c.setMinimumIdle(1);
        c.setConnectionTimeout(5_000); // a broker that is down answers 503 within seconds, not a hang
        c.setValidationTimeout(2_000);
        c.setInitializationFailTimeout(5_000);
        this.pool = new HikariDataSource(c);
    }

    /**
     * Opens queue {@code queue} in the database at {@code jdbcUrl} ({@code jdbc:postgresql://host:port/db}),
     * creating the tables if they are missing.
     *
     * @throws QueueUnavailableException if the database does not answer
     */
    public static PostgresJobQueue open(String jdbcUrl, Properties props, String queue, QueueSettings settings) {
        return open(jdbcUrl, props, queue, settings, false);
    }

    /**
     * Opens the jobs table as the state and result store of a queue whose deliveries another broker carries (the
     * RabbitMQ queue): {@link #submit} records a queued job, {@link #claimDelivered} marks a delivered one running,
     * {@link #complete}, {@link #fail}, {@link #get}, {@link #cancel} work as on a PostgreSQL queue; {@link #receive}
     * is refused and nothing is announced with NOTIFY. Its rows are those of queue {@code owner + ":" + queue}, so a
     * PostgreSQL queue of the same name never claims them.
     */
    static PostgresJobQueue openStore(String jdbcUrl, Properties props, String owner, String queue,
                                      QueueSettings settings) {
        return open(jdbcUrl, props, owner + ":" + queue, settings, true);
    }

    private static PostgresJobQueue open(String jdbcUrl, Properties props, String queue, QueueSettings settings,
                                         boolean storeOnly) {
        Objects.requireNonNull(queue, "queue");
        if (queue.isEmpty() || queue.length() > JobRequest.MAX_NAME_CHARS || queue.contains(" ")) {
            // notifications carry "queue payload": a space in the name would make them ambiguous
            throw new IllegalArgumentException("a queue name needs 1 to " + JobRequest.MAX_NAME_CHARS
                    + " characters and no space, was '" + queue + "'");
        }
        Properties p = new Properties();
        p.putAll(props);
        // a hostile or vanished peer must not hang a thread: every read and connect has a bound (seconds)
        p.putIfAbsent("connectTimeout", "5");
        p.putIfAbsent("socketTimeout", "60");
        p.putIfAbsent("tcpKeepAlive", "true");
        p.putIfAbsent("ApplicationName", "scoreflow-jobs");
        PostgresJobQueue q;
        try {
            q = new PostgresJobQueue(jdbcUrl, p, queue, settings, storeOnly);
        } catch (RuntimeException e) {
            throw new QueueUnavailableException("cannot connect to PostgreSQL at " + jdbcUrl + ": " + e.getMessage(), e);
        }
        try {
            q.createTables();
        } catch (SQLException e) {
            q.close();
            throw new QueueUnavailableException("cannot create the jobs tables in " + jdbcUrl + ": " + e.getMessage(),
                    e);
        }
        return q;
    }

    private void createTables() throws SQLException {
        try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            // two processes starting at once must not both create (CREATE ... IF NOT EXISTS can still collide)
            s.execute("SELECT pg_advisory_xact_lock(hashtext('scoreflow_jobs schema'))");
            s.execute("""
                    CREATE TABLE IF NOT EXISTS scoreflow_jobs (
                        id uuid PRIMARY KEY,
                        queue text NOT NULL,
                        model text NOT NULL,
                        version text,
                        protocol text NOT NULL,
                        content_type text NOT NULL,
                        header_length bigint NOT NULL,
                        body bytea NOT NULL,
                        msg_group text,
                        idempotency_key text,
                        seq bigserial,
                        state text NOT NULL,
                        receives int NOT NULL DEFAULT 0,
                        visible_at timestamptz NOT NULL DEFAULT now(),
                        lease uuid,
                        error text,
                        result bytea,
                        result_type text,
                        submitted_at timestamptz NOT NULL DEFAULT now(),
                        updated_at timestamptz NOT NULL DEFAULT now(),
                        finished_at timestamptz,
                        callbacks text[],
                        callback_status text)""");
            // the claims' index holds only the jobs in play: finished rows cost it nothing
            s.execute("CREATE INDEX IF NOT EXISTS scoreflow_jobs_due ON scoreflow_jobs (queue, visible_at, seq) "
                    + "WHERE state IN ('queued', 'running')");
            s.execute("CREATE INDEX IF NOT EXISTS scoreflow_jobs_groups ON scoreflow_jobs (queue, msg_group, seq) "
                    + "WHERE state IN ('queued', 'running')");
            s.execute("CREATE UNIQUE INDEX IF NOT EXISTS scoreflow_jobs_idempotency ON scoreflow_jobs "
                    + "(queue, idempotency_key) WHERE idempotency_key IS NOT NULL");
            s.execute("CREATE INDEX IF NOT EXISTS scoreflow_jobs_finished ON scoreflow_jobs (queue, finished_at) "
                    + "WHERE finished_at IS NOT NULL");
            // tables made before callbacks existed get their columns
            for (String t : List.of("scoreflow_jobs", "scoreflow_jobs_dead")) {
                s.execute("ALTER TABLE IF EXISTS " + t + " ADD COLUMN IF NOT EXISTS callbacks text[], "
                        + "ADD COLUMN IF NOT EXISTS callback_status text");
            }
            s.execute("""
                    CREATE TABLE IF NOT EXISTS scoreflow_jobs_dead (
                        id uuid PRIMARY KEY,
                        queue text NOT NULL,
                        model text NOT NULL,
                        version text,
                        protocol text NOT NULL,
                        content_type text NOT NULL,
                        header_length bigint NOT NULL,
                        body bytea NOT NULL,
                        msg_group text,
                        idempotency_key text,
                        state text NOT NULL,
                        receives int NOT NULL,
                        error text,
                        result bytea,
                        result_type text,
                        submitted_at timestamptz NOT NULL,
                        updated_at timestamptz NOT NULL,
                        callbacks text[],
                        callback_status text)""");
            c.commit();
        }
    }

    @Override
    public QueueSettings settings() {
        return settings;
    }

    @Override
    public Submitted submit(JobRequest r) {
        String id = UUID.randomUUID().toString();
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement insert = c.prepareStatement("INSERT INTO scoreflow_jobs (id, queue, " + REQUEST
                    + ", state, callback_status) VALUES (?::uuid, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?) "
                    + "ON CONFLICT (queue, "
                    + "idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING")) {
                insert.setString(1, id);
                insert.setString(2, queue);
                insert.setString(3, r.model());
                insert.setString(4, r.version());
                insert.setString(5, r.protocol());
                insert.setString(6, r.contentType());
                insert.setLong(7, r.headerLength());
                insert.setBytes(8, r.body());
                insert.setString(9, r.group());
                insert.setString(10, r.idempotencyKey());
                insert.setArray(11, r.callbacks().isEmpty() ? null
                        : c.createArrayOf("text", r.callbacks().toArray()));
                insert.setString(12, r.callbacks().isEmpty() ? null : "pending");
                if (insert.executeUpdate() == 0) {
                    c.rollback();
                    return new Submitted(existing(c, r.idempotencyKey()), false);
                }
            }
            notifyWorkers(c);
            c.commit(); // durable from here (synchronous commit): only now may the caller say 202
            return new Submitted(id, true);
        } catch (SQLException e) {
            throw unavailable("cannot queue the job", e);
        }
    }

    private String existing(Connection c, String key) throws SQLException {
        try (PreparedStatement q = c.prepareStatement(
                "SELECT id FROM scoreflow_jobs WHERE queue = ? AND idempotency_key = ?")) {
            q.setString(1, queue);
            q.setString(2, key);
            try (ResultSet rs = q.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("the job with idempotency key " + key + " vanished (cleaned up?)");
                }
                return rs.getString(1);
            }
        }
    }

    private void notifyFinished(Connection c, String id) throws SQLException {
        if (storeOnly) {
            return; // the broker that carries the deliveries announces
        }
        notify(c, FINISHED, queue + " " + id);
    }

    /** A {@code NOTIFY}, delivered when {@code c}'s transaction commits (at once in autocommit). */
    private static void notify(Connection c, String channel, String payload) throws SQLException {
        try (PreparedStatement n = c.prepareStatement("SELECT pg_notify(?, ?)")) {
            n.setString(1, channel);
            n.setString(2, payload);
            n.execute();
        }
    }

    @Override
    public void publish(String event) {
        if (event.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_EVENT_BYTES) {
            throw new IllegalArgumentException("an event has at most " + MAX_EVENT_BYTES + " bytes");
        }
        try (Connection c = pool.getConnection()) {
            notify(c, EVENTS, queue + " " + event);
        } catch (SQLException e) {
            throw unavailable("cannot publish an event", e);
        }
    }

    @Override
    public void onEvent(java.util.function.Consumer<String> listener) {
        eventListeners.add(listener);
        startWatcher();
    }

    @Override
    public void onFinished(java.util.function.Consumer<String> listener) {
        finishedListeners.add(listener);
        startWatcher();
    }

    private synchronized void startWatcher() {
        if (finishedWatcher == null) {
            finishedWatcher = new Thread(this::watchFinished, "scoreflow-jobs-finished-" + queue);
            finishedWatcher.setDaemon(true);
            finishedWatcher.start();
        }
    }

    /**
     * Listens for finished jobs and events on a connection of its own; after a lost connection, tells the
     * finished-job listeners null.
     */
    private void watchFinished() {
        Connection c = null;
        boolean missed = false;
        while (!closed) {
            try {
                if (c == null) {
                    c = DriverManager.getConnection(jdbcUrl, connectionProperties);
                    try (Statement s = c.createStatement()) {
                        s.execute("LISTEN " + FINISHED);
                        s.execute("LISTEN " + EVENTS);
                    }
                    if (missed) {
                        finishedListeners.forEach(l -> l.accept(null));
                        missed = false;
                    }
                }
                org.postgresql.PGNotification[] got = c.unwrap(PGConnection.class).getNotifications(1000);
                if (got == null) {
                    continue;
                }
                for (org.postgresql.PGNotification n : got) {
                    String payload = n.getParameter();
                    if (n.getName().equals(EVENTS)) {
                        // "queue event": the queue's name may not hold a space, the event may
                        if (payload.startsWith(queue + " ")) {
                            String event = payload.substring(queue.length() + 1);
                            eventListeners.forEach(l -> l.accept(event));
                        }
                        continue;
                    }
                    int space = payload.lastIndexOf(' ');
                    if (space > 0 && payload.substring(0, space).equals(queue)) {
                        String id = payload.substring(space + 1);
                        finishedListeners.forEach(l -> l.accept(id));
                    }
                }
            } catch (SQLException e) {
                if (closed) {
                    break;
                }
                LOG.warn("queue {}: listening for finished jobs failed ({}); again in 1 s", queue, e.getMessage());
                missed = true;
                close(c);
                c = null;
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException ie) {
                    break;
                }
            } catch (RuntimeException e) {
                LOG.error("queue {}: a finished-job listener failed", queue, e);
            }
        }
        close(c);
    }

    private static void close(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // it is being dropped because it broke
            }
        }
    }

    private void notifyWorkers(Connection c) throws SQLException {
        if (storeOnly) {
            return;
        }
        notify(c, CHANNEL, queue);
    }

    @Override
    public List<Delivery> receive(int max, Duration wait) throws InterruptedException {
        if (max < 1) {
            throw new IllegalArgumentException("max must be >= 1, was " + max);
        }
        if (storeOnly) {
            throw new IllegalStateException("queue " + queue + " is a store: its broker delivers the jobs");
        }
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            List<Delivery> got;
            long untilVisibleMs;
            try (Connection c = pool.getConnection()) {
                maybeCleanUp(c);
                long now = System.nanoTime();
                if (now - nextSweepNanos >= 0) {
                    nextSweepNanos = now + SWEEP_EVERY_NANOS;
                    deadLetterExhausted(c);
                }
                got = claim(c, max);
                if (!got.isEmpty()) {
                    return got;
                }
                untilVisibleMs = untilNextVisible(c);
            } catch (SQLException e) {
                throw unavailable("cannot receive jobs", e);
            }
            long leftMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (leftMs <= 0) {
                return List.of();
            }
            awaitNotification(Math.max(1, Math.min(leftMs, untilVisibleMs)));
        }
    }

    /** The due jobs of a standard queue (parameters: queue, max receives, limit); its index holds only jobs in play. */
    static final String CLAIM = "SELECT id FROM scoreflow_jobs WHERE queue = ? AND state IN ('queued', 'running') "
            + "AND visible_at <= now() AND receives < ? ORDER BY visible_at, seq LIMIT ? FOR UPDATE SKIP LOCKED";
    /** The same for a FIFO queue: each group's first job still in play, only if it is due (a group waits for its head). */
    static final String CLAIM_FIFO = "SELECT j.id FROM scoreflow_jobs j JOIN (SELECT DISTINCT ON (msg_group) id "
            + "FROM scoreflow_jobs WHERE queue = ? AND state IN ('queued', 'running') ORDER BY msg_group, seq) h "
            + "ON h.id = j.id WHERE j.state IN ('queued', 'running') AND j.visible_at <= now() AND j.receives < ? "
            + "ORDER BY j.seq LIMIT ? FOR UPDATE OF j SKIP LOCKED";

    private List<Delivery> claim(Connection c, int max) throws SQLException {
        String due = settings.fifo() ? CLAIM_FIFO : CLAIM;
        String lease = UUID.randomUUID().toString();
        // the conditions sit on the locked rows themselves, so a row another worker claimed meanwhile is re-checked
        // and left out: never two leases on one job
        try (PreparedStatement claim = c.prepareStatement("UPDATE scoreflow_jobs SET state = 'running', receives = "
                + "receives + 1, lease = ?::uuid, visible_at = now() + ? * interval '1 millisecond', updated_at = now() "
                + "WHERE id IN (" + due + ") RETURNING id, receives, seq, " + REQUEST)) {
            claim.setString(1, lease);
            claim.setLong(2, settings.visibilityTimeout().toMillis());
            claim.setString(3, queue);
            claim.setInt(4, settings.maxReceives());
            claim.setInt(5, max);
            List<long[]> order = new ArrayList<>();
            List<Delivery> out = new ArrayList<>();
            try (ResultSet rs = claim.executeQuery()) {
                while (rs.next()) {
                    JobRequest req = new JobRequest(rs.getString("model"), rs.getString("version"),
                            rs.getString("protocol"), rs.getString("content_type"), rs.getLong("header_length"),
                            rs.getBytes("body"), rs.getString("msg_group"), rs.getString("idempotency_key"),
                            callbacks(rs.getArray("callbacks")));
                    out.add(new Delivery(rs.getString("id"), lease, req, rs.getInt("receives")));
                    order.add(new long[]{rs.getLong("seq"), out.size() - 1});
                }
            }
            // RETURNING has no order: hand them out in submission order
            order.sort((a, b) -> Long.compare(a[0], b[0]));
            List<Delivery> sorted = new ArrayList<>(out.size());
            order.forEach(o -> sorted.add(out.get((int) o[1])));
            return sorted;
        }
    }

    private static List<String> callbacks(java.sql.Array a) throws SQLException {
        if (a == null) {
            return List.of();
        }
        return List.of((String[]) a.getArray());
    }

    /**
     * Store mode: marks a job the broker delivered as running under {@code lease} (a new receipt; an earlier
     * delivery's receipt is refused from now on) for the visibility timeout, counting the receive.
     *
     * @return the job's receives, this one included, or empty if the job is not in play (unknown, cancelled,
     * finished, dead-lettered): then the delivery is to be dropped
     */
    Optional<Integer> claimDelivered(String id, String lease) {
        if (id == null || !isUuid(id)) { // not a job of ours (a message published by hand): dropped
            return Optional.empty();
        }
        try (Connection c = pool.getConnection();
             PreparedStatement s = c.prepareStatement("UPDATE scoreflow_jobs SET state = 'running', receives = "
                     + "receives + 1, lease = ?::uuid, visible_at = now() + ? * interval '1 millisecond', "
                     + "updated_at = now() WHERE id = ?::uuid AND queue = ? AND state IN ('queued', 'running') "
                     + "RETURNING receives")) {
            s.setString(1, lease);
            s.setLong(2, settings.visibilityTimeout().toMillis());
            s.setString(3, id);
            s.setString(4, queue);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? Optional.of(rs.getInt(1)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw unavailable("cannot mark job " + id + " running", e);
        }
    }

    /**
     * Store mode: dead-letters a job still in play under {@code lease} with {@code error} (a delivery past the
     * maximum of receives). @return false if the lease had passed on or the job is no longer in play
     */
    boolean deadLetter(String id, String lease, String error) {
        try (Connection c = pool.getConnection();
             PreparedStatement s = c.prepareStatement("WITH dead AS (DELETE FROM scoreflow_jobs "
                     + "WHERE id = ?::uuid AND queue = ? AND lease = ?::uuid AND state = 'running' RETURNING *) "
                     + "INSERT INTO scoreflow_jobs_dead (id, queue, " + REQUEST + ", state, receives, error, "
                     + "submitted_at, updated_at, callback_status) SELECT id, queue, " + REQUEST
                     + ", 'dead_lettered', receives, ?, submitted_at, now(), callback_status FROM dead")) {
            s.setString(1, id);
            s.setString(2, queue);
            s.setString(3, lease);
            s.setString(4, error);
            boolean dead = s.executeUpdate() > 0;
            if (dead) {
                LOG.warn("queue {}: job {} dead-lettered: {}", queue, id, error);
            }
            return dead;
        } catch (SQLException e) {
            throw unavailable("cannot dead-letter job " + id, e);
        }
    }

    /** Store mode: removes a job queued a moment ago whose delivery the broker did not take (the submitter got 503). */
    void forget(String id) {
        try (Connection c = pool.getConnection();
             PreparedStatement s = c.prepareStatement("DELETE FROM scoreflow_jobs WHERE id = ?::uuid AND queue = ? "
                     + "AND state = 'queued' AND receives = 0")) {
            s.setString(1, id);
            s.setString(2, queue);
            s.executeUpdate();
        } catch (SQLException e) {
            throw unavailable("cannot forget job " + id, e);
        }
    }

    /**
     * Store mode: the periodic chores of {@link #receive} (at most every half second, whoever calls): dead-letters
     * running jobs past their lease that used up their receives (their last worker died: the broker's delivery limit
     * keeps them from coming again), and cleans up old finished jobs. @return the ids dead-lettered now
     */
    List<String> sweep() {
        long now = System.nanoTime();
        if (now - nextSweepNanos < 0) {
            return List.of();
        }
        nextSweepNanos = now + SWEEP_EVERY_NANOS;
        try (Connection c = pool.getConnection()) {
            maybeCleanUp(c);
            return deadLetterExhausted(c);
        } catch (SQLException e) {
            throw unavailable("cannot sweep the jobs", e);
        }
    }

    /** Jobs due again that have used up their receives (their workers died or took too long) go to the dead letters. */
    private List<String> deadLetterExhausted(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("WITH dead AS (DELETE FROM scoreflow_jobs WHERE id IN ("
                + "SELECT id FROM scoreflow_jobs WHERE queue = ? AND state IN ('queued', 'running') "
                + "AND visible_at <= now() AND receives >= ? FOR UPDATE SKIP LOCKED) RETURNING *) "
                + "INSERT INTO scoreflow_jobs_dead (id, queue, " + REQUEST + ", state, receives, error, "
                + "submitted_at, updated_at, callback_status) SELECT id, queue, " + REQUEST + ", 'dead_lettered', "
                + "receives, coalesce(error, '') || "
                + "CASE WHEN error IS NULL THEN '' ELSE '; ' END || 'not finished within the visibility timeout "
                + "in ' || receives || ' receives', submitted_at, now(), callback_status FROM dead RETURNING id")) {
            s.setString(1, queue);
            s.setInt(2, settings.maxReceives());
            List<String> dead = new ArrayList<>();
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    dead.add(rs.getString(1));
                    notifyFinished(c, rs.getString(1));
                }
            }
            if (!dead.isEmpty()) {
                LOG.warn("queue {}: {} jobs dead-lettered after {} receives without a result", queue, dead.size(),
                        settings.maxReceives());
            }
            return dead;
        }
    }

    /** Milliseconds until the next job becomes due (a delayed retry, a lease that expires); long max if none. */
    private long untilNextVisible(Connection c) throws SQLException {
        String sql = settings.fifo()
                ? "SELECT ceil(extract(epoch FROM min(visible_at) - now()) * 1000) FROM (SELECT DISTINCT ON "
                + "(msg_group) visible_at FROM scoreflow_jobs WHERE queue = ? AND state IN ('queued', 'running') "
                + "ORDER BY msg_group, seq) h"
                : "SELECT ceil(extract(epoch FROM min(visible_at) - now()) * 1000) FROM scoreflow_jobs "
                + "WHERE queue = ? AND state IN ('queued', 'running')";
        try (PreparedStatement s = c.prepareStatement(sql)) {
            s.setString(1, queue);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                long ms = rs.getLong(1);
                return rs.wasNull() ? Long.MAX_VALUE : Math.max(1, ms);
            }
        }
    }

    /**
     * Sleeps until a worker-facing change is notified on this database (a new job, one finished in a FIFO queue) or
     * {@code ms} pass. One thread of this process listens; others wait for the lock, which the listener releases as
     * soon as anything arrives.
     */
    private void awaitNotification(long ms) throws InterruptedException {
        if (!listening.tryLock(ms, TimeUnit.MILLISECONDS)) {
            return;
        }
        try {
            if (listener == null) {
                listener = DriverManager.getConnection(jdbcUrl, connectionProperties);
                try (Statement s = listener.createStatement()) {
                    s.execute("LISTEN " + CHANNEL);
                }
                // a job queued after the caller looked but before this LISTEN was never announced to us: look again
                // before sleeping; from now on the connection keeps every notification until it is read
                return;
            }
            // getNotifications(ms) returns when one arrives, or after ms
            listener.unwrap(PGConnection.class).getNotifications((int) Math.min(Integer.MAX_VALUE, ms));
        } catch (SQLException e) {
            LOG.warn("queue {}: listening for new jobs failed ({}); looking again in {} ms", queue, e.getMessage(),
                    Math.min(ms, FALLBACK_POLL_MS));
            closeListener();
            Thread.sleep(Math.min(ms, FALLBACK_POLL_MS));
        } finally {
            listening.unlock();
        }
    }

    private void closeListener() {
        close(listener);
        listener = null;
    }

    private void maybeCleanUp(Connection c) throws SQLException {
        long now = System.nanoTime();
        if (now - nextCleanUpNanos < 0) {
            return;
        }
        nextCleanUpNanos = now + CLEAN_UP_EVERY.toNanos();
        try (PreparedStatement s = c.prepareStatement("DELETE FROM scoreflow_jobs WHERE queue = ? AND finished_at "
                + "< now() - ? * interval '1 millisecond'")) {
            s.setString(1, queue);
            s.setLong(2, settings.keepFinished().toMillis());
            int n = s.executeUpdate();
            if (n > 0) {
                LOG.info("queue {}: cleaned up {} jobs finished more than {} ago", queue, n, settings.keepFinished());
            }
        }
    }

    @Override
    public boolean complete(Delivery d, byte[] result, String resultType) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement s = c.prepareStatement("UPDATE scoreflow_jobs SET state = 'done', result = ?, "
                    + "result_type = ?, lease = NULL, error = NULL, updated_at = now(), finished_at = now() "
                    + "WHERE id = ?::uuid AND lease = ?::uuid AND state = 'running'")) {
                s.setBytes(1, result);
                s.setString(2, resultType);
                s.setString(3, d.id());
                s.setString(4, d.receipt());
                if (s.executeUpdate() == 0) {
                    c.rollback();
                    return false;
                }
            }
            if (settings.fifo()) {
                notifyWorkers(c); // the group's next job is due now
            }
            notifyFinished(c, d.id());
            c.commit();
            return true;
        } catch (SQLException e) {
            throw unavailable("cannot store the result of job " + d.id(), e);
        }
    }

    @Override
    public boolean fail(Delivery d, String error, Duration retryAfter) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            int n;
            if (retryAfter == null) {
                try (PreparedStatement s = c.prepareStatement("UPDATE scoreflow_jobs SET state = 'failed', "
                        + "error = ?, lease = NULL, updated_at = now(), finished_at = now() "
                        + "WHERE id = ?::uuid AND lease = ?::uuid AND state = 'running'")) {
                    s.setString(1, error);
                    s.setString(2, d.id());
                    s.setString(3, d.receipt());
                    n = s.executeUpdate();
                }
            } else if (d.receives() >= settings.maxReceives()) {
                try (PreparedStatement s = c.prepareStatement("WITH dead AS (DELETE FROM scoreflow_jobs "
                        + "WHERE id = ?::uuid AND lease = ?::uuid AND state = 'running' RETURNING *) "
                        + "INSERT INTO scoreflow_jobs_dead (id, queue, " + REQUEST + ", state, receives, error, "
                        + "submitted_at, updated_at, callback_status) SELECT id, queue, " + REQUEST
                        + ", 'dead_lettered', receives, ?, submitted_at, now(), callback_status FROM dead")) {
                    s.setString(1, d.id());
                    s.setString(2, d.receipt());
                    s.setString(3, error);
                    n = s.executeUpdate();
                }
                if (n > 0) {
                    LOG.warn("queue {}: job {} dead-lettered after {} receives: {}", queue, d.id(), d.receives(),
                            error);
                }
            } else {
                try (PreparedStatement s = c.prepareStatement("UPDATE scoreflow_jobs SET state = 'queued', "
                        + "error = ?, lease = NULL, visible_at = now() + ? * interval '1 millisecond', "
                        + "updated_at = now() WHERE id = ?::uuid AND lease = ?::uuid AND state = 'running'")) {
                    s.setString(1, error);
                    s.setLong(2, retryAfter.toMillis());
                    s.setString(3, d.id());
                    s.setString(4, d.receipt());
                    n = s.executeUpdate();
                }
            }
            if (n > 0) {
                notifyWorkers(c);
                if (retryAfter == null || d.receives() >= settings.maxReceives()) {
                    notifyFinished(c, d.id());
                }
            }
            c.commit();
            return n > 0;
        } catch (SQLException e) {
            throw unavailable("cannot record the failure of job " + d.id(), e);
        }
    }

    @Override
    public Optional<Job> get(String id) {
        if (!isUuid(id)) {
            return Optional.empty();
        }
        try (Connection c = pool.getConnection();
             PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM scoreflow_jobs WHERE id = ?::uuid "
                     + "AND queue = ? UNION ALL SELECT " + COLUMNS + " FROM scoreflow_jobs_dead WHERE id = ?::uuid "
                     + "AND queue = ?")) {
            s.setString(1, id);
            s.setString(2, queue);
            s.setString(3, id);
            s.setString(4, queue);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(new Job(rs.getString("id"), rs.getString("model"),
                        JobState.ofWire(rs.getString("state")), rs.getInt("receives"), rs.getString("error"),
                        rs.getBytes("result"), rs.getString("result_type"),
                        rs.getObject("submitted_at", OffsetDateTime.class).toInstant(),
                        rs.getObject("updated_at", OffsetDateTime.class).toInstant(),
                        rs.getString("callback_status")));
            }
        } catch (SQLException e) {
            throw unavailable("cannot read job " + id, e);
        }
    }

    @Override
    public boolean cancel(String id) {
        if (!isUuid(id)) {
            return false;
        }
        try (Connection c = pool.getConnection();
             PreparedStatement s = c.prepareStatement("UPDATE scoreflow_jobs SET state = 'cancelled', "
                     + "updated_at = now(), finished_at = now() WHERE id = ?::uuid AND queue = ? AND state = 'queued'")) {
            s.setString(1, id);
            s.setString(2, queue);
            if (s.executeUpdate() == 0) {
                return false;
            }
            notifyFinished(c, id); // autocommit: announced as the update commits
            return true;
        } catch (SQLException e) {
            throw unavailable("cannot cancel job " + id, e);
        }
    }

    @Override
    public void noteCallbacks(String id, String status) {
        if (!isUuid(id)) {
            return;
        }
        try (Connection c = pool.getConnection()) {
            for (String table : List.of("scoreflow_jobs", "scoreflow_jobs_dead")) {
                try (PreparedStatement s = c.prepareStatement("UPDATE " + table + " SET callback_status = ? "
                        + "WHERE id = ?::uuid AND queue = ?")) {
                    s.setString(1, status);
                    s.setString(2, id);
                    s.setString(3, queue);
                    if (s.executeUpdate() > 0) {
                        return;
                    }
                }
            }
        } catch (SQLException e) {
            throw unavailable("cannot record the callbacks of job " + id, e);
        }
    }

    private static boolean isUuid(String id) {
        try {
            UUID.fromString(id);
            return id.length() == 36;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private QueueUnavailableException unavailable(String what, SQLException e) {
        LOG.warn("queue {}: {}: {}", queue, what, e.getMessage());
        return new QueueUnavailableException(what + ": PostgreSQL at " + jdbcUrl + ": " + e.getMessage(), e);
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            if (finishedWatcher != null) {
                finishedWatcher.interrupt();
            }
        }
        listening.lock();
        try {
            closeListener();
        } finally {
            listening.unlock();
        }
        pool.close();
    }
}
