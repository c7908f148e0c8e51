package dev.scoreflow.testkit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.List;

/**
 * Fails a test class when a Netty buffer it allocated was garbage-collected without being released.
 *
 * <p>Registered for every test class through {@code META-INF/services} (the parent POM turns on JUnit's extension
 * autodetection). Netty notices a leak only when a collected buffer's phantom reference is polled, which happens
 * when another buffer is allocated; so after each class this collects garbage and allocates until the reports are
 * in. It also fails when the leak detector is not at {@code PARANOID} or not the recording one: a leak check that
 * is silently off would pass everything.
 */
public final class NoLeaksExtension implements BeforeAllCallback, AfterAllCallback {
    @Override
    public void beforeAll(ExtensionContext context) {
        List<String> earlier = RecordingLeakDetector.drain();
        if (!earlier.isEmpty()) {
            throw new AssertionError(earlier.size() + " Netty buffer(s) leaked before " + context.getDisplayName()
                    + " (by an earlier class):\n" + String.join("\n", earlier));
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        List<String> leaks = collect();
        if (ResourceLeakDetector.getLevel() != ResourceLeakDetector.Level.PARANOID) {
            throw new AssertionError("Netty leak detection is " + ResourceLeakDetector.getLevel()
                    + ", not PARANOID: run tests with -Dio.netty.leakDetection.level=paranoid");
        }
        if (!RecordingLeakDetector.installed()) {
            throw new AssertionError("Netty's leak detector is not " + RecordingLeakDetector.class.getName()
                    + ": run tests with -Dio.netty.customResourceLeakDetector=" + RecordingLeakDetector.class.getName());
        }
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " Netty buffer(s) leaked in " + context.getDisplayName()
                    + ":\n" + String.join("\n", leaks));
        }
    }

    /** Collects garbage and polls Netty's detectors until reports stop coming; returns and clears them. */
    static List<String> collect() {
        for (int round = 0; round < 3; round++) {
            System.gc();
            System.runFinalization();
            for (ByteBufAllocator a : new ByteBufAllocator[]{ByteBufAllocator.DEFAULT, PooledByteBufAllocator.DEFAULT,
                    UnpooledByteBufAllocator.DEFAULT}) {
                for (int i = 0; i < 4; i++) { // every allocation polls the collected buffers' references
                    ByteBuf b = a.directBuffer(8);
                    b.release();
                    b = a.heapBuffer(8);
                    b.release();
                }
            }
        }
        return RecordingLeakDetector.drain();
    }
}
