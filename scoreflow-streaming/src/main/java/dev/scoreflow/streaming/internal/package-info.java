/**
 * Not API: what the streaming application module ({@code scoreflow-streaming-app}: the {@code stream}, {@code lag},
 * {@code produce}, ... commands) needs of this library beyond its public surface: topic creation, duration parsing
 * and the consumer-group lag monitor. Public only so that another module can reach it; it may change in any
 * release, is left out of the Javadoc and of the API-compatibility check.
 */
package dev.scoreflow.streaming.internal;
