package dev.scoreflow.client;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Picks the node for the next attempt: among nodes in rotation and not already tried by this batch, the one with
 * the fewest requests outstanding; with more than two candidates, the better of two picked at random (power of two
 * choices: nearly as good, and no herd on one node when counts tie). A slow node collects outstanding requests
 * and so gets fewer new ones.
 *
 * <p>Fallbacks: if every node in rotation was tried, tried nodes are allowed again; if every node is ejected, all
 * are candidates (the circuit breaker, not the balancer, decides when to stop). Thread-safe.
 */
final class LeastOutstandingBalancer {
    private final List<Node> nodes;

    LeastOutstandingBalancer(List<Node> nodes) {
        this.nodes = List.copyOf(nodes);
    }

    List<Node> nodes() {
        return nodes;
    }

    Node pick(Set<Node> tried) {
        List<Node> candidates = new ArrayList<>(nodes.size());
        for (Node n : nodes) {
            if (!n.ejected() && !tried.contains(n)) {
                candidates.add(n);
            }
        }
        if (candidates.isEmpty()) {
            for (Node n : nodes) {
                if (!n.ejected()) {
                    candidates.add(n);
                }
            }
        }
        if (candidates.isEmpty()) {
            candidates.addAll(nodes);
        }
        if (candidates.size() <= 2) {
            Node best = candidates.get(0);
            for (Node n : candidates) {
                if (n.outstanding.get() < best.outstanding.get()) {
                    best = n;
                }
            }
            return best;
        }
        ThreadLocalRandom r = ThreadLocalRandom.current();
        int i = r.nextInt(candidates.size());
        int j = r.nextInt(candidates.size() - 1);
        if (j >= i) {
            j++;
        }
        Node a = candidates.get(i);
        Node b = candidates.get(j);
        return a.outstanding.get() <= b.outstanding.get() ? a : b;
    }
}
