package dev.scoreflow.jobs;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JobRequestCodecTest {

    @Test
    void everyFieldSurvivesTheRoundTrip() {
        byte[] body = new byte[4096];
        new Random(7).nextBytes(body);
        JobRequest r = new JobRequest("m", "2", JobRequest.V2, "application/json", 100, body, "g", "key-1",
                List.of("https://example.test/hook?x=1", "mailto:ops@example.test"));
        JobRequest back = JobRequestCodec.decode(JobRequestCodec.encode(r));
        assertEquals(r.model(), back.model());
        assertEquals(r.version(), back.version());
        assertEquals(r.protocol(), back.protocol());
        assertEquals(r.contentType(), back.contentType());
        assertEquals(r.headerLength(), back.headerLength());
        assertEquals(r.group(), back.group());
        assertEquals(r.idempotencyKey(), back.idempotencyKey());
        assertEquals(r.callbacks(), back.callbacks());
        assertArrayEquals(r.body(), back.body());

        JobRequest bare = JobRequest.seed("m", new byte[]{1, 2, 3, 4});
        JobRequest bareBack = JobRequestCodec.decode(JobRequestCodec.encode(bare));
        assertEquals(null, bareBack.version());
        assertEquals(null, bareBack.group());
        assertEquals(List.of(), bareBack.callbacks());
    }

    @Test
    void damagedMessagesAreRefusedNamingTheProblem() {
        byte[] good = JobRequestCodec.encode(JobRequest.seed("m", new byte[64]));
        for (int cut = 0; cut < good.length; cut += 7) {
            byte[] truncated = Arrays.copyOf(good, cut);
            assertThrows(IllegalArgumentException.class, () -> JobRequestCodec.decode(truncated));
        }
        byte[] extra = Arrays.copyOf(good, good.length + 3);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> JobRequestCodec.decode(extra))
                .getMessage().contains("after its body"));
        byte[] version = good.clone();
        version[0] = 9;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> JobRequestCodec.decode(version))
                .getMessage().contains("version 9"));
    }

    @Test
    void callbacksMustBeHttpOrMailto() {
        JobRequest r = JobRequest.seed("m", new byte[4]);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> r.withCallbacks(List.of("ftp://x/y")))
                .getMessage().contains("ftp://x/y"));
        assertThrows(IllegalArgumentException.class, () -> r.withCallbacks(List.of("mailto:nobody")));
        assertThrows(IllegalArgumentException.class, () -> r.withCallbacks(List.of("http:///nohost")));
        assertThrows(IllegalArgumentException.class, () -> r.withCallbacks(
                java.util.Collections.nCopies(JobRequest.MAX_CALLBACKS + 1, "http://h/")));
        assertEquals(2, r.withCallbacks(List.of("http://h:8/x", "mailto:a@b.test")).callbacks().size());
    }
}
