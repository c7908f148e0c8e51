package dev.scoreflow.jobs;

import java.time.Duration;
import java.util.Objects;

/**
 * How a queue delivers: {@code visibilityTimeout} (a received job's lease; unfinished by then, it is delivered
 * again), {@code maxReceives} (after that many deliveries without success a job is dead-lettered), {@code fifo}
 * (deliver each message group's jobs one at a time, in submission order; jobs without a group form one group) and
 * {@code keepFinished} (how long finished jobs and their results are kept before clean-up).
 */
public record QueueSettings(Duration visibilityTimeout, int maxReceives, boolean fifo, Duration keepFinished) {

    public QueueSettings {
        Objects.requireNonNull(visibilityTimeout, "visibilityTimeout");
        Objects.requireNonNull(keepFinished, "keepFinished");
        if (visibilityTimeout.toMillis() < 100 || visibilityTimeout.compareTo(Duration.ofHours(12)) > 0) {
            throw new IllegalArgumentException("the visibility timeout must be in [100 ms, 12 h], was "
                    + visibilityTimeout);
        }
        if (maxReceives < 1 || maxReceives > 1000) {
            throw new IllegalArgumentException("max receives must be in [1, 1000], was " + maxReceives);
        }
        if (keepFinished.isNegative()) {
            throw new IllegalArgumentException("keepFinished must not be negative, was " + keepFinished);
        }
    }

    /** SQS's defaults, nearly: a 30-s lease, 5 receives, standard order, finished jobs kept a day. */
    public static QueueSettings defaults() {
        return new QueueSettings(Duration.ofSeconds(30), 5, false, Duration.ofDays(1));
    }

    public QueueSettings withVisibilityTimeout(Duration d) {
        return new QueueSettings(d, maxReceives, fifo, keepFinished);
    }

    public QueueSettings withMaxReceives(int n) {
        return new QueueSettings(visibilityTimeout, n, fifo, keepFinished);
    }

    public QueueSettings withFifo(boolean f) {
        return new QueueSettings(visibilityTimeout, maxReceives, f, keepFinished);
    }
}
