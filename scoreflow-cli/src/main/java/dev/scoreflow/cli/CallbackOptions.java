package dev.scoreflow.cli;

import dev.scoreflow.server.CallbackSettings;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** The options of a job worker's callbacks ({@code worker}, and {@code serve --job-workers}): one place for both. */
final class CallbackOptions {
    /** Where the signing secret is taken from when no file is given. */
    static final String SECRET_ENV = "SCOREFLOW_CALLBACK_SECRET";

    @Option(names = "--callback-secret-file", paramLabel = "FILE", description = "Sign webhook callbacks with the "
            + "first line of FILE (at least 16 bytes) as the HMAC-SHA256 key: header 'Scoreflow-Signature: "
            + "t=<unix seconds>,v1=<hex HMAC of t + \".\" + body>' (default: the environment variable "
            + SECRET_ENV + "; with neither, webhooks go unsigned).")
    Path secretFile;

    @Option(names = "--callback-attempts", paramLabel = "N", defaultValue = "5", description = "Attempts per "
            + "callback, 1 s apart then doubling up to 60 s, each at most 10 s, before it is recorded failed "
            + "(default: ${DEFAULT-VALUE}).")
    int attempts;

    @Option(names = "--smtp", paramLabel = "HOST:PORT", description = "SMTP server for mailto: callbacks (without"
            + " it they fail, saying so).")
    String smtp;

    @Option(names = "--mail-from", paramLabel = "ADDR", defaultValue = "scoreflow@localhost", description = "Sender"
            + " of mailto: callbacks (default: ${DEFAULT-VALUE}).")
    String mailFrom;

    CallbackSettings settings() throws IOException {
        CallbackSettings.Builder b = CallbackSettings.builder().attempts(attempts).mailFrom(mailFrom);
        String secret = secretFile != null ? ServeCommand.readToken(secretFile, "--callback-secret-file")
                : System.getenv(SECRET_ENV);
        if (secret != null && !secret.isBlank()) {
            b.secret(secret.trim().getBytes(StandardCharsets.UTF_8));
        }
        if (smtp != null) {
            b.smtp(smtp);
        }
        return b.build();
    }
}
