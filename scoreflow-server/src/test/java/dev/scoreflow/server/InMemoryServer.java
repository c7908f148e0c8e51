package dev.scoreflow.server;

import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.runtime.ThreadBudget;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.MockTicker;
import io.netty.util.concurrent.Ticker;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The server's real connection pipeline ({@link Service#init}) on in-memory channels, with a hand-driven clock: raw
 * bytes in, raw bytes out, every timer under the test's control. Answers computed on inference threads come back
 * through a queue the test thread drains, so everything a connection does runs on the test thread.
 */
final class InMemoryServer implements AutoCloseable {
    final ModelRepository repository;
    final Service service;
    final MockTicker ticker = Ticker.newMockTicker();
    private final LinkedBlockingQueue<Runnable> handedBack = new LinkedBlockingQueue<>();
    private final List<Conn> conns = new ArrayList<>();

    InMemoryServer(Consumer<ScoringServer.Builder> settings) {
        this.repository = ModelRepository.builder().threads(new ThreadBudget(2, 1))
                .model("example", TestModels.example()).model("forest", TestModels.forest()).build();
        ScoringServer.Builder b = ScoringServer.builder(repository).defaultModel("example");
        settings.accept(b);
        this.service = b.service();
        service.eventLoop = ctx -> handedBack::add;
    }

    Conn connect() {
        Conn c = new Conn();
        conns.add(c);
        return c;
    }

    /** Bytes of the body budget in use. */
    long budgetInUse() {
        return service.budget.inUse();
    }

    @Override
    public void close() {
        for (Conn c : conns) {
            c.ch.finishAndReleaseAll();
        }
        pump(); // answers still coming back are released
        service.close();
        repository.close();
    }

    private void pump() {
        Runnable r;
        while ((r = handedBack.poll()) != null) {
            r.run();
        }
    }

    /** One client connection. */
    final class Conn {
        final EmbeddedChannel ch;
        private final StringBuilder out = new StringBuilder();

        Conn() {
            ch = EmbeddedChannel.builder().ticker(ticker).handlers(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel c) {
                    service.init(c);
                }
            }).build();
        }

        Conn send(String ascii) {
            return send(ascii.getBytes(StandardCharsets.ISO_8859_1));
        }

        Conn send(byte[] bytes) {
            if (ch.isOpen()) {
                ch.writeInbound(Unpooled.wrappedBuffer(bytes));
            }
            drain();
            return this;
        }

        /** Moves the shared clock and runs the timers that became due. */
        Conn advance(Duration d) {
            ticker.advance(d.toNanos(), TimeUnit.NANOSECONDS);
            ch.runScheduledPendingTasks();
            drain();
            return this;
        }

        boolean isOpen() {
            return ch.isOpen();
        }

        /** Every complete response written so far. */
        List<Response> responses() {
            drain();
            return Response.parseAll(out.toString());
        }

        /** Waits (up to 30 s) until {@code n} responses were written, running handed-back answers meanwhile. */
        List<Response> await(int n) {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (true) {
                List<Response> r = responses();
                if (r.size() >= n) {
                    return r;
                }
                if (System.nanoTime() > end) {
                    throw new AssertionError("expected " + n + " responses, got " + r.size() + ":\n" + out);
                }
                runHandedBack();
            }
        }

        /** Runs answers handed back within {@code d} (answers computed on inference threads arrive meanwhile). */
        Conn settleFor(Duration d) {
            long end = System.nanoTime() + d.toNanos();
            while (System.nanoTime() < end) {
                runHandedBack();
            }
            drain();
            return this;
        }

        /** Runs one answer handed back from an inference thread, waiting for it up to 5 ms. */
        private void runHandedBack() {
            try {
                Runnable task = handedBack.poll(5, TimeUnit.MILLISECONDS);
                if (task != null) {
                    task.run();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }

        String raw() {
            drain();
            return out.toString();
        }

        private void drain() {
            pump();
            ch.runPendingTasks();
            Object o;
            while ((o = ch.readOutbound()) != null) {
                ByteBuf b = (ByteBuf) o;
                out.append(b.toString(StandardCharsets.ISO_8859_1));
                b.release();
            }
        }
    }

    /** A parsed HTTP/1.1 response. */
    record Response(int status, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        boolean closes() {
            return "close".equalsIgnoreCase(header("connection"));
        }

        static List<Response> parseAll(String s) {
            List<Response> out = new ArrayList<>();
            parse(s, out);
            return out;
        }

        /** What is left of {@code s} after its complete responses: a partial or malformed answer. */
        static String leftover(String s) {
            return s.substring(parse(s, new ArrayList<>()));
        }

        private static int parse(String s, List<Response> out) {
            int at = 0;
            while (at < s.length()) {
                int end = s.indexOf("\r\n\r\n", at);
                if (end < 0) {
                    break;
                }
                String[] lines = s.substring(at, end).split("\r\n");
                if (!lines[0].matches("HTTP/1\\.1 [1-5][0-9][0-9] [A-Za-z -]+")) {
                    break;
                }
                int status = Integer.parseInt(lines[0].split(" ")[1]);
                Map<String, String> headers = new LinkedHashMap<>();
                for (int i = 1; i < lines.length; i++) {
                    int colon = lines[i].indexOf(':');
                    headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
                            lines[i].substring(colon + 1).trim());
                }
                int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
                if (end + 4 + length > s.length()) {
                    break;
                }
                out.add(new Response(status, headers, s.substring(end + 4, end + 4 + length)));
                at = end + 4 + length;
            }
            return at;
        }
    }
}
