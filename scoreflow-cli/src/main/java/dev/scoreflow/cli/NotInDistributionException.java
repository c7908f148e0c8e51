package dev.scoreflow.cli;

import dev.scoreflow.api.ScoreflowException;

/**
 * What a command throws when an option it was given needs a module this distribution leaves out (the container
 * image's {@code serve --jobs embedded}: a Kafka broker it does not carry); the launcher prints the message and exits
 * with code 2, as for a command that is missing altogether.
 */
final class NotInDistributionException extends ScoreflowException {
    NotInDistributionException(String message) {
        super(message);
    }
}
