package dev.scoreflow.client;

/** What a failed row does to a scoring stream. */
public enum ErrorMode {
    /** The first failure ends the stream: it is rethrown to the consumer and no more input is read (default). */
    FAIL,
    /**
     * A failure becomes an error value on the rows it concerns ({@link Scored#error()}, score NaN) and the stream
     * goes on. A batch the service refuses as bad input (400, 413) is split in halves and retried until the bad
     * rows are alone, so one bad row does not take 999 good ones with it.
     */
    VALUE
}
