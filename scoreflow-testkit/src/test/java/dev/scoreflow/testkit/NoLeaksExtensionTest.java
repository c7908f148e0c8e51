package dev.scoreflow.testkit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class NoLeaksExtensionTest {
    @Test
    void runsAtParanoidWithTheRecordingDetector() {
        ByteBufAllocator.DEFAULT.buffer(1).release();
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.PARANOID);
        assertThat(RecordingLeakDetector.installed()).isTrue();
    }

    @Test
    void reportsABufferThatWasNeverReleased() {
        leak();
        List<String> leaks = NoLeaksExtension.collect();
        assertThat(leaks).isNotEmpty();
        assertThat(leaks.get(0)).contains("LEAK").contains("leak(");
    }

    @Test
    void reportsNothingWhenEveryBufferIsReleased() {
        ByteBuf b = ByteBufAllocator.DEFAULT.directBuffer(64);
        b.writeLong(42);
        b.release();
        assertThat(NoLeaksExtension.collect()).isEmpty();
    }

    private static void leak() {
        ByteBuf b = ByteBufAllocator.DEFAULT.directBuffer(64);
        b.writeLong(42); // an access record with this method's name in it
    }
}
