/** Scoring streams over Apache Kafka: the embedded broker, the event generator, features, statistics and rules. */
package dev.scoreflow.streaming;
