package dev.scoreflow.server;

import java.time.Duration;

/**
 * What one connection may hold and for how long; set through {@link ScoringServer.Builder}, whose constants give
 * the defaults.
 *
 * @param maxBodyBytes       largest request body (413 beyond)
 * @param headerTimeout      from a request's first byte (or a new connection's start) to the end of its header
 * @param bodyTimeout        longest pause between two reads of a body, and the grace before {@code bodyMinRate}
 * @param bodyMinRate        bytes per second a body must average once {@code bodyTimeout} has passed (0: none)
 * @param idleTimeout        how long a kept-alive connection may wait for its next request
 * @param writeTimeout       how long writing an answer may take before the client is deemed not to read
 * @param maxRequests        requests per connection; the last answer says {@code Connection: close}
 * @param drainLinger        while draining, how long an idle connection stays open for a request in transit
 */
record ConnectionLimits(int maxBodyBytes, Duration headerTimeout, Duration bodyTimeout, long bodyMinRate,
                        Duration idleTimeout, Duration writeTimeout, int maxRequests, Duration drainLinger) {
    /** A request over the size limit declaring at most this much has its body read and dropped, keeping the
     * connection; a larger one closes it (reading it would cost more than a new connection). */
    static final long DISCARD_LIMIT = 256L << 20;
    /** Requests of one connection received and waiting behind the one being answered; beyond, reading pauses. */
    static final int MAX_PIPELINED = 16;
    /**
     * Requests kept waiting at most: reading pauses at {@link #MAX_PIPELINED}, but the codec decodes every request
     * of the read in hand (at most 64 KiB), so a few hundred ordinary requests may still come; beyond this, 429 and
     * close. Bodies count against the body budget; this bounds what their headers hold.
     */
    static final int MAX_WAITING = 1024;
    /** What Netty's codec may have decoded but not seen answered; above ours so that ours answers first. */
    static final int CODEC_PIPELINE_DEPTH = 1 << 16;
}
