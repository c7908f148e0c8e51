package dev.scoreflow.testkit;

import io.netty.util.ResourceLeakDetector;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Netty's leak detector that also keeps every report, so a test can fail on it instead of a log line scrolling
 * by. Installed with {@code -Dio.netty.customResourceLeakDetector=dev.scoreflow.testkit.RecordingLeakDetector}
 * (the parent POM's test JVM arguments do this, with {@code -Dio.netty.leakDetection.level=paranoid}).
 */
public final class RecordingLeakDetector<T> extends ResourceLeakDetector<T> {
    private static final ConcurrentLinkedQueue<String> REPORTS = new ConcurrentLinkedQueue<>();
    private static final AtomicInteger CREATED = new AtomicInteger();

    public RecordingLeakDetector(Class<?> resourceType, int samplingInterval) {
        super(resourceType, samplingInterval);
        CREATED.incrementAndGet();
    }

    public RecordingLeakDetector(Class<?> resourceType, int samplingInterval, long maxActive) {
        this(resourceType, samplingInterval);
    }

    /** Whether Netty created at least one detector of this class, i.e. the system property took effect. */
    static boolean installed() {
        return CREATED.get() > 0;
    }

    /** The reports since the last call, oldest first; clears them. */
    static List<String> drain() {
        List<String> out = new ArrayList<>();
        String s;
        while ((s = REPORTS.poll()) != null) {
            out.add(s);
        }
        return out;
    }

    @Override
    protected boolean needReport() {
        return true; // report even when the test's logging drops Netty's ERROR lines
    }

    @Override
    protected void reportTracedLeak(String resourceType, String records) {
        REPORTS.add("LEAK: " + resourceType + ".release() was not called before it was garbage-collected." + records);
        super.reportTracedLeak(resourceType, records);
    }

    @Override
    protected void reportUntracedLeak(String resourceType) {
        REPORTS.add("LEAK: " + resourceType + ".release() was not called before it was garbage-collected"
                + " (no access records)");
        super.reportUntracedLeak(resourceType);
    }
}
