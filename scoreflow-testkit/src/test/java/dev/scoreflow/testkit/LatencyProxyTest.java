package dev.scoreflow.testkit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyProxyTest {
    ServerSocket echo;
    LatencyProxy proxy;

    /** An echo server on the loopback: each connection's bytes back until its end, then a close. */
    void startEcho() throws IOException {
        echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!echo.isClosed()) {
                try {
                    Socket s = echo.accept();
                    s.setSoTimeout(30_000);
                    Thread c = new Thread(() -> {
                        try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                            in.transferTo(out);
                        } catch (IOException ignored) {
                            // the test ended the connection
                        }
                    });
                    c.setDaemon(true);
                    c.start();
                } catch (IOException e) {
                    return;
                }
            }
        });
        t.setDaemon(true);
        t.start();
    }

    @AfterEach
    void stop() throws IOException {
        if (proxy != null) {
            proxy.close();
        }
        if (echo != null) {
            echo.close();
        }
    }

    Socket connect() throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), proxy.port());
        s.setSoTimeout(30_000);
        s.setTcpNoDelay(true);
        return s;
    }

    @Test
    void aRoundTripTakesAtLeastTheDelayEachWay() throws Exception {
        startEcho();
        proxy = LatencyProxy.start(0, new InetSocketAddress(InetAddress.getLoopbackAddress(), echo.getLocalPort()),
                Duration.ofMillis(25));
        try (Socket s = connect()) {
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                s.getOutputStream().write(i);
                assertEquals(i, s.getInputStream().read());
                long micros = (System.nanoTime() - t0) / 1000;
                // a lower bound holds on any machine, however busy: nothing can arrive before it is due
                assertTrue(micros >= 50_000, "round trip " + micros + " µs, less than 2 × 25 ms");
            }
        }
        assertEquals(1, proxy.connections());
    }

    @Test
    void manyMegabytesArriveIntactAndInOrderAndTheEndTravelsToo() throws Exception {
        startEcho();
        proxy = LatencyProxy.start(0, new InetSocketAddress(InetAddress.getLoopbackAddress(), echo.getLocalPort()),
                Duration.ofMillis(1));
        byte[] sent = new byte[8 << 20];
        new Random(42).nextBytes(sent);
        try (Socket s = connect()) {
            Thread writer = new Thread(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    for (int off = 0; off < sent.length; off += 10_000) {
                        out.write(sent, off, Math.min(10_000, sent.length - off));
                    }
                    s.shutdownOutput(); // the end of the request: the echo server then ends its answer
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            writer.start();
            byte[] back = new byte[sent.length];
            new DataInputStream(s.getInputStream()).readFully(back);
            assertArrayEquals(sent, back);
            assertEquals(-1, s.getInputStream().read(), "the server's close reaches the client");
            writer.join(30_000);
        }
        assertEquals(2L * sent.length, proxy.bytes());
    }

    @Test
    void aTargetThatIsDownEndsTheClientsConnection() throws Exception {
        int free;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            free = s.getLocalPort();
        }
        proxy = LatencyProxy.start(0, new InetSocketAddress(InetAddress.getLoopbackAddress(), free),
                Duration.ofMillis(1));
        try (Socket s = connect()) {
            int r;
            try {
                r = s.getInputStream().read();
            } catch (IOException reset) {
                r = -1;
            }
            assertEquals(-1, r);
        }
        assertEquals(0, proxy.connections());
    }
}
