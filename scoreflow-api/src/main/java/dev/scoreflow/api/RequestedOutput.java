package dev.scoreflow.api;

/**
 * An output the client asked for, and whether it wants it as binary data ({@code null}: as the request's
 * {@code binary_data_output} parameter says).
 */
public record RequestedOutput(String name, Boolean binaryData) {
}
