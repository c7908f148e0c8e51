#!/usr/bin/env bash
# Renders the kustomize base and overlays (deploy/k8s) into deploy/target/rendered/*.yaml with `kubectl kustomize`
# (or `kustomize build`) and checks what each overlay must change. No cluster needed. The facts that tie the
# manifests to the code (flags, ports, probe paths, drain, user) are checked by scoreflow-cli's DeployManifestsTest;
# deploy/run-image.sh runs the rendered dev overlay under `podman kube play`.
#
# Usage: deploy/check-manifests.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUT=$ROOT/deploy/target/rendered
if command -v kubectl >/dev/null; then
  render() { kubectl kustomize "$1"; }
elif command -v kustomize >/dev/null; then
  render() { kustomize build "$1"; }
else
  echo "check-manifests: kubectl or kustomize is needed to render the overlays" >&2; exit 1
fi
mkdir -p "$OUT"
fail() { echo "check-manifests: $*" >&2; exit 1; }
kinds() { grep '^kind:' "$1" | sort | tr '\n' ' '; }

for o in base overlays/dev overlays/production; do
  name=$(basename "$o")
  render "$ROOT/deploy/k8s/$o" >"$OUT/$name.yaml" || fail "$o does not render"
  echo "check-manifests: $o -> $(kinds "$OUT/$name.yaml")" >&2
done

grep -q 'claimName: scoreflow-models' "$OUT/base.yaml" || fail "base: no model repository volume"
grep -q 'kind: PersistentVolumeClaim' "$OUT/dev.yaml" && fail "dev: still has the model volume claim"
grep -q 'claimName' "$OUT/dev.yaml" && fail "dev: still mounts the model volume"
grep -q 'image: localhost/scoreflow:0.1.0' "$OUT/dev.yaml" || fail "dev: image not set to localhost/scoreflow:0.1.0"
grep -q 'replicas: 1$' "$OUT/dev.yaml" || fail "dev: not one replica"
grep -q 'namespace: scoreflow-dev' "$OUT/dev.yaml" || fail "dev: no namespace"
grep -q 'storage: 20Gi' "$OUT/production.yaml" || fail "production: model volume size not patched"
grep -q 'replicas: 3$' "$OUT/production.yaml" || fail "production: not three replicas"
grep -q 'topologySpreadConstraints' "$OUT/production.yaml" || fail "production: no spread constraints"
grep -q 'image: registry.example.com/ml/scoreflow:0.1.0' "$OUT/production.yaml" || fail "production: image not set"
for f in "$OUT"/*.yaml; do
  grep -q 'readOnlyRootFilesystem: true' "$f" || fail "$f: root file system not read-only"
  grep -q 'path: /v2/health/ready' "$f" || fail "$f: no readiness probe on /v2/health/ready"
done
echo "check-manifests: OK (rendered into $OUT)"
