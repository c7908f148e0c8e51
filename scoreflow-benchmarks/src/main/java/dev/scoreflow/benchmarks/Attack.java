package dev.scoreflow.benchmarks;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Issue 7's attacks against real {@code scoreflow serve} processes on loopback, each bounded in time, printing what
 * it saw and whether the server held. Starts its own servers (so it can also SIGTERM one mid-flight) from the
 * launcher given with {@code --scoreflow}, which lets the same attacks run against an older build for comparison.
 *
 * <pre>scoreflow-benchmarks/attack.sh [--scoreflow PATH/TO/scoreflow]</pre>
 *
 * Items: 1 (body budget held by slow uploads), 2 (idle connections), 3 (Expect: 100-continue and the budget),
 * 4 (desync after a failed Expect), 7 (bad Content-Length, deep pipelining), 12 (.. out of the repository),
 * 14 (graceful shutdown with uploads and requests in transit). Loopback only; about two minutes.
 */
public final class Attack {
    private static final String TOKEN = "attack-token";
    private static final int ROW = 26 * 4;
    private final Path launcher;
    private final Path work;
    private final List<String> verdicts = new ArrayList<>();

    private Attack(Path launcher, Path work) {
        this.launcher = launcher;
        this.work = work;
    }

    private static String only = "";

    public static void main(String[] args) throws Exception {
        Path launcher = Path.of("scoreflow");
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--scoreflow")) {
                launcher = Path.of(args[++i]);
            } else if (args[i].equals("--only")) {
                only = args[++i];
            } else {
                System.err.println("usage: Attack [--scoreflow PATH/TO/scoreflow] [--only ITEM]");
                System.exit(2);
            }
        }
        Path work = Files.createTempDirectory("scoreflow-attack");
        Attack a = new Attack(launcher.toAbsolutePath(), work);
        a.run();
    }

    private void run() throws Exception {
        Path model = launcher.getParent().resolve("models/example/1/model.onnx");
        Path token = Files.writeString(work.resolve("token"), TOKEN + "\n");
        System.out.println("# attacks against " + launcher + " (loopback)");
        if (only.isEmpty() || List.of("1", "2", "3", "4", "7").contains(only)) {
            try (Server s = new Server(List.of("--model", model.toString(), "--auth-token-file", token.toString()))) {
                if (wanted("1")) {
                    item1(s.port);
                }
                if (wanted("2")) {
                    item2(s.port);
                }
                if (wanted("3")) {
                    item3(s.port);
                }
                if (wanted("4")) {
                    item4(s.port);
                }
                if (wanted("7")) {
                    item7(s.port);
                }
            }
        }
        Path repo = work.resolve("repo");
        Files.createDirectories(repo.resolve("example/1"));
        Files.copy(model, repo.resolve("example/1/model.onnx"));
        Files.createDirectories(work.resolve("1")); // <repo>/../1/model.onnx: what ".." would load
        Files.copy(model, work.resolve("1/model.onnx"));
        if (wanted("12")) {
            try (Server s = new Server(List.of("--models", repo.toString(), "--poll-seconds", "0"))) {
                item12(s.port);
            }
        }
        if (wanted("14")) {
            try (Server s = new Server(List.of("--model", model.toString(), "--drain-seconds", "20"))) {
                item14(s);
            }
        }
        System.out.println();
        System.out.println("# summary");
        verdicts.forEach(System.out::println);
    }

    private static boolean wanted(String item) {
        return only.isEmpty() || only.equals(item);
    }

    private void verdict(String item, boolean held, String what) {
        String line = String.format("item %-3s %-10s %s", item, held ? "held" : "VULNERABLE", what);
        verdicts.add(line);
        System.out.println("  => " + line);
    }

    // ------------------------------------------------------------------ the attacks

    /** Sixteen unauthenticated connections declare 64 MiB and send one byte; then a legitimate request. */
    private void item1(int port) throws Exception {
        System.out.println("\n## item 1: 16 connections (8 without the token, 8 with it) declare 64 MiB each and send"
                + " 1 byte");
        List<Conn> holders = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            holders.add(new Conn(port).send("PUT /score HTTP/1.1\r\nHost: x\r\n" + (i % 2 == 1
                    ? "Authorization: Bearer " + TOKEN + "\r\n" : "") + "Content-Length: " + (64 << 20)
                    + "\r\n\r\nx"));
        }
        Thread.sleep(500);
        long held = metric(port, "scoreflow_inflight_body_bytes");
        Reply legit = new Conn(port).send(scoring(1, true)).readClosing(10);
        Reply ready = new Conn(port).send("GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n").readClosing(10);
        System.out.printf("  the server reports %,d body bytes held for the 16 bytes received%n", held);
        System.out.println("  a legitimate request now: " + legit + "; readiness: " + ready);
        long start = System.nanoTime();
        List<String> ends = new ArrayList<>();
        for (Conn h : holders) { // 45 s in all for the server to end them
            int left = (int) Math.max(1, 45 - TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start));
            Reply r = h.readClosing(left);
            ends.add(r.status + "@" + TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start) + "s");
        }
        System.out.println("  the 16 holders got: " + ends);
        for (Conn h : holders) { // the next attack starts from a clean server
            h.close();
        }
        Thread.sleep(500);
        verdict("1", legit.status == 200 && held <= 16, String.format("%,d bytes held for 16 received;"
                + " a legitimate request answered %d; the holders ended with %s (no token) and %s (token)", held,
                legit.status, ends.get(0), ends.get(1)));
    }

    /** Thousands of connections that send nothing. */
    private void item2(int port) throws Exception {
        int n = 3000;
        System.out.println("\n## item 2: " + n + " connections that send nothing");
        List<Socket> idle = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Socket s = new Socket();
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            idle.add(s);
        }
        long t0 = System.nanoTime();
        Reply live = new Conn(port).send(scoring(1, true)).readClosing(10);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        System.out.println("  with them open, a scoring request: " + live + " in " + ms + " ms");
        Thread.sleep(12_000);
        int closed = 0;
        for (Socket s : idle) {
            s.setSoTimeout(1);
            try {
                if (s.getInputStream().read() < 0) {
                    closed++;
                }
            } catch (SocketTimeoutException e) {
                // still open
            } catch (IOException e) {
                closed++;
            }
            s.close();
        }
        System.out.println("  after 12 s, closed by the server: " + closed + " of " + n);
        verdict("2", live.status == 200 && closed == n, closed + " of " + n + " idle connections closed by the"
                + " server within 12 s; scoring answered " + live.status);
    }

    /** Expect: 100-continue uploads, and what the server says it holds. */
    private void item3(int port) throws Exception {
        int n = 24;
        int declared = 48 << 20;
        int sent = 40 << 20;
        System.out.println("\n## item 3: " + n + " uploads with Expect: 100-continue declare 48 MiB and send 40 MiB");
        List<Conn> ups = new ArrayList<>();
        int refused = 0;
        long pushed = 0;
        byte[] chunk = new byte[1 << 20];
        for (int i = 0; i < n; i++) {
            Conn c = new Conn(port).send("PUT /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN
                    + "\r\nExpect: 100-continue\r\nContent-Length: " + declared + "\r\n\r\n");
            Reply interim = c.readClosing(5);
            if (interim.status != 100) {
                refused++;
                continue;
            }
            try {
                for (int k = 0; k < sent / chunk.length; k++) {
                    c.send(chunk);
                    pushed += chunk.length;
                }
            } catch (IOException e) {
                refused++; // the server refused it mid-way and closed
            }
            ups.add(c);
        }
        Thread.sleep(500);
        long held = metric(port, "scoreflow_inflight_body_bytes");
        System.out.printf("  sent %,d bytes in bodies; the server reports %,d bytes held (budget 1 GiB);"
                + " uploads refused: %d%n", pushed, held, refused);
        for (Conn c : ups) {
            c.close();
        }
        Thread.sleep(500);
        verdict("3", held > 0 && held <= (1L << 30) + (64 << 20), String.format("server counted %,d of %,d body"
                + " bytes sent after 100 Continue", held, pushed));
    }

    /** A refused expectation whose body is a second request. */
    private void item4(int port) throws Exception {
        System.out.println("\n## item 4: Expect: foo with a body that is itself a request");
        String smuggled = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
        Conn c = new Conn(port).send("PUT /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN
                + "\r\nExpect: foo\r\nContent-Length: " + smuggled.length() + "\r\n\r\n" + smuggled);
        List<Reply> replies = c.readAll(3);
        System.out.println("  answers: " + replies);
        Conn big = new Conn(port).send("PUT /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN
                + "\r\nExpect: 100-continue\r\nContent-Length: " + (100 << 20) + "\r\n\r\n");
        Reply r = big.readClosing(5);
        System.out.println("  100 MiB after Expect: 100-continue: " + r + " body " + r.body);
        verdict("4", replies.size() == 1 && r.body.startsWith("{\"error\""), replies.size() + " answer(s) to one"
                + " request with Expect: foo; over-limit after 100-continue answered " + r.status + " "
                + (r.body.isEmpty() ? "(empty body)" : "with a JSON error"));
    }

    /** Unparseable Content-Length values and deep pipelining. */
    private void item7(int port) throws Exception {
        System.out.println("\n## item 7: unparseable Content-Length, 200 pipelined requests");
        boolean all = true;
        for (String length : List.of("abc", "104, 104", "18446744073709551616")) {
            Reply r = new Conn(port).send("PUT /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN
                    + "\r\nContent-Length: " + length + "\r\n\r\n" + "x".repeat(ROW)).readClosing(5);
            System.out.println("  Content-Length: " + length + " -> " + r);
            all &= r.status == 400;
        }
        StringBuilder many = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            many.append("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        List<Reply> replies = new Conn(port).send(many.toString()).readAll(3);
        System.out.println("  200 pipelined requests -> " + replies.size() + " answers");
        verdict("7", all && replies.size() == 200, "bad Content-Length answered 400: " + all + "; 200 pipelined"
                + " requests got " + replies.size() + " answers");
    }

    /** {@code ..} as a model name. */
    private void item12(int port) throws Exception {
        System.out.println("\n## item 12: POST /v2/repository/models/%2e%2e/load");
        Reply r = new Conn(port).send("POST /v2/repository/models/%2e%2e/load HTTP/1.1\r\nHost: x\r\n"
                + "Content-Length: 0\r\n\r\n").readClosing(10);
        Reply index = new Conn(port).send("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                .readClosing(10);
        System.out.println("  load: " + r + " " + r.body);
        System.out.println("  index: " + index.body);
        verdict("12", r.status >= 400 && !index.body.contains("\"..\""), "load of '..' answered " + r.status
                + "; index lists '..': " + index.body.contains("\"..\""));
    }

    /** SIGTERM with requests in transit on kept-alive connections and uploads in progress. */
    private void item14(Server s) throws Exception {
        System.out.println("\n## item 14: SIGTERM with 64 kept-alive connections' requests in transit and 8 uploads"
                + " half sent");
        List<Conn> kept = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            Conn c = new Conn(s.port).send(scoring(1, false));
            c.readClosing(10);
            kept.add(c);
        }
        List<Conn> uploads = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            uploads.add(new Conn(s.port).send("PUT /score HTTP/1.1\r\nHost: x\r\nContent-Length: " + 1000 * ROW
                    + "\r\n\r\n" + "\0".repeat(500 * ROW)));
        }
        for (Conn c : kept) {
            c.send(scoring(10, false));
        }
        s.process.destroy(); // SIGTERM
        Thread.sleep(200);
        for (Conn c : uploads) {
            try {
                c.send("\0".repeat(500 * ROW));
            } catch (IOException e) {
                // reset: counted below
            }
        }
        int keptOk = 0;
        int upOk = 0;
        for (Conn c : kept) {
            keptOk += c.readClosing(20).status == 200 ? 1 : 0;
        }
        List<String> upSeen = new ArrayList<>();
        for (Conn c : uploads) {
            Reply r = c.readClosing(20);
            upOk += r.status == 200 ? 1 : 0;
            upSeen.add(r.toString());
        }
        System.out.println("  the uploads got: " + upSeen);
        boolean exited = s.process.waitFor(30, TimeUnit.SECONDS);
        System.out.println("  requests in transit answered: " + keptOk + " of 64; uploads answered: " + upOk
                + " of 8; server exited: " + exited + (exited ? " (" + s.process.exitValue() + ")" : ""));
        verdict("14", keptOk == 64 && upOk == 8, keptOk + "/64 requests in transit and " + upOk + "/8 uploads"
                + " answered across SIGTERM");
    }

    // ------------------------------------------------------------------ plumbing

    private static String scoring(int rows, boolean token) {
        return "PUT /score HTTP/1.1\r\nHost: x\r\n" + (token ? "Authorization: Bearer " + TOKEN + "\r\n" : "")
                + "Content-Length: " + rows * ROW + "\r\n\r\n" + "\0".repeat(rows * ROW);
    }

    private static long metric(int port, String name) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String text = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .header("Authorization", "Bearer " + TOKEN).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = Pattern.compile("(?m)^" + name + " (\\d+)").matcher(text);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** What came back: a status (0 = closed without an answer, -1 = nothing within the time). */
    record Reply(int status, String body) {
        @Override
        public String toString() {
            return status == 0 ? "closed without an answer" : status == -1 ? "no answer in time" : "HTTP " + status;
        }
    }

    /** A raw connection with bounded reads. */
    private static final class Conn implements AutoCloseable {
        private final Socket socket;
        private final OutputStream out;
        private final InputStream in;
        private final ByteArrayOutputStream got = new ByteArrayOutputStream();

        Conn(int port) throws IOException {
            socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            out = socket.getOutputStream();
            in = socket.getInputStream();
        }

        Conn send(String ascii) throws IOException {
            return send(ascii.getBytes(StandardCharsets.ISO_8859_1));
        }

        Conn send(byte[] b) throws IOException {
            out.write(b);
            out.flush();
            return this;
        }

        /** The next answer within {@code seconds}. */
        Reply readClosing(int seconds) {
            List<Reply> r = read(seconds, 1);
            return r.isEmpty() ? new Reply(ended ? 0 : -1, "") : r.get(0);
        }

        /** Every answer that arrives within {@code seconds} (or until the connection ends). */
        List<Reply> readAll(int seconds) {
            return read(seconds, Integer.MAX_VALUE);
        }

        private boolean ended;
        private int parsed;

        private List<Reply> read(int seconds, int want) {
            List<Reply> replies = new ArrayList<>();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            byte[] buf = new byte[65536];
            while (replies.size() < want && !ended) {
                Reply r = parseNext();
                if (r != null) {
                    replies.add(r);
                    continue;
                }
                long left = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
                if (left <= 0) {
                    break;
                }
                try {
                    socket.setSoTimeout((int) Math.max(1, left));
                    int n = in.read(buf);
                    if (n < 0) {
                        ended = true;
                    } else {
                        got.write(buf, 0, n);
                    }
                } catch (SocketTimeoutException e) {
                    break;
                } catch (IOException e) {
                    ended = true;
                }
            }
            Reply r;
            while (replies.size() < want && (r = parseNext()) != null) {
                replies.add(r);
            }
            return replies;
        }

        private Reply parseNext() {
            String s = got.toString(StandardCharsets.ISO_8859_1);
            int head = s.indexOf("\r\n\r\n", parsed);
            if (head < 0) {
                return null;
            }
            String headers = s.substring(parsed, head);
            Matcher len = Pattern.compile("(?im)^content-length:\\s*(\\d+)").matcher(headers);
            int length = len.find() ? Integer.parseInt(len.group(1)) : 0;
            if (head + 4 + length > s.length()) {
                return null;
            }
            int status = Integer.parseInt(headers.split(" ", 3)[1]);
            String body = s.substring(head + 4, head + 4 + length);
            parsed = head + 4 + length;
            return new Reply(status, body);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** A {@code scoreflow serve} child process on a free port. */
    private final class Server implements AutoCloseable {
        final Process process;
        final int port;

        Server(List<String> args) throws Exception {
            List<String> cmd = new ArrayList<>(List.of(launcher.toString(), "serve", "--port", "0"));
            cmd.addAll(args);
            Path log = Files.createTempFile(work, "server", ".log");
            process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
            int p = -1;
            while (p < 0) {
                if (!process.isAlive() || System.nanoTime() > end) {
                    throw new IllegalStateException("server did not start: " + Files.readString(log));
                }
                Matcher m = Pattern.compile("listening on https?://[^:]+:(\\d+)").matcher(Files.readString(log));
                if (m.find()) {
                    p = Integer.parseInt(m.group(1));
                } else {
                    Thread.sleep(100);
                }
            }
            port = p;
        }

        @Override
        public void close() throws Exception {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
