package dev.scoreflow.jobs;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * The topics of one Kafka job queue named {@code Q}: {@code scoreflow.jobs.Q} (the jobs, keyed by message group),
 * {@code .retry} (failed attempts waiting for their next one), {@code .dead} (the dead letters), {@code .state}
 * (every job's latest state and result, compacted, keyed by job id) and {@code .events} (publish-subscribe). Creates
 * the missing ones, and warns about the lecture's trap: Kafka deletes records by age whether or not anyone read them,
 * so a jobs topic whose retention is shorter than a job may wait loses queued jobs without a trace.
 */
final class KafkaTopics {
    private static final Logger LOG = LoggerFactory.getLogger(KafkaTopics.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,100}");
    /** Retention of the topics this queue creates: a week, or twice keepFinished if that is longer. */
    private static final Duration MIN_RETENTION = Duration.ofDays(7);

    final String jobs;
    final String retry;
    final String dead;
    final String state;
    final String events;

    KafkaTopics(String queue) {
        if (queue == null || !NAME.matcher(queue).matches()) {
            throw new IllegalArgumentException("a Kafka queue name needs 1 to 100 letters, digits, '_' or '-' (it "
                    + "names topics), was '" + queue + "'");
        }
        String base = "scoreflow.jobs." + queue;
        this.jobs = base;
        this.retry = base + ".retry";
        this.dead = base + ".dead";
        this.state = base + ".state";
        this.events = base + ".events";
    }

    /**
     * Creates the missing topics ({@code partitions} for jobs and retries, the broker's default replication) and
     * checks the retention of all of them against {@code settings}; logs a warning for each one that may delete what
     * is still needed.
     *
     * @return the warnings logged, one per topic (none if every retention is long enough)
     * @throws QueueUnavailableException if the broker does not answer within {@code timeout}
     */
    List<String> ensure(Properties clientConfig, int partitions, QueueSettings settings, Duration timeout) {
        Properties p = new Properties();
        p.putAll(clientConfig);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        long retention = Math.max(MIN_RETENTION.toMillis(), 2 * settings.keepFinished().toMillis());
        Map<String, String> keep = Map.of(TopicConfig.RETENTION_MS_CONFIG, Long.toString(retention));
        List<NewTopic> wanted = List.of(
                topic(jobs, partitions, keep),
                topic(retry, partitions, keep),
                topic(dead, 1, keep),
                // compacted: the latest state of each job; and deleted by age too, so finished jobs do not pile up
                topic(state, partitions, Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, "compact,delete",
                        TopicConfig.RETENTION_MS_CONFIG, Long.toString(retention))),
                topic(events, 1, Map.of(TopicConfig.RETENTION_MS_CONFIG, Long.toString(Duration.ofHours(1).toMillis()))));
        try (Admin admin = Admin.create(p)) {
            List<String> existing = new ArrayList<>();
            for (NewTopic t : wanted) {
                try {
                    admin.createTopics(List.of(t)).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                    LOG.info("created topic {} ({} partitions, {})", t.name(), t.numPartitions(), t.configs());
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                    existing.add(t.name());
                }
            }
            // the ones created here have the retention chosen above; the others were made by someone else
            return warnAboutRetention(admin, existing, settings, timeout);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new QueueUnavailableException("cannot create the topics of queue " + jobs + " on Kafka at "
                    + clientConfig.getProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG) + ": " + cause, cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QueueUnavailableException("interrupted while creating the topics of " + jobs, e);
        }
    }

    private static NewTopic topic(String name, int partitions, Map<String, String> configs) {
        return new NewTopic(name, Optional.of(partitions), Optional.empty()).configs(configs);
    }

    /** Warns about each of {@code names} whose retention is shorter than jobs are kept. @return the warnings */
    private static List<String> warnAboutRetention(Admin admin, List<String> names, QueueSettings settings,
                                                   Duration timeout)
            throws ExecutionException, InterruptedException, TimeoutException {
        List<ConfigResource> rs = new ArrayList<>();
        for (String t : names) {
            if (!t.endsWith(".events")) { // events are for whoever listens now: an hour is plenty
                rs.add(new ConfigResource(ConfigResource.Type.TOPIC, t));
            }
        }
        List<String> warnings = new ArrayList<>();
        if (rs.isEmpty()) {
            return warnings;
        }
        Map<ConfigResource, Config> configs = admin.describeConfigs(rs).all()
                .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        for (Map.Entry<ConfigResource, Config> e : configs.entrySet()) {
            var entry = e.getValue().get(TopicConfig.RETENTION_MS_CONFIG);
            long ms = entry == null || entry.value() == null ? -1 : Long.parseLong(entry.value());
            if (ms >= 0 && ms < settings.keepFinished().toMillis()) {
                String warning = "topic " + e.getKey().name() + " keeps records " + ms + " ms, less than the "
                        + settings.keepFinished() + " that jobs are kept: Kafka deletes records by age whether or not "
                        + "a worker took them, so a job waiting longer is lost without a trace; raise its retention.ms";
                LOG.warn("{}", warning);
                warnings.add(warning);
            }
        }
        warnings.sort(null);
        return warnings;
    }
}
