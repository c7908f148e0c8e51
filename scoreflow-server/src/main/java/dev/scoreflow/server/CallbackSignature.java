package dev.scoreflow.server;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;

/**
 * The signature of a webhook callback, in its {@value #HEADER} header: {@code t=<unix seconds>,v1=<hex>} where the
 * hex is HMAC-SHA256, keyed with the worker's callback secret, over the ASCII timestamp, a dot and the raw body
 * ({@code t + "." + body}). A receiver recomputes it over the body it got, compares in constant time, and refuses a
 * timestamp too far from its clock (a replayed old delivery). Stateless and thread-safe.
 */
public final class CallbackSignature {
    /** The header a webhook carries its signature in. */
    public static final String HEADER = "Scoreflow-Signature";

    private CallbackSignature() {
    }

    /** The header value for {@code body} sent at {@code unixSeconds}. */
    public static String sign(byte[] secret, long unixSeconds, byte[] body) {
        return "t=" + unixSeconds + ",v1=" + HexFormat.of().formatHex(hmac(secret, unixSeconds, body));
    }

    /**
     * Whether {@code header} is a valid signature of {@code body} made within {@code tolerance} of {@code now}: what a
     * receiver checks before trusting a callback.
     */
    public static boolean verify(byte[] secret, String header, byte[] body, Instant now, Duration tolerance) {
        if (header == null) {
            return false;
        }
        Long t = null;
        byte[] given = null;
        for (String part : header.split(",")) {
            String p = part.trim();
            try {
                if (p.startsWith("t=")) {
                    t = Long.parseLong(p.substring(2));
                } else if (p.startsWith("v1=")) {
                    given = HexFormat.of().parseHex(p.substring(3));
                }
            } catch (IllegalArgumentException e) {
                return false; // a malformed header is an invalid one
            }
        }
        if (t == null || given == null
                || Math.abs(now.getEpochSecond() - t) > Math.max(0, tolerance.toSeconds())) {
            return false;
        }
        return MessageDigest.isEqual(given, hmac(secret, t, body));
    }

    private static byte[] hmac(byte[] secret, long unixSeconds, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            mac.update((unixSeconds + ".").getBytes(StandardCharsets.US_ASCII));
            return mac.doFinal(body);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available in this JVM", e); // every JDK has it
        }
    }
}
