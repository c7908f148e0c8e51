package dev.scoreflow.runtime;

import dev.scoreflow.api.BadInputException;
import dev.scoreflow.api.Model;
import dev.scoreflow.api.ModelLoadException;
import dev.scoreflow.api.ModelNotFoundException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.stream.Stream;

/**
 * The models being served, by name and version, loaded from a directory laid out as
 * {@code <root>/<name>/<version>/model.onnx} (with optional {@code model.json}), or from single files.
 *
 * <p>Several models and versions at once. Without a version, a request gets the highest one (numeric versions
 * compare as numbers). {@link #load}, {@link #unload} and {@link #rescan} change the set without a restart; with
 * a poll interval, changed files are picked up by themselves. A file that fails to load is reported in
 * {@link #index()} and never disturbs the others: if a new file of a serving version is broken, the old model
 * keeps serving. A replaced or unloaded version finishes what it accepted before its model is closed.
 *
 * <p>Names and versions are single path segments: {@link #load} and {@link #unload} refuse {@code .}, {@code ..},
 * separators, NUL and control characters, and names longer than {@value #MAX_SEGMENT_LENGTH} characters with a
 * {@link BadInputException}, so a name from a request can never reach outside the root. Symbolic links inside
 * the root are followed only while they stay inside it: a model file whose real path is outside the root's real
 * path is refused (UNAVAILABLE in {@link #index()}, with the reason). To serve models kept elsewhere, link the
 * root itself, which is resolved once when the repository starts.
 *
 * <p>Thread-safe. Lookups ({@link #get}, {@link #readyNames}, {@link #index}, {@link #served}, {@link #notReady})
 * read an immutable snapshot and never block, not even while a model is loading: loading happens outside the
 * lock that publishes a new snapshot, and loads and rescans are serialized by a lock of their own, which
 * {@link #unload} does not take either. All models share one pool of {@link ThreadBudget#inferenceThreads()}
 * inference threads. State changes (loaded, reloaded, refused, removed, unloaded) are logged once each through
 * SLF4J, with the reason.
 */
public final class ModelRepository implements AutoCloseable {
    /** File name of a model inside its version directory. */
    public static final String MODEL_FILE = "model.onnx";
    /** Longest model name or version accepted. */
    public static final int MAX_SEGMENT_LENGTH = 128;
    private static final Logger LOG = LoggerFactory.getLogger(ModelRepository.class);

    private static final Comparator<String> VERSION_ORDER = (a, b) -> {
        boolean na = a.chars().allMatch(Character::isDigit) && a.length() < 18;
        boolean nb = b.chars().allMatch(Character::isDigit) && b.length() < 18;
        if (na && nb) {
            return Long.compare(Long.parseLong(a), Long.parseLong(b));
        }
        return na != nb ? (na ? -1 : 1) : a.compareTo(b);
    };

    private final Path root;
    /** The root with every link resolved: model files must resolve inside it. */
    private final Path realRoot;
    private final Map<String, Path> singleFiles;
    private final ThreadBudget threads;
    private final ModelConfig defaults;
    private final Ticker ticker;
    private final BiFunction<String, String, BatchObserver> observers;
    private final ExecutorService pool;
    private final ScheduledExecutorService poller;

    /** Serializes loads and rescans; held while model files load. Lookups and unload never take it. */
    private final Object loadLock = new Object();
    /** Guards publishing a snapshot and {@link #unloaded}; held only for short, non-blocking work. */
    private final Object changeLock = new Object();
    /** name -> version -> slot; replaced wholesale on every change (copy on write). */
    private volatile Map<String, NavigableMap<String, Slot>> models = Map.of();
    private final Set<String> unloaded = new HashSet<>();
    private volatile boolean closed;

    /** What is known about one version: the served model (if any), the file stamp it was loaded from, errors. */
    private record Slot(String name, String version, ServedModel model, Stamp stamp, String error) {
    }

    /** A file's identity for change detection. */
    private record Stamp(long modelModified, long modelSize, long configModified) {
    }

    private ModelRepository(Builder b) {
        this.root = b.root;
        this.realRoot = b.root == null ? null : realPath(b.root);
        this.singleFiles = Map.copyOf(b.singleFiles);
        this.threads = b.threads;
        this.defaults = b.defaults;
        this.ticker = b.ticker;
        this.observers = b.observers;
        AtomicInteger n = new AtomicInteger();
        ThreadFactory tf = r -> {
            Thread t = new Thread(r, "scoreflow-infer-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.pool = Executors.newFixedThreadPool(threads.inferenceThreads(), tf);
        if (b.pollInterval != null && !b.pollInterval.isZero() && root != null) {
            this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "scoreflow-model-poll");
                t.setDaemon(true);
                return t;
            });
            long ms = b.pollInterval.toMillis();
            poller.scheduleWithFixedDelay(this::pollQuietly, ms, ms, TimeUnit.MILLISECONDS);
        } else {
            this.poller = null;
        }
    }

    /** A builder; give it a {@link Builder#root} directory, single {@link Builder#model} files, or both. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Looks up a model.
     *
     * @param version a version, or null for the highest one
     * @throws ModelNotFoundException if no such model or version is loaded (the message says what is)
     */
    public ServedModel get(String name, String version) {
        NavigableMap<String, Slot> versions = models.get(name);
        if (versions == null) {
            throw new ModelNotFoundException("no model named '" + name + "'; loaded: " + readyNames());
        }
        if (version == null) {
            for (Slot s : versions.descendingMap().values()) {
                if (s.model() != null) {
                    return s.model();
                }
            }
            throw new ModelNotFoundException("model '" + name + "' has no version that loaded: " + reasons(versions));
        }
        Slot s = versions.get(version);
        if (s == null) {
            throw new ModelNotFoundException("model '" + name + "' has no version '" + version + "'; versions: "
                    + versions.keySet());
        }
        if (s.model() == null) {
            throw new ModelNotFoundException("model '" + name + "' version " + version + " is not loaded: " + s.error());
        }
        return s.model();
    }

    /** Names of the models that have a version ready to score. */
    public List<String> readyNames() {
        List<String> names = new ArrayList<>();
        models.forEach((name, versions) -> {
            if (versions.values().stream().anyMatch(s -> s.model() != null)) {
                names.add(name);
            }
        });
        Collections.sort(names);
        return names;
    }

    /** Every known version and its state, by name then version. */
    public List<ModelStatus> index() {
        List<ModelStatus> out = new ArrayList<>();
        new TreeMap<>(models).forEach((name, versions) -> versions.values().forEach(s -> out.add(new ModelStatus(
                name, s.version(), s.model() != null ? ModelStatus.State.READY : ModelStatus.State.UNAVAILABLE,
                s.error()))));
        return out;
    }

    /** All versions that are serving. */
    public List<ServedModel> served() {
        List<ServedModel> out = new ArrayList<>();
        models.values().forEach(v -> v.values().forEach(s -> {
            if (s.model() != null) {
                out.add(s.model());
            }
        }));
        return out;
    }

    /**
     * The versions that are not ready to score (failed to load), with the reason; empty when every version in
     * {@link #index()} is serving. A version whose new file was refused while its previous file keeps serving is
     * ready, and not listed.
     */
    public List<ModelStatus> notReady() {
        List<ModelStatus> out = new ArrayList<>();
        for (ModelStatus s : index()) {
            if (s.state() != ModelStatus.State.READY) {
                out.add(s);
            }
        }
        return out;
    }

    /**
     * Loads (or reloads) every version of {@code name} from its files, and lets {@link #rescan} follow it again
     * after an {@link #unload}. Waits for a load or rescan in progress; lookups meanwhile are not held up.
     *
     * @throws BadInputException      if {@code name} is not a single safe path segment
     * @throws ModelNotFoundException if there are no files for that name
     * @throws ModelLoadException     if no version of it could be loaded (the others keep serving)
     */
    public void load(String name) {
        checkSegment("model name", name);
        synchronized (loadLock) {
            synchronized (changeLock) {
                unloaded.remove(name);
            }
            Map<String, Path> files = filesOf(name);
            if (files.isEmpty()) {
                throw new ModelNotFoundException("no files for model '" + name + "'"
                        + (root == null ? "" : " under " + root));
            }
            NavigableMap<String, Slot> now = apply(name, files, true);
            if (now == null) {
                throw new ModelLoadException("model '" + name + "' was unloaded while it loaded");
            }
            if (now.values().stream().noneMatch(s -> s.model() != null)) {
                throw new ModelLoadException("model '" + name + "' did not load: " + reasons(now));
            }
        }
    }

    /**
     * Stops serving every version of {@code name}; requests already accepted finish first. {@link #rescan} leaves
     * it unloaded until {@link #load} is called. Does not wait for a load in progress: a load of this model that
     * ends after it is discarded.
     *
     * @throws BadInputException      if {@code name} is not a single safe path segment
     * @throws ModelNotFoundException if no such model is known
     */
    public void unload(String name) {
        checkSegment("model name", name);
        NavigableMap<String, Slot> versions;
        synchronized (changeLock) {
            versions = models.get(name);
            if (versions == null) {
                throw new ModelNotFoundException("no model named '" + name + "'");
            }
            unloaded.add(name);
            publish(name, null);
        }
        versions.values().forEach(this::retire);
        LOG.info("unloaded model {} (asked to)", name);
    }

    /**
     * Brings the served set in line with the files: loads new versions, reloads changed ones, unloads removed
     * ones. Called by the poller; tests call it directly.
     */
    public void rescan() {
        synchronized (loadLock) {
            if (closed) {
                return;
            }
            Set<String> names = new TreeSet<>(singleFiles.keySet());
            names.addAll(dirNames());
            names.addAll(models.keySet());
            for (String name : names) {
                boolean skip;
                synchronized (changeLock) {
                    skip = unloaded.contains(name);
                }
                if (!skip) {
                    apply(name, filesOf(name), false);
                }
            }
        }
    }

    /**
     * Loads, reloads or drops versions of one model so that it matches {@code files}; returns the new state, or
     * null if the model was unloaded (or the repository closed) while it loaded. Called with {@link #loadLock}
     * held: the model files load outside {@link #changeLock}, which is taken only to publish.
     */
    private NavigableMap<String, Slot> apply(String name, Map<String, Path> files, boolean force) {
        NavigableMap<String, Slot> old = models.getOrDefault(name, Collections.emptyNavigableMap());
        NavigableMap<String, Slot> next = new TreeMap<>(VERSION_ORDER);
        List<Slot> retired = new ArrayList<>();
        List<Slot> opened = new ArrayList<>();
        List<String> messages = new ArrayList<>();
        for (Map.Entry<String, Path> f : files.entrySet()) {
            String version = f.getKey();
            Path file = f.getValue();
            Slot prev = old.get(version);
            Stamp stamp = stamp(file);
            if (!force && prev != null && Objects.equals(prev.stamp(), stamp)) {
                next.put(version, prev);
                continue;
            }
            try {
                ServedModel m = open(name, version, file);
                Slot slot = new Slot(name, version, m, stamp, null);
                next.put(version, slot);
                opened.add(slot);
                if (prev != null && prev.model() != null) {
                    retired.add(prev);
                }
                messages.add((prev == null ? "loaded " : "reloaded ") + m + " from " + file + ": "
                        + m.signature().featureCount() + " features, score = " + m.signature().description());
            } catch (ModelLoadException e) {
                if (prev != null && prev.model() != null) {
                    // keep serving the version that works; the index tells why the new file was refused
                    next.put(version, new Slot(name, version, prev.model(), stamp, "reload failed, still serving"
                            + " the previous file: " + e.getMessage()));
                } else {
                    next.put(version, new Slot(name, version, null, stamp, e.getMessage()));
                }
                LOG.warn("refused model {} version {}{}: {}", name, version,
                        prev != null && prev.model() != null ? " (the previous file keeps serving)" : "",
                        e.getMessage());
            }
        }
        for (Slot s : old.values()) {
            if (!files.containsKey(s.version())) {
                retired.add(s);
                messages.add("removed model " + name + " version " + s.version() + " (its file is gone)");
            }
        }
        synchronized (changeLock) {
            if (closed || unloaded.contains(name)) {
                // unloaded (or closed) while the files loaded: what was just opened is not served
                opened.forEach(this::retire);
                return null;
            }
            publish(name, next.isEmpty() ? null : next);
        }
        messages.forEach(LOG::info);
        retired.forEach(this::retire);
        return next;
    }

    private ServedModel open(String name, String version, Path file) {
        if (realRoot != null && !singleFiles.containsKey(name)) {
            Path real = realPath(file);
            if (!real.startsWith(realRoot)) {
                throw new ModelLoadException(file + " resolves to " + real + ", outside the model repository "
                        + realRoot + "; links out of the repository are refused (link the repository root itself"
                        + " instead)");
            }
        }
        ModelConfig config = ModelConfig.read(file.resolveSibling(ModelConfig.FILE_NAME), defaults);
        ModelLoader loader = ModelLoaders.forFile(file);
        Model model = loader.load(file, config, threads.intraOpThreads());
        String label = "model " + name + " version " + version;
        Batcher batcher = new Batcher(label, model, BatchPolicy.of(config), pool, threads.inferenceThreads(),
                ticker, observers.apply(name, version));
        return new ServedModel(name, version, file, loader.platform(), config, batcher);
    }

    private static Path realPath(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    /**
     * Checks that {@code value} is one safe path segment.
     *
     * @throws BadInputException naming the value and what is wrong with it
     */
    static void checkSegment(String kind, String value) {
        String problem = segmentProblem(value);
        if (problem != null) {
            throw new BadInputException(kind + " '" + printable(value) + "' is not allowed: " + problem);
        }
    }

    /** Why {@code value} is not a safe path segment, or null if it is one. */
    static String segmentProblem(String value) {
        if (value == null || value.isEmpty()) {
            return "it is empty";
        }
        if (value.equals(".") || value.equals("..")) {
            return "'.' and '..' are not names";
        }
        if (value.length() > MAX_SEGMENT_LENGTH) {
            return "longer than " + MAX_SEGMENT_LENGTH + " characters";
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '/' || c == '\\') {
                return "it contains a path separator";
            }
            if (c == 0 || Character.isISOControl(c)) {
                return "it contains a control character";
            }
        }
        return null;
    }

    private static String printable(String value) {
        if (value == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < Math.min(value.length(), MAX_SEGMENT_LENGTH); i++) {
            char c = value.charAt(i);
            b.append(Character.isISOControl(c) ? String.format("\\u%04x", (int) c) : String.valueOf(c));
        }
        return value.length() > MAX_SEGMENT_LENGTH ? b + "..." : b.toString();
    }

    private void publish(String name, NavigableMap<String, Slot> versions) {
        Map<String, NavigableMap<String, Slot>> copy = new TreeMap<>(models);
        if (versions == null) {
            copy.remove(name);
        } else {
            copy.put(name, Collections.unmodifiableNavigableMap(versions));
        }
        models = Collections.unmodifiableMap(copy);
    }

    /** Lets a replaced model finish what it accepted, then closes it, off the caller's thread. */
    private void retire(Slot s) {
        if (s.model() == null) {
            return;
        }
        Thread t = new Thread(() -> {
            s.model().batcher().drainAndStop(Duration.ofSeconds(60));
            s.model().batcher().close();
        }, "scoreflow-retire-" + s.name());
        t.setDaemon(true);
        t.start();
    }

    private Map<String, Path> filesOf(String name) {
        Map<String, Path> files = new TreeMap<>(VERSION_ORDER);
        Path single = singleFiles.get(name);
        if (single != null) {
            files.put("1", single);
            return files;
        }
        if (root == null || segmentProblem(name) != null) {
            return files;
        }
        Path dir = root.resolve(name);
        if (!dir.normalize().startsWith(root.normalize()) || !Files.isDirectory(dir)) {
            return files;
        }
        try (Stream<Path> versions = Files.list(dir)) {
            versions.filter(Files::isDirectory)
                    .filter(v -> segmentProblem(v.getFileName().toString()) == null)
                    .forEach(v -> modelFileIn(v).ifPresent(f -> files.put(v.getFileName().toString(), f)));
        } catch (IOException e) {
            LOG.warn("cannot list {}: {}", dir, e.toString());
        }
        return files;
    }

    /** The version directory's model file: the first loader's {@code fileName()} present in it. */
    private static java.util.Optional<Path> modelFileIn(Path versionDir) {
        return ModelLoaders.all().stream().map(l -> versionDir.resolve(l.fileName())).filter(Files::exists)
                .findFirst();
    }

    private List<String> dirNames() {
        List<String> names = new ArrayList<>();
        if (root == null) {
            return names;
        }
        try (Stream<Path> dirs = Files.list(root)) {
            dirs.filter(Files::isDirectory).map(d -> d.getFileName().toString())
                    .filter(n -> segmentProblem(n) == null).forEach(names::add);
        } catch (IOException e) {
            LOG.warn("cannot list {}: {}", root, e.toString());
        }
        return names;
    }

    private static Stamp stamp(Path file) {
        try {
            Path cfg = file.resolveSibling(ModelConfig.FILE_NAME);
            return new Stamp(Files.getLastModifiedTime(file).toMillis(), Files.size(file),
                    Files.exists(cfg) ? Files.getLastModifiedTime(cfg).toMillis() : 0);
        } catch (IOException e) {
            return new Stamp(-1, -1, -1);
        }
    }

    private static String reasons(NavigableMap<String, Slot> versions) {
        List<String> r = new ArrayList<>();
        versions.values().forEach(s -> r.add("version " + s.version() + ": " + s.error()));
        return String.join("; ", r);
    }

    private void pollQuietly() {
        try {
            rescan();
        } catch (RuntimeException e) {
            LOG.warn("model poll failed: {}", e.toString());
        }
    }

    /** Stops polling, closes every model (failing anything still queued) and the inference pool. */
    @Override
    public void close() {
        List<ServedModel> all;
        synchronized (changeLock) {
            closed = true;
            all = served();
            models = Map.of();
        }
        if (poller != null) {
            poller.shutdownNow();
        }
        for (ServedModel m : all) {
            m.batcher().close();
        }
        pool.shutdownNow();
    }

    /** Builds a {@link ModelRepository} and loads what it is given. */
    public static final class Builder {
        private Path root;
        private final Map<String, Path> singleFiles = new TreeMap<>();
        private ThreadBudget threads = ThreadBudget.defaults();
        private ModelConfig defaults = ModelConfig.defaults();
        private Ticker ticker = Ticker.system();
        private BiFunction<String, String, BatchObserver> observers = (n, v) -> BatchObserver.NONE;
        private Duration pollInterval;

        private Builder() {
        }

        /** A directory of {@code <name>/<version>/model.onnx} (or another loader's {@link ModelLoader#fileName}). */
        public Builder root(Path root) {
            if (!Files.isDirectory(root)) {
                throw new IllegalArgumentException("model repository " + root + " is not a directory");
            }
            this.root = root;
            return this;
        }

        /** One model file served as {@code name}, version 1 (settings from a {@code model.json} beside it). */
        public Builder model(String name, Path file) {
            if (!name.matches("[A-Za-z0-9_.-]+") || segmentProblem(name) != null) {
                throw new IllegalArgumentException("model name '" + name + "' must match [A-Za-z0-9_.-]+");
            }
            singleFiles.put(name, file);
            return this;
        }

        public Builder threads(ThreadBudget threads) {
            this.threads = Objects.requireNonNull(threads);
            return this;
        }

        /** Settings for models whose {@code model.json} does not set them. */
        public Builder defaults(ModelConfig defaults) {
            this.defaults = Objects.requireNonNull(defaults);
            return this;
        }

        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker);
            return this;
        }

        /** Gives each loaded version an observer (metrics); called with name and version. */
        public Builder observers(BiFunction<String, String, BatchObserver> observers) {
            this.observers = Objects.requireNonNull(observers);
            return this;
        }

        /** Look for changed files this often (null or zero: only when {@link #rescan} is called). */
        public Builder pollInterval(Duration interval) {
            this.pollInterval = interval;
            return this;
        }

        /** Creates the repository and loads every model it can; failures are in {@link #index()}. */
        public ModelRepository build() {
            if (root == null && singleFiles.isEmpty()) {
                throw new IllegalArgumentException("give a model repository directory or at least one model file");
            }
            ModelRepository r = new ModelRepository(this);
            r.rescan();
            return r;
        }
    }
}
