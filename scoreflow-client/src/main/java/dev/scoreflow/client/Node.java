package dev.scoreflow.client;

import java.net.URI;
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
    private volatile boolean ejected;
    private volatile String lastFailure;

    Node(URI uri) {
        this.uri = uri;
        this.host = uri.getHost();
        this.https = "https".equals(uri.getScheme());
        this.port = uri.getPort() >= 0 ? uri.getPort() : https ? 443 : 80;
    }

    boolean ejected() {
        return ejected;
    }

    /** Takes the node out of rotation; returns true if it was in. */
    boolean eject(String why) {
        lastFailure = why;
        boolean was = !ejected;
        ejected = true;
        return was;
    }

    /** Puts the node back; returns true if it was out. */
    boolean readmit() {
        boolean was = ejected;
        ejected = false;
        return was;
    }

    String lastFailure() {
        return lastFailure;
    }

    @Override
    public String toString() {
        return host + ":" + port;
    }
}
