package dev.scoreflow.server;

import dev.scoreflow.server.InMemoryServer.Response;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** A plain socket that speaks HTTP/1.1 byte by byte, for what well-behaved clients never do. Every read times out. */
final class RawClient implements AutoCloseable {
    final Socket socket;
    private final InputStream in;
    private final ByteArrayOutputStream buffered = new ByteArrayOutputStream();

    RawClient(int port) {
        this(port, 0);
    }

    /** @param receiveBuffer the socket's receive buffer in bytes (0: the system's) */
    RawClient(int port, int receiveBuffer) {
        try {
            socket = new Socket();
            if (receiveBuffer > 0) {
                socket.setReceiveBufferSize(receiveBuffer);
            }
            socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
            socket.setSoTimeout(30_000);
            in = socket.getInputStream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    RawClient send(String ascii) {
        return send(ascii.getBytes(StandardCharsets.ISO_8859_1));
    }

    RawClient send(byte[] bytes) {
        try {
            socket.getOutputStream().write(bytes);
            socket.getOutputStream().flush();
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The next complete response; fails if the connection ends first or nothing comes within 30 s. */
    Response read() {
        try {
            while (true) {
                List<Response> r = Response.parseAll(buffered.toString(StandardCharsets.ISO_8859_1));
                if (!r.isEmpty()) {
                    consume(r.get(0));
                    return r.get(0);
                }
                byte[] chunk = new byte[8192];
                int n = in.read(chunk);
                if (n < 0) {
                    throw new AssertionError("the connection ended before a complete response; got: "
                            + buffered.toString(StandardCharsets.ISO_8859_1));
                }
                buffered.write(chunk, 0, n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** True if the server closed the connection (EOF or reset) with nothing more to read, within 30 s. */
    boolean closedByServer() {
        try {
            int n = in.read();
            return n < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset
        }
    }

    private void consume(Response r) {
        String all = buffered.toString(StandardCharsets.ISO_8859_1);
        int head = all.indexOf("\r\n\r\n") + 4;
        byte[] rest = all.substring(head + r.body().length()).getBytes(StandardCharsets.ISO_8859_1);
        buffered.reset();
        buffered.write(rest, 0, rest.length);
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
