package dev.scoreflow.testkit;

import java.time.Duration;
import java.util.function.Predicate;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.fail;

/** Waiting in a test for something another thread or process does: look, and look again until done or too late. */
public final class Await {
    private Await() {
    }

    /**
     * Looks every 200 ms until {@code done} holds for what {@code look} sees, and returns that; fails the test
     * naming {@code what} and the last thing seen if {@code timeout} passes first.
     */
    public static <T> T until(String what, Duration timeout, Supplier<T> look, Predicate<T> done) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            T seen = look.get();
            if (done.test(seen)) {
                return seen;
            }
            if (System.nanoTime() > deadline) {
                fail(what + " did not happen within " + timeout + "; last seen: " + seen);
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
        }
    }
}
