#!/usr/bin/env bash
# Proves the image from deploy/build-image.sh runs: loads deploy/target/scoreflow-oci.tar into podman (rootful),
# then twice starts the container the way the Kubernetes manifests do (user 10001, read-only root file system, a
# writable /tmp, no capabilities), waits for GET /v2/health/ready, scores the example model's 1000 sample rows
# through PUT /score, compares them with ONNX Runtime's scores from models/example/1/sample-scores.f32 (1e-5), and
# stops it with SIGTERM (the server drains, then the JVM exits 143):
#   1. the model baked into the image (/models/example);
#   2. this repository's models/ mounted read-only on /models (the model repository volume): example and fraud;
#   3. the dev overlay of deploy/k8s rendered by kubectl kustomize, under `podman kube play` (port 8080).
# Between 2 and 3, what the image leaves out (Spark, Hadoop, Scala, the Kafka broker): `scoreflow --help` lists
# `batch` as not in this distribution, and `batch` and `serve --jobs embedded` exit 2 saying what to use instead,
# with no NoClassDefFoundError (podman only).
# Prints the image size. Exits non-zero on any failure.
#
# Where podman cannot start the image (or with SCOREFLOW_RUNTIME=runc), runs 1 and 2 use runc on the image unpacked
# by umoci, with the same user, host network, read-only root, tmpfs /tmp and no capabilities; run 3 needs podman, so
# that mode ends with exit code 2 after saying so.
#
# Usage: deploy/run-image.sh [ARCHIVE]     (default deploy/target/scoreflow-oci.tar)
# Environment: SCOREFLOW_IMAGE_TAG (default 0.1.0), SCOREFLOW_RUNTIME (podman, the default, or runc).
# Needs podman (or runc and umoci), curl, python3, kubectl or kustomize.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
ARCHIVE=${1:-$ROOT/deploy/target/scoreflow-oci.tar}
IMAGE=localhost/scoreflow:${SCOREFLOW_IMAGE_TAG:-0.1.0}
EXAMPLE=$ROOT/models/example/1

TAG=${SCOREFLOW_IMAGE_TAG:-0.1.0}
RUNTIME=${SCOREFLOW_RUNTIME:-podman}
[[ -f $ARCHIVE ]] || { echo "run-image: $ARCHIVE is missing; run deploy/build-image.sh first" >&2; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
NAME=scoreflow-run-image-$$
WORK=$(mktemp -d)
cleanup() {
  if [[ $RUNTIME == runc ]]; then
    runc delete -f "$NAME" >/dev/null 2>&1 || true
  else
    podman rm -f -v -t 0 "$NAME" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# podman's global flags: empty, or --runtime runc where its default OCI runtime cannot start containers here (crun
# refuses a cgroups v1/v2 hybrid host).
PODMAN_FLAGS=()
podman() { command podman "${PODMAN_FLAGS[@]}" "$@"; }

# Limits no higher than this shell's: podman's defaults (1048576 files) need CAP_SYS_RESOURCE, which a
# sandboxed root may lack.
LIMITS=(--ulimit "nofile=$(ulimit -n):$(ulimit -n)" --ulimit "nproc=8192:8192")

if [[ $RUNTIME == podman ]]; then
  command -v podman >/dev/null || { echo "run-image: podman is needed; apt-get install podman" >&2; exit 1; }
  echo "run-image: podman load -i $ARCHIVE" >&2
  podman load -q -i "$ARCHIVE" >&2
  SIZE=$(podman image inspect --format '{{.Size}}' "$IMAGE")
  echo "run-image: $IMAGE is $((SIZE / 1000000)) MB unpacked; archive $(( $(stat -c %s "$ARCHIVE") / 1000000 )) MB"
  if ! out=$(podman run --rm --network host "${LIMITS[@]}" "$IMAGE" --version 2>&1); then
    PODMAN_FLAGS=(--runtime runc)
    if command -v runc >/dev/null && podman run --rm --network host "${LIMITS[@]}" "$IMAGE" --version >/dev/null 2>&1
    then
      echo "run-image: podman's default OCI runtime cannot start the image here ($out); using podman --runtime runc" >&2
    else
      PODMAN_FLAGS=()
      echo "run-image: podman cannot start the image here: $out; trying runc" >&2
      RUNTIME=runc
    fi
  fi
fi
if [[ $RUNTIME == runc ]]; then
  command -v runc >/dev/null && command -v umoci >/dev/null \
    || { echo "run-image: runc and umoci are needed; apt-get install runc umoci" >&2; exit 1; }
  mkdir -p "$WORK/oci"
  tar -C "$WORK/oci" -xf "$ARCHIVE"
  umoci unpack --image "$WORK/oci:scoreflow:$TAG" "$WORK/bundle" >/dev/null
  echo "run-image: unpacked for runc: $(du -sm "$WORK/bundle/rootfs" | cut -f1) MiB; archive" \
    "$(( $(stat -c %s "$ARCHIVE") / 1000000 )) MB"
fi

# runc: the bundle's config.json (from umoci) set up as the podman runs are: the command, host network, read-only
# root, tmpfs /tmp, no capabilities, no new privileges, a file limit no higher than this shell's, -v mounts read-only.
runc_start() { # label, [-v HOST:CONTAINER:ro]..., --, the command
  local label=$1 binds=(); shift
  while [[ $1 != -- ]]; do [[ $1 == -v ]] && { binds+=("$2"); shift; }; shift; done; shift
  echo "run-image: [$label] runc run ... $*" >&2
  python3 - "$WORK/bundle/config.json" "$(ulimit -n)" "${binds[*]:-}" "$@" <<'EOF'
import json, sys
path, nofile, binds, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
c = json.load(open(path))
p = c['process']
p['args'] = p['args'][:3] + args  # java @/app/jvm.options dev.scoreflow.cli.Main, then the command
p['terminal'] = False
p['noNewPrivileges'] = True
p['rlimits'] = [{'type': 'RLIMIT_NOFILE', 'hard': nofile, 'soft': nofile}]
p['capabilities'] = {k: [] for k in ('bounding', 'effective', 'inheritable', 'permitted', 'ambient')}
c['root']['readonly'] = True
c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'network']
c['mounts'] = [m for m in c['mounts'] if m['destination'] not in ('/tmp', '/models')]
c['mounts'].append({'destination': '/tmp', 'type': 'tmpfs', 'source': 'tmpfs',
                    'options': ['nosuid', 'nodev', 'mode=1777', 'size=512m']})
for b in binds.split():
    src, dst = b.split(':')[:2]
    c['mounts'].append({'destination': dst, 'type': 'bind', 'source': src, 'options': ['rbind', 'ro']})
json.dump(c, open(path, 'w'), indent=1)
EOF
  runc run -d -b "$WORK/bundle" "$NAME" >"$WORK/runc.log" 2>&1 </dev/null
}

running() {
  if [[ $RUNTIME == runc ]]; then
    runc state "$NAME" 2>/dev/null | grep -q '"status": *"running"'
  else
    [[ $(podman inspect -f '{{.State.Running}}' "$NAME") == true ]]
  fi
}

logs() { if [[ $RUNTIME == runc ]]; then cat "$WORK/runc.log"; else podman logs "$NAME"; fi; }

run() { # label, extra podman args..., then -- and the command
  local label=$1; shift
  local args=() cmd=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done; shift; cmd=("$@")
  if [[ $RUNTIME == runc ]]; then
    runc_start "$label" "${args[@]}" -- "${cmd[@]}"
  else
    echo "run-image: [$label] podman run ... $IMAGE ${cmd[*]}" >&2
    podman run -d --name "$NAME" --network host "${LIMITS[@]}" --read-only --tmpfs /tmp:rw,exec,size=512m \
      --cap-drop all --security-opt no-new-privileges "${args[@]}" "$IMAGE" "${cmd[@]}" >/dev/null
  fi
  local start=$SECONDS
  until curl -fsS -o /dev/null "$BASE/v2/health/ready" 2>/dev/null; do
    if ! running || (( SECONDS - start > 120 )); then
      logs >&2 || true
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
  local label=$1 code
  if [[ $RUNTIME == runc ]]; then
    runc kill "$NAME" TERM
    local start=$SECONDS
    while running && (( SECONDS - start < 40 )); do sleep 0.5; done
    ! running || { echo "run-image: [$label] still running 40 s after SIGTERM" >&2; exit 1; }
    cp "$WORK/runc.log" "$WORK/$label.log"
    runc delete "$NAME" >/dev/null
    # runc keeps no exit status of a detached container: the server's own last words are the evidence.
    grep -q 'ScoringServer: stopped' "$WORK/$label.log" \
      || { cat "$WORK/$label.log" >&2; echo "run-image: [$label] the server did not drain and stop" >&2; exit 1; }
    echo "run-image: [$label] stopped with SIGTERM, drained ('ScoringServer: stopped')" >&2
    return
  fi
  podman stop -t 40 "$NAME" >/dev/null
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
if [[ $RUNTIME == runc ]]; then
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$(runc state "$NAME" | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$')/status")
else
  uid=$(podman top "$NAME" huser | tail -1)
fi
[[ $uid == 10001 ]] || { echo "run-image: [baked] the server runs as user '$uid', not 10001" >&2; exit 1; }
echo "run-image: [baked] the server runs as user $uid" >&2
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

# What the image leaves out: listed, refused with exit code 2 and what to use instead, never a missing class.
refused() { # label, expected message, the command
  local label=$1 want=$2 out code=0; shift 2
  out=$(podman run --rm --network host "${LIMITS[@]}" --read-only --tmpfs /tmp:rw,exec,size=512m --cap-drop all \
    --security-opt no-new-privileges "$IMAGE" "$@" 2>&1) || code=$?
  if [[ $code != 2 ]] || ! grep -qF "$want" <<<"$out" || grep -q 'NoClassDefFoundError' <<<"$out"; then
    echo "$out" >&2; echo "run-image: [$label] scoreflow $* exited $code without '$want'" >&2; exit 1
  fi
  echo "run-image: [$label] scoreflow $* exits 2: $(grep -F "$want" <<<"$out" | head -1)" >&2
}
if [[ $RUNTIME == podman ]]; then
  help=$(podman run --rm --network host "${LIMITS[@]}" "$IMAGE" --help)
  grep -qE '^  batch +Score a dataset with Spark' <<<"$help" && grep -qF '[not in this distribution]' <<<"$help" \
    || { echo "$help" >&2; echo "run-image: [lean] --help does not list batch as not in this distribution" >&2; exit 1; }
  echo "run-image: [lean] --help lists $(grep -c '^  [a-z]' <<<"$help") commands," \
    "$(grep -c '\[not in this distribution\]$' <<<"$help") marked not in this distribution" >&2
  refused lean-spark "'batch' is not in this distribution" batch --input /models --output /tmp/scored
  refused lean-broker "this distribution has no Kafka broker" serve --models /models --port 0 --jobs embedded
fi

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
if [[ $RUNTIME == runc ]]; then
  echo "run-image: runs 1 and 2 passed with runc; run 3 (the dev overlay under podman kube play) needs podman" >&2
  exit 2
fi
deploy_dev
echo "run-image: OK"
