package dev.scoreflow.cli;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The API-compatibility check: each library module's public surface (public classes outside {@code internal}
 * packages, their public and protected members, with generic signatures) against the one the last build recorded in
 * {@code api/<module>.api}. A removed or changed line breaks users and fails the build; an added one fails too until
 * the record is updated, so every change to the surface is a reviewed change to a file. To record the surface after
 * a deliberate change: {@code mvn -B test -pl scoreflow-cli -am -Dtest=PublicApiTest
 * -Dsurefire.failIfNoSpecifiedTests=false -Dscoreflow.api.update=true}.
 */
class PublicApiTest {
    /** The modules a user depends on as a library (the CLI, the testkit and the benchmarks are not). */
    static final List<String> LIBRARY = List.of("scoreflow-api", "scoreflow-runtime", "scoreflow-server",
            "scoreflow-client", "scoreflow-spark", "scoreflow-streaming", "scoreflow-jobs", "scoreflow-plan");
    static final Path RECORDS = Path.of("..", "api");

    @Test
    void everyLibraryModulesPublicSurfaceIsTheRecordedOne() throws Exception {
        boolean update = Boolean.getBoolean("scoreflow.api.update");
        List<String> problems = new ArrayList<>();
        for (String module : LIBRARY) {
            Set<String> now = surface(location(module));
            assertThat(now).as("public surface of %s", module).isNotEmpty();
            Path record = RECORDS.resolve(module + ".api");
            if (update) {
                Files.createDirectories(RECORDS);
                Files.write(record, now);
                continue;
            }
            Set<String> before = Files.exists(record) ? new TreeSet<>(Files.readAllLines(record)) : Set.of();
            for (String line : before) {
                if (!now.contains(line)) {
                    problems.add(module + ": removed or changed (breaks users): " + line);
                }
            }
            for (String line : now) {
                if (!before.contains(line)) {
                    problems.add(module + ": added (record it if deliberate): " + line);
                }
            }
        }
        assertThat(problems).as("the public API differs from api/*.api; if deliberate, rerun with "
                + "-Dscoreflow.api.update=true and commit the records").isEmpty();
    }

    /** The module's classes on this test's class path: its target/classes or its jar, never its test classes. */
    static Path location(String module) {
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path p = Path.of(entry);
            String name = p.getFileName().toString();
            boolean classes = name.equals("classes") && p.getParent() != null
                    && p.getParent().getParent() != null
                    && p.getParent().getParent().getFileName().toString().equals(module);
            boolean jar = name.startsWith(module + "-") && name.endsWith(".jar") && !name.contains("-tests")
                    && Character.isDigit(name.charAt(module.length() + 1));
            if (classes || jar) {
                return p;
            }
        }
        throw new AssertionError(module + " is not on the test class path");
    }

    static Set<String> surface(Path location) throws IOException, ClassNotFoundException {
        Set<String> lines = new TreeSet<>();
        ClassLoader loader = PublicApiTest.class.getClassLoader();
        for (String className : classNames(location)) {
            Class<?> c = Class.forName(className, false, loader);
            if (!isPublished(c)) {
                continue;
            }
            String owner = c.getName();
            lines.add(owner + " " + kind(c) + header(c));
            for (Constructor<?> k : c.getDeclaredConstructors()) {
                if (visible(k)) {
                    lines.add(owner + " " + k.toGenericString());
                }
            }
            for (Method m : c.getDeclaredMethods()) {
                if (visible(m) && !m.isSynthetic() && !m.isBridge()) {
                    lines.add(owner + " " + m.toGenericString());
                }
            }
            for (Field f : c.getDeclaredFields()) {
                if (visible(f) && !f.isSynthetic()) {
                    lines.add(owner + " " + f.toGenericString());
                }
            }
        }
        return lines;
    }

    private static List<String> classNames(Path location) throws IOException {
        List<String> names = new ArrayList<>();
        if (Files.isDirectory(location)) {
            try (Stream<Path> files = Files.walk(location)) {
                files.filter(f -> f.toString().endsWith(".class"))
                        .forEach(f -> names.add(className(location.relativize(f).toString())));
            }
        } else {
            try (JarFile jar = new JarFile(location.toFile())) {
                jar.stream().filter(e -> e.getName().endsWith(".class") && !e.getName().startsWith("META-INF"))
                        .forEach(e -> names.add(className(e.getName())));
            }
        }
        names.removeIf(n -> n.endsWith("package-info") || n.endsWith("module-info"));
        return names;
    }

    private static String className(String path) {
        return path.substring(0, path.length() - ".class".length()).replace('/', '.').replace('\\', '.');
    }

    /** Public all the way out, and not in an internal package. */
    private static boolean isPublished(Class<?> c) {
        if (c.isAnonymousClass() || c.isLocalClass() || c.isSynthetic()) {
            return false;
        }
        if (c.getPackageName().contains(".internal")) {
            return false;
        }
        for (Class<?> k = c; k != null; k = k.getEnclosingClass()) {
            if (!Modifier.isPublic(k.getModifiers())) {
                return false;
            }
        }
        return true;
    }

    private static boolean visible(Member m) {
        int mod = m.getModifiers();
        if (Modifier.isPublic(mod)) {
            return true;
        }
        // protected members are API only where a user can subclass
        return Modifier.isProtected(mod) && !Modifier.isFinal(m.getDeclaringClass().getModifiers());
    }

    private static String kind(Class<?> c) {
        String mods = Modifier.toString(c.getModifiers() & (Modifier.ABSTRACT | Modifier.FINAL | Modifier.STATIC));
        String kind = c.isAnnotation() ? "@interface" : c.isInterface() ? "interface" : c.isEnum() ? "enum"
                : c.isRecord() ? "record" : "class";
        if (c.isInterface()) {
            mods = mods.replace("abstract", "").trim();
        }
        if (c.isSealed()) {
            mods = (mods + " sealed").trim();
        }
        return (mods.isEmpty() ? "" : mods + " ") + kind;
    }

    private static String header(Class<?> c) {
        StringBuilder h = new StringBuilder();
        if (c.getGenericSuperclass() != null && c.getSuperclass() != Object.class && !c.isEnum() && !c.isRecord()) {
            h.append(" extends ").append(c.getGenericSuperclass().getTypeName());
        }
        var interfaces = c.getGenericInterfaces();
        if (interfaces.length > 0) {
            h.append(c.isInterface() ? " extends " : " implements ");
            for (int i = 0; i < interfaces.length; i++) {
                h.append(i > 0 ? ", " : "").append(interfaces[i].getTypeName());
            }
        }
        return h.toString();
    }
}
