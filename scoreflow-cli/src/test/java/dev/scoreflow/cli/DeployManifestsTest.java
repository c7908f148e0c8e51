package dev.scoreflow.cli;

import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.TestModels;
import dev.scoreflow.server.ScoringServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import picocli.CommandLine;

import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Kubernetes and KServe manifests in {@code deploy/} agree with the code: they parse, their kinds have the
 * API versions clusters serve, the kustomizations name files that exist, the container args are flags of
 * {@code scoreflow serve} (parsed by the CLI's own picocli model), the probe paths answer 200 on a real server, the
 * grace period covers preStop and the drain, and the pod runs as the image's user with a read-only root.
 * Rendering the overlays ({@code kubectl kustomize}) is in {@code deploy/check-manifests.sh}.
 *
 * <p>SnakeYAML is the one Spark brings to the CLI's run-time class path (2.5; 2.7 is the newest). It is not declared
 * here: a test-scoped declaration would take it off {@code target/lib}, and managing its version in the parent
 * would move scoreflow-client's tests from TestNG's 1.21 to 2.x.
 */
class DeployManifestsTest {

    /** The API versions of the kinds the manifests use: the ones current clusters (1.30+) and KServe 0.11+ serve. */
    private static final Map<String, String> API_VERSIONS = Map.of(
            "Kustomization", "kustomize.config.k8s.io/v1beta1",
            "Deployment", "apps/v1",
            "Service", "v1",
            "PersistentVolumeClaim", "v1",
            "PodDisruptionBudget", "policy/v1",
            "HorizontalPodAutoscaler", "autoscaling/v2",
            "ClusterServingRuntime", "serving.kserve.io/v1alpha1",
            "InferenceService", "serving.kserve.io/v1beta1");

    private static final Path DEPLOY = TestModels.root().resolve("deploy");

    record Doc(Path file, Map<String, Object> body) {
        String kind() {
            return (String) body.get("kind");
        }

        String name() {
            return (String) map(body, "metadata").get("name");
        }
    }

    private static List<Doc> docs;

    @BeforeAll
    static void load() throws IOException {
        docs = new ArrayList<>();
        List<Path> files;
        try (Stream<Path> s = Stream.concat(Files.walk(DEPLOY.resolve("k8s")), Files.walk(DEPLOY.resolve("kserve")))) {
            files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
        for (Path f : files) {
            try (Reader r = Files.newBufferedReader(f)) {
                for (Object o : yaml.loadAll(r)) {
                    assertThat(o).as(f + " holds a mapping").isInstanceOf(Map.class);
                    docs.add(new Doc(f, cast(o)));
                }
            }
        }
    }

    @Test
    void everyManifestHasAKnownKindWithTheApiVersionClustersServe() {
        assertThat(docs).hasSizeGreaterThanOrEqualTo(15);
        for (Doc d : docs) {
            assertThat(API_VERSIONS).as(d.file() + ": kind").containsKey(d.kind());
            assertThat(d.body().get("apiVersion")).as(d.file() + ": apiVersion of " + d.kind())
                    .isEqualTo(API_VERSIONS.get(d.kind()));
            if (!d.kind().equals("Kustomization")) {
                assertThat(d.name()).as(d.file() + ": metadata.name").isNotBlank();
            }
        }
        assertThat(docs.stream().map(Doc::kind)).contains("Deployment", "Service", "PersistentVolumeClaim",
                "PodDisruptionBudget", "HorizontalPodAutoscaler", "ClusterServingRuntime", "InferenceService");
    }

    @Test
    void kustomizationsNameFilesThatExistAndPatchWhatTheBaseDeclares() {
        List<Doc> kustomizations = docs.stream().filter(d -> d.kind().equals("Kustomization")).toList();
        assertThat(kustomizations.stream().map(d -> DEPLOY.relativize(d.file().getParent()).toString()))
                .containsExactlyInAnyOrder("k8s/base", "k8s/overlays/dev", "k8s/overlays/production");
        for (Doc k : kustomizations) {
            Path dir = k.file().getParent();
            for (Object r : list(k.body(), "resources")) {
                Path p = dir.resolve((String) r).normalize();
                assertThat(Files.isRegularFile(p) || Files.isRegularFile(p.resolve("kustomization.yaml")))
                        .as(k.file() + ": resource " + r + " is a file or a kustomization").isTrue();
            }
            Set<String> declared = declaredResources(dir);
            for (Object o : list(k.body(), "patches")) {
                Path p = dir.resolve((String) map(o).get("path"));
                assertThat(p).as(k.file() + ": patch").isRegularFile();
                for (Doc patch : docs) {
                    if (patch.file().equals(p)) {
                        assertThat(declared).as(p + " patches a resource of its bases")
                                .contains(patch.kind() + "/" + patch.name());
                    }
                }
            }
            for (Object o : list(k.body(), "images")) {
                assertThat(map(o).get("name")).as(k.file() + ": the image the base names").isEqualTo("scoreflow");
            }
        }
    }

    @Test
    void containerArgsAreFlagsOfServeAndThePortsAgree() {
        List<Map<String, Object>> containers = serverContainers();
        assertThat(containers).hasSize(2); // the Deployment's and the ClusterServingRuntime's
        for (Map<String, Object> c : containers) {
            ServeCommand serve = parseServe(c);
            assertThat(serve.host).isEqualTo("0.0.0.0");
            Map<String, Object> port = map(list(c, "ports").get(0));
            assertThat(port.get("containerPort")).isEqualTo(serve.port);
            for (String probe : List.of("readinessProbe", "livenessProbe")) {
                Object probePort = map(map(c, probe), "httpGet").get("port");
                assertThat(probePort).as(probe + " port").isIn(serve.port, port.get("name"));
            }
        }
        Doc service = only("Service");
        Map<String, Object> sp = map(list(map(service.body(), "spec"), "ports").get(0));
        assertThat(sp.get("targetPort")).isEqualTo(map(list(deploymentContainer(), "ports").get(0)).get("name"));
        assertThat(sp.get("port")).isEqualTo(8080);
    }

    @Test
    void everyProbePathAndTheMetricsPathAnswer200OnARealServer() throws Exception {
        Set<String> paths = new LinkedHashSet<>();
        for (Map<String, Object> c : serverContainers()) {
            for (String probe : List.of("startupProbe", "readinessProbe", "livenessProbe")) {
                if (c.containsKey(probe)) {
                    paths.add((String) map(map(c, probe), "httpGet").get("path"));
                }
            }
        }
        assertThat(paths).containsExactlyInAnyOrder("/v2/health/live", "/v2/health/ready");
        paths.add((String) map(map(map(map(only("Deployment").body(), "spec"), "template"), "metadata"),
                "annotations").get("prometheus.io/path"));
        ModelRepository repository = ModelRepository.builder().model("example", TestModels.example()).build();
        ScoringServer server = ScoringServer.builder(repository).host("127.0.0.1").port(0).start();
        try {
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            for (String path : paths) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.uri() + path))
                        .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as("GET " + path).isEqualTo(200);
            }
        } finally {
            server.shutdown(Duration.ofSeconds(5));
        }
    }

    @Test
    void gracePeriodCoversPreStopAndTheServersDrain() {
        Map<String, Object> pod = podSpec();
        ServeCommand serve = parseServe(deploymentContainer());
        int preStop = (Integer) map(map(map(deploymentContainer(), "lifecycle"), "preStop"), "sleep").get("seconds");
        assertThat(preStop).isPositive();
        assertThat((Integer) pod.get("terminationGracePeriodSeconds"))
                .isGreaterThanOrEqualTo(preStop + serve.drainSeconds + 5);
    }

    @Test
    void podRunsAsTheImageUserWithAReadOnlyRootAndAnExecutableTmp() throws IOException {
        String buildScript = Files.readString(DEPLOY.resolve("build-image.sh"));
        assertThat(buildScript).contains("--config.user 10001:10001", "scoreflow:x:10001:10001");
        Map<String, Object> pod = podSpec();
        Map<String, Object> podSecurity = map(pod, "securityContext");
        assertThat(podSecurity).containsEntry("runAsNonRoot", true).containsEntry("runAsUser", 10001);
        Map<String, Object> c = deploymentContainer();
        assertThat(map(c, "securityContext")).containsEntry("readOnlyRootFilesystem", true)
                .containsEntry("allowPrivilegeEscalation", false);
        String tmpVolume = null;
        for (Object m : list(c, "volumeMounts")) {
            if ("/tmp".equals(map(m).get("mountPath"))) {
                tmpVolume = (String) map(m).get("name");
            }
        }
        assertThat(tmpVolume).as("a volume on /tmp (ONNX Runtime and Netty unpack native libraries there)")
                .isNotNull();
        String tmp = tmpVolume;
        assertThat(list(pod, "volumes").stream().map(DeployManifestsTest::map)
                .filter(v -> tmp.equals(v.get("name"))).findFirst().orElseThrow()).containsKey("emptyDir");
        Map<String, Object> runtime = map(list(map(only("ClusterServingRuntime").body(), "spec"), "containers").get(0));
        assertThat(map(runtime, "securityContext")).containsEntry("runAsUser", 10001);
    }

    // --- helpers over the parsed documents

    private static ServeCommand parseServe(Map<String, Object> container) {
        List<String> args = list(container, "args").stream().map(String::valueOf).toList();
        assertThat(args).as("container args").first().isEqualTo("serve");
        // as the launcher dispatches them: the command by its name, then its own flags
        Commands.Entry command = Commands.find(args.toArray(String[]::new));
        assertThat(command).as("the command of " + args).isNotNull();
        assertThat(command.className()).isEqualTo(ServeCommand.class.getName());
        ServeCommand serve = new ServeCommand();
        new CommandLine(serve).parseArgs(args.subList(1, args.size()).toArray(String[]::new));
        return serve;
    }

    /** The base Deployment's container and the ClusterServingRuntime's. */
    private static List<Map<String, Object>> serverContainers() {
        return List.of(deploymentContainer(),
                map(list(map(only("ClusterServingRuntime").body(), "spec"), "containers").get(0)));
    }

    private static Map<String, Object> podSpec() {
        return map(map(map(only("Deployment").body(), "spec"), "template"), "spec");
    }

    private static Map<String, Object> deploymentContainer() {
        return map(list(podSpec(), "containers").get(0));
    }

    /** The one document of a kind in the base (or kserve/), not an overlay's patch. */
    private static Doc only(String kind) {
        List<Doc> found = docs.stream().filter(d -> d.kind().equals(kind))
                .filter(d -> !d.file().toString().contains("/overlays/")).toList();
        assertThat(found).as("one " + kind + " outside the overlays").hasSize(1);
        return found.get(0);
    }

    /** kind/name of every resource a kustomization directory builds on, through its bases. */
    private static Set<String> declaredResources(Path dir) {
        Set<String> out = new LinkedHashSet<>();
        Doc k = docs.stream().filter(d -> d.file().equals(dir.resolve("kustomization.yaml"))).findFirst()
                .orElseThrow();
        for (Object r : list(k.body(), "resources")) {
            Path p = dir.resolve((String) r).normalize();
            if (Files.isDirectory(p)) {
                out.addAll(declaredResources(p));
            } else {
                docs.stream().filter(d -> d.file().equals(p)).forEach(d -> out.add(d.kind() + "/" + d.name()));
            }
        }
        return out;
    }

    private static Map<String, Object> map(Object o) {
        assertThat(o).isInstanceOf(Map.class);
        return cast(o);
    }

    private static Map<String, Object> map(Map<String, Object> m, String key) {
        assertThat(m).as("has " + key).containsKey(key);
        return map(m.get(key));
    }

    private static List<Object> list(Map<String, Object> m, String key) {
        Object o = m.get(key);
        if (o == null) {
            return List.of();
        }
        assertThat(o).as(key).isInstanceOf(List.class);
        return cast(o);
    }

    @SuppressWarnings("unchecked")
    private static <T> T cast(Object o) {
        return (T) o;
    }
}
