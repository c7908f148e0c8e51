package dev.scoreflow.client;

import java.net.URI;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One scoring node as the balancer sees it: its address, its requests outstanding, and whether it is ejected
 * (it failed without answering; health checks re-admit it once it answers again).
 */
final class Node {
    final URI uri;
    final String host;
    final int port;
    final boolean https;
    final AtomicInteger outstanding = new AtomicInteger();
    private final AtomicBoolean ejected = new AtomicBoolean(); // atomic: an ejection is counted and logged once
    private volatile String lastFailure;

    Node(URI uri) {
        this.uri = uri;
        this.host = uri.getHost();
        this.https = "https".equals(uri.getScheme());
        this.port = uri.getPort() >= 0 ? uri.getPort() : https ? 443 : 80;
    }

    boolean ejected() {
        return ejected.get();
    }

    /** Takes the node out of rotation; returns true if it was in. */
    boolean eject(String why) {
        lastFailure = why;
        return ejected.compareAndSet(false, true);
    }

    /** Puts the node back; returns true if it was out. */
    boolean readmit() {
        return ejected.compareAndSet(true, false);
    }

    String lastFailure() {
        return lastFailure;
    }

    @Override
    public String toString() {
        return host + ":" + port;
    }
}
