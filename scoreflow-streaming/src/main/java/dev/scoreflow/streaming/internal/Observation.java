package dev.scoreflow.streaming.internal;

import org.apache.kafka.common.TopicPartition;

import java.util.OptionalLong;

/**
 * What one look at the cluster found for one partition a consumer group reads, before any arithmetic: the raw
 * material of a {@link PartitionLag}.
 *
 * @param partition             the topic partition
 * @param committed             the group's committed offset (the next record it will read); empty if it has
 *                              committed none for this partition
 * @param logStart              the log start offset: the oldest record the broker still has
 * @param logEnd                the log end offset (high watermark): the offset the next record will get
 * @param oldestUnreadTimestamp the timestamp of the first record at or after the committed offset (or the log
 *                              start, whichever is later); empty if nothing is left to read (the offsets left,
 *                              if any, are transaction markers) or it could not be read in time
 * @param retention             the topic's deletion settings
 * @param sizeBytes             the partition's size on the leader; empty unless the topic has size retention
 */
public record Observation(TopicPartition partition, OptionalLong committed, long logStart, long logEnd,
                   OptionalLong oldestUnreadTimestamp, Retention retention, OptionalLong sizeBytes) {
}
