#!/usr/bin/env bash
# Proves the image from deploy/build-image.sh runs: loads deploy/target/scoreflow-oci.tar into podman (rootful),
# then twice starts the container the way the Kubernetes manifests do (user 10001, read-only root file system, a
# writable /tmp, no capabilities), waits for GET /v2/health/ready, scores the example model's 1000 sample rows
# through PUT /score, compares them with ONNX Runtime's scores from models/example/1/sample-scores.f32 (1e-5), and
# stops it with SIGTERM (the server drains, then the JVM exits 143):
#   1. the model baked into the image (/models/example);
#   2. this repository's models/ mounted read-only on /models (the model repository volume): example and fraud;
#   3. the dev overlay of deploy/k8s rendered by kubectl kustomize, under `podman kube play` (port 8080).
# Prints the image size. Exits non-zero on any failure.
#
# Usage: deploy/run-image.sh [ARCHIVE]     (default deploy/target/scoreflow-oci.tar)
# Environment: SCOREFLOW_IMAGE_TAG (default 0.1.0). Needs podman, curl, python3, kubectl or kustomize.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
ARCHIVE=${1:-$ROOT/deploy/target/scoreflow-oci.tar}
IMAGE=localhost/scoreflow:${SCOREFLOW_IMAGE_TAG:-0.1.0}
EXAMPLE=$ROOT/models/example/1

command -v podman >/dev/null || { echo "run-image: podman is needed; apt-get install podman" >&2; exit 1; }
[[ -f $ARCHIVE ]] || { echo "run-image: $ARCHIVE is missing; run deploy/build-image.sh first" >&2; exit 1; }

echo "run-image: podman load -i $ARCHIVE" >&2
podman load -q -i "$ARCHIVE" >&2
SIZE=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "run-image: $IMAGE is $((SIZE / 1000000)) MB unpacked; archive $(( $(stat -c %s "$ARCHIVE") / 1000000 )) MB"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
NAME=scoreflow-run-image-$$
WORK=$(mktemp -d)
cleanup() { podman rm -f -v -t 0 "$NAME" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

# Limits no higher than this shell's: podman's defaults (1048576 files) need CAP_SYS_RESOURCE, which a
# sandboxed root may lack.
LIMITS=(--ulimit "nofile=$(ulimit -n):$(ulimit -n)" --ulimit "nproc=8192:8192")

run() { # label, extra podman args..., then -- and the command
  local label=$1; shift
  local args=() cmd=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done; shift; cmd=("$@")
  echo "run-image: [$label] podman run ... $IMAGE ${cmd[*]}" >&2
  podman run -d --name "$NAME" --network host "${LIMITS[@]}" --read-only --tmpfs /tmp:rw,exec,size=512m \
    --cap-drop all --security-opt no-new-privileges "${args[@]}" "$IMAGE" "${cmd[@]}" >/dev/null
  local start=$SECONDS
  until curl -fsS -o /dev/null "$BASE/v2/health/ready" 2>/dev/null; do
    if [[ $(podman inspect -f '{{.State.Running}}' "$NAME") != true ]] || (( SECONDS - start > 120 )); then
      podman logs "$NAME" >&2 || true
      echo "run-image: [$label] not ready after $((SECONDS - start)) s" >&2; exit 1
    fi
    sleep 0.5
  done
  echo "run-image: [$label] ready after $((SECONDS - start)) s; live: $(curl -fsS -o /dev/null -w '%{http_code}' "$BASE/v2/health/live")" >&2
}

check_scores() { # label, path
  local label=$1 path=$2
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$EXAMPLE/sample-input.f32" \
    -o "$WORK/scores.f32" "$BASE$path"
  python3 - "$WORK/scores.f32" "$EXAMPLE/sample-scores.f32" "$label" <<'EOF'
import struct, sys
got, want = (open(p, 'rb').read() for p in sys.argv[1:3])
g, w = (struct.unpack('<%df' % (len(b) // 4), b) for b in (got, want))
if len(g) != len(w):
    sys.exit('run-image: [%s] %d scores, expected %d' % (sys.argv[3], len(g), len(w)))
bad = [i for i in range(len(w)) if abs(g[i] - w[i]) > 1e-5 * max(1.0, abs(w[i]))]
if bad:
    sys.exit('run-image: [%s] %d of %d scores differ, first at row %d: %r vs %r' % (sys.argv[3], len(bad), len(w), bad[0], g[bad[0]], w[bad[0]]))
print('run-image: [%s] scored %d rows through the container; all within 1e-5 of ONNX Runtime' % (sys.argv[3], len(w)))
EOF
}

stop() { # label: SIGTERM, the server drains and exits 0
  local label=$1
  podman stop -t 40 "$NAME" >/dev/null
  local code
  code=$(podman inspect -f '{{.State.ExitCode}}' "$NAME")
  podman logs "$NAME" >"$WORK/$label.log" 2>&1 || true
  podman rm -v "$NAME" >/dev/null
  # 143 = 128 + SIGTERM: the JVM's exit status after its shutdown hooks ran (the server's drain is one).
  [[ $code == 143 || $code == 0 ]] || { cat "$WORK/$label.log" >&2; echo "run-image: [$label] exited $code after SIGTERM" >&2; exit 1; }
  grep -q 'shutting down' "$WORK/$label.log" || { cat "$WORK/$label.log" >&2; echo "run-image: [$label] no drain message" >&2; exit 1; }
  echo "run-image: [$label] stopped with SIGTERM, drained, exit $code" >&2
}

# 1. The baked-in model, with the image's default command but on a free port (host network).
run baked -- serve --models /models --host 127.0.0.1 --port "$PORT"
[[ $(podman exec "$NAME" /opt/java/bin/java -XshowSettings:properties -version 2>&1 | grep -c 'user.name = scoreflow') == 1 ]] \
  || { echo "run-image: [baked] the JVM does not run as user scoreflow (10001)" >&2; exit 1; }
check_scores baked /score
curl -fsS "$BASE/v2/models/example" | grep -q '"name":"example"' \
  || { echo "run-image: [baked] GET /v2/models/example did not describe the model" >&2; exit 1; }
stop baked

# 2. The repository's models/ on the /models volume.
run volume -v "$ROOT/models:/models:ro" -- serve --models /models --host 127.0.0.1 --port "$PORT"
check_scores volume /models/example/score
[[ $(curl -s -o /dev/null -w '%{http_code}' "$BASE/v2/models/fraud/ready") == 200 ]] \
  || { echo "run-image: [volume] the fraud model from the volume is not ready" >&2; exit 1; }
echo "run-image: [volume] /v2/models/fraud/ready 200" >&2
stop volume

# 3. The dev overlay as rendered by kustomize, under `podman kube play`: the Deployment's own security context
# (user 10001, read-only root), its /tmp emptyDir and args. podman publishes its containerPort 8080 on the host.
deploy_dev() {
  "$ROOT/deploy/check-manifests.sh" >&2
  rendered=$ROOT/deploy/target/rendered/dev.yaml
  if (echo >/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
    echo "run-image: [kube] port 8080 is in use on this machine; podman kube play publishes the pod's 8080" >&2; exit 1
  fi
  # podman's default limits need CAP_SYS_RESOURCE (see LIMITS above); kube play takes them from containers.conf.
  printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=8192:8192"]\n' "$(ulimit -n)" "$(ulimit -n)" \
    >"$WORK/containers.conf"
  kube_down() { # the pod, then its volumes (the emptyDir "tmp" and the image's anonymous /models)
    local volumes
    volumes=$(podman inspect -f '{{range .Mounts}}{{.Name}} {{end}}' scoreflow-pod-0-scoreflow 2>/dev/null || true)
    (cd "$WORK" && CONTAINERS_CONF=$WORK/containers.conf podman kube down "$rendered" >/dev/null 2>&1) || true
    for v in $volumes; do podman volume rm -f "$v" >/dev/null 2>&1 || true; done
  }
  trap 'kube_down; cleanup' EXIT
  echo "run-image: [kube] podman kube play deploy/target/rendered/dev.yaml" >&2
  # From an empty directory: kube play would build an image from a ./scoreflow directory if there were one.
  (cd "$WORK" && CONTAINERS_CONF=$WORK/containers.conf podman kube play "$rendered" >/dev/null)
  local c=scoreflow-pod-0-scoreflow start=$SECONDS
  BASE=http://127.0.0.1:8080
  until curl -fsS -o /dev/null "$BASE/v2/health/ready" 2>/dev/null; do
    if (( SECONDS - start > 120 )); then
      podman logs "$c" >&2 || true; echo "run-image: [kube] not ready after 120 s" >&2; exit 1
    fi
    sleep 0.5
  done
  [[ $(podman inspect -f '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' "$c") == "10001:10001 true" ]] \
    || { echo "run-image: [kube] not user 10001 with a read-only root: $(podman inspect -f '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' "$c")" >&2; exit 1; }
  echo "run-image: [kube] ready after $((SECONDS - start)) s as user 10001, read-only root" >&2
  check_scores kube /score
  kube_down
  trap cleanup EXIT
}
deploy_dev
echo "run-image: OK"
