# Sourced by the benchmark scripts: the seed baseline (nginx, uwsgi, wrk, a venv from the local package mirror, its
# models and data) in $SEED_DIR, copied from $SHARED/bench/seed-baseline on first use.
if [[ ! -d $SEED_DIR ]]; then cp -r "$SHARED/bench/seed-baseline" "$SEED_DIR"; chmod -R u+w "$SEED_DIR"; fi
need=()
for b in nginx wrk uwsgi curl; do command -v $b >/dev/null || need+=("$b"); done
[[ -f /usr/lib/uwsgi/plugins/python3_plugin.so ]] || need+=(uwsgi-plugin-python3)
[[ -f /usr/lib/python3.11/ensurepip/__init__.py ]] || need+=(python3-venv)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk uwsgi uwsgi-plugin-python3 python3-venv curl >/dev/null
fi
if [[ ! -x $SEED_DIR/venv/bin/python ]]; then
  /usr/bin/python3 -m venv "$SEED_DIR/venv"
  "$SEED_DIR/venv/bin/pip" install --retries 0 --timeout 5 -q numpy scikit-learn flask onnx onnxruntime
fi
[[ -f $SEED_DIR/data/body_1000.f32 ]] || (cd "$SEED_DIR" && venv/bin/python train_export.py)
