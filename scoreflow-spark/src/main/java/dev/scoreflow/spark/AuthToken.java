package dev.scoreflow.spark;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/**
 * Where a bearer token for the servers comes from: a file (its first line, as {@code scoreflow serve
 * --auth-token-file} reads it) or an environment variable, never a plain setting, so it stays out of saved
 * pipelines, command lines and logs.
 */
final class AuthToken {
    private AuthToken() {
    }

    /**
     * The token named by {@code file} or {@code env} (at most one may be set), or null when neither is.
     *
     * @param getenv looks an environment variable up ({@link System#getenv(String)} outside tests)
     * @throws IllegalArgumentException when both are set, the file cannot be read, the variable is unset, or the
     *                                  token is empty; the message names the source, never the token
     */
    static String resolve(String file, String env, UnaryOperator<String> getenv, String fileName, String envName) {
        if (file != null && env != null) {
            throw new IllegalArgumentException("set at most one of " + fileName + " and " + envName);
        }
        String token;
        if (file != null) {
            try {
                token = Files.readAllLines(Path.of(file), StandardCharsets.UTF_8).stream().findFirst().orElse("");
            } catch (IOException | RuntimeException e) {
                throw new IllegalArgumentException(fileName + " " + file + " cannot be read: " + e, e);
            }
            token = token.strip();
            if (token.isEmpty()) {
                throw new IllegalArgumentException(fileName + " " + file + " is empty");
            }
            return token;
        }
        if (env != null) {
            token = getenv.apply(env);
            if (token == null || token.isBlank()) {
                throw new IllegalArgumentException(envName + ": the environment variable " + env + " is "
                        + (token == null ? "not set" : "empty"));
            }
            return token.strip();
        }
        return null;
    }
}
