/**
 * The streaming commands of {@code scoreflow} ({@code broker}, {@code produce}, {@code consume}, {@code stream},
 * {@code features}, {@code lag}, {@code serve-kafka}, {@code demo stream}): picocli wiring over the
 * {@code scoreflow-streaming} library, kept out of it so that the library's users do not get picocli. An
 * application module, not API: depend on {@code scoreflow-streaming} instead.
 */
package dev.scoreflow.streaming.app;
