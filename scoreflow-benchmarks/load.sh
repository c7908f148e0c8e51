#!/usr/bin/env bash
# Side-by-side load benchmark of the scoring service (issue 2), all in one run on this machine:
#   - the seed article's Flask + uwsgi + nginx service (shared/bench/seed-baseline), as the article configures it
#     ("seed") and with one BLAS thread per worker ("seed-blas1", the harness's tuned variant);
#   - Scoreflow (`scoreflow serve`) on the same two ONNX models (logreg and mlp, 100 features);
#   - two Python deployments of today on ONNX Runtime (one intra-op thread each), same models and HTTP contract
#     (scoreflow-benchmarks/python/, venv from the local package mirror by python/peers-setup.sh):
#     "fastapi": FastAPI under gunicorn, one uvicorn worker per core (uvloop + httptools), on :8093;
#     "ray": Ray Serve, one replica per core behind Serve's HTTP proxy, local Ray with num_cpus = cores, on :8094
#     (Ray also runs its controller, proxy, GCS, raylet and agents: more processes than cores);
#   - a bare Netty server that only reads the same bodies (the wire's ceiling);
#   - in-process ONNX Runtime on [1000,100] batches with the same thread count (the model's ceiling).
# The same load generator (wrk, with the seed harness's put.lua: checks every 200 body's length) drives every
# server: rows per request 1, 100, 1000; connections 8, 32, 128, 256.
#
#   scoreflow-benchmarks/load.sh                 # full: about 35 min
#   DURATION=5 CASES="1000:32" load.sh           # a quick look
# Knobs: DURATION (s per case, 10) WARMUP (s of load before the cases, 20) MODELS ("logreg mlp") CASES ("1:32 100:32 1000:8 1000:32 1000:128 1000:256 ...")
#        SEED_DIR (writable copy of the seed baseline, /tmp/seed-baseline) SKIP_SEED=1 SKIP_BARE=1 JAVA_HOME
#        SKIP_FASTAPI=1 SKIP_RAY=1 PEERS_VENV (the Python peers' venv, $SEED_DIR/peers-venv)
#        BEFORE=/path/to/an/earlier/checkout (built with its ./scoreflow): also runs that build ("scoreflow-before")
# Results: scoreflow-benchmarks/results/<timestamp>/{load.kv,inprocess.txt,answers.txt,summary.md} and the servers'
# logs; the summary is printed. answers.txt: each server's scores on data/body_100.f32 against in-process ONNX
# Runtime (within 1e-6) and its answer to a body that is not whole rows (400); a wrong one stops the run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
SEED_DIR=${SEED_DIR:-/tmp/seed-baseline}
DURATION=${DURATION:-10}
MODELS=${MODELS:-"logreg mlp"}
CASES=${CASES:-"1:8 1:32 1:128 1:256 100:8 100:32 100:128 100:256 1000:8 1000:32 1000:128 1000:256"}
PORT_SEED=8099; PORT_SF=8097; PORT_BARE=8098; PORT_FASTAPI=8093; PORT_RAY=8094 # (ab.sh uses 8095 and 8096)
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
RES=$HERE/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES"

source "$HERE/seed-setup.sh"
[[ -n ${SKIP_FASTAPI:-} && -n ${SKIP_RAY:-} ]] || source "$HERE/python/peers-setup.sh"
(cd "$ROOT" && mvn -B -q -Pbench -DskipTests package)
CP="$HERE/target/scoreflow-benchmarks-0.1.0-SNAPSHOT.jar:$HERE/target/lib/*"
JFLAGS="--enable-native-access=ALL-UNNAMED -Xms1g -Xmx2g"

{ echo "date: $(date -Is)"; echo "cpus: $(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "java: $("$JAVA" -version 2>&1 | head -1)"; echo "wrk: $(wrk -v 2>&1 | head -1)"
  declare -F peers_versions >/dev/null && echo "python peers ($PEERS_VENV): $(peers_versions | tr '\n' ';')"
  echo "DURATION=$DURATION CASES=$CASES BEFORE=${BEFORE:-}"; echo "load before start: $(cat /proc/loadavg)"
  echo "other processes using CPU at start:"; ps -eo pcpu,comm --sort=-pcpu | head -6; } > "$RES/env.txt"

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }

run_case() { # server model rows conns url
  local server=$1 model=$2 rows=$3 conns=$4 url=$5 b0 b1 r
  b0=$(busy)
  r=$(cd "$SEED_DIR" && BODY=data/body_$rows.f32 EXPECT_LEN=$((rows * 4)) wrk -t2 -c"$conns" -d"${DURATION}s" \
      --timeout 10s -s bench/put.lua "$url" 2>&1 | grep '^RESULT' | sed 's/^RESULT //' || true)
  b1=$(busy)
  local cpu; cpu=$(awk -v a="$b0" -v b="$b1" 'BEGIN{split(a,x," ");split(b,y," ");printf "%.0f", 100*(y[1]-x[1])/(y[2]-x[2])}')
  echo "server=$server model=$model rows=$rows conns=$conns ${r:-wrk_failed=1} machine_busy_pct=$cpu" >> "$RES/load.kv"
  echo "  $server $model rows=$rows c=$conns: $(grep -oE 'requests=[0-9]+|lat_p99_ms=[^ ]+|code_[0-9]+=[0-9]+' <<<"$r" | tr '\n' ' ')"
}

check_answers() { # url onnx: scores on 100 rows against in-process ONNX Runtime, and the 400 for a partial row
  "$SEED_DIR/venv/bin/python" "$HERE/python/check_answers.py" "$1" "$2" "$SEED_DIR/data/body_100.f32" 1e-6 \
      | tee -a "$RES/answers.txt" || { echo "wrong answers from $1, stopping"; exit 1; }
}

wait_ready() { # url pid log seconds: polls with a real 1-row request until a 200 with 4 bytes
  local out
  for _ in $(seq $(($4 * 2))); do
    kill -0 "$2" 2>/dev/null || { echo "server exited:"; tail -30 "$3"; return 1; }
    out=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -X PUT --data-binary @"$SEED_DIR/data/body_1.f32" \
          -H 'Content-Type: application/octet-stream' "$1" || true)
    [[ $out == "200 4" ]] && return 0; sleep 0.5
  done
  echo "no 200 from $1 within $4 s (last: $out):"; tail -30 "$3"; return 1
}

stop_session() { # pid of a session leader started with setsid: TERM it, wait, then KILL what is left of its session
  local p=$1
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  local left; left=$(ps -eo pid=,sid= | awk -v s="$p" '$2 == s {print $1}')
  [[ -n $left ]] && kill -KILL $left 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

start_fastapi() { # model onnx
  SCORE_MODEL=$2 setsid "$PEERS_VENV/bin/gunicorn" -k uvicorn.workers.UvicornWorker -w "$(nproc)" \
      -b 127.0.0.1:$PORT_FASTAPI --chdir "$HERE/python" --log-level warning fastapi_score:app \
      < /dev/null > "$RES/fastapi-$1.log" 2>&1 &
  FASTAPI_PID=$!
  wait_ready "http://127.0.0.1:$PORT_FASTAPI/score" "$FASTAPI_PID" "$RES/fastapi-$1.log" 60
}

start_ray() { # model onnx: a local Ray (its session under /tmp/ray-sf-peers: unix socket paths must stay short)
  RAY_USAGE_STATS_ENABLED=0 setsid "$PEERS_VENV/bin/python" "$HERE/python/ray_score.py" --model "$2" \
      --port $PORT_RAY --replicas "$(nproc)" --temp-dir /tmp/ray-sf-peers < /dev/null > "$RES/ray-$1.log" 2>&1 &
  RAY_PID=$!
  wait_ready "http://127.0.0.1:$PORT_RAY/score" "$RAY_PID" "$RES/ray-$1.log" 180
}

load_all() { # server model url
  BODY=$SEED_DIR/data/body_1000.f32
  (cd "$SEED_DIR" && BODY=data/body_1000.f32 EXPECT_LEN=4000 wrk -t2 -c32 -d"${WARMUP:-20}s" -s bench/put.lua "$3" >/dev/null 2>&1 || true) # warm-up: JIT settles in ~20 s
  for rc in $CASES; do run_case "$1" "$2" "${rc%%:*}" "${rc##*:}" "$3"; done
}

cleanup() { (cd "$SEED_DIR" && PORT=$PORT_SEED service/ctl.sh stop >/dev/null 2>&1) || true
            [[ -n ${SF_PID:-} ]] && kill "$SF_PID" 2>/dev/null || true
            [[ -n ${BARE_PID:-} ]] && kill "$BARE_PID" 2>/dev/null || true
            [[ -n ${FASTAPI_PID:-} ]] && stop_session "$FASTAPI_PID"
            [[ -n ${RAY_PID:-} ]] && stop_session "$RAY_PID"; return 0; }
trap cleanup EXIT

for model in $MODELS; do
  onnx=$SEED_DIR/models/$model.onnx
  echo "== $model: in-process ONNX Runtime, [1000,100] batches"
  for cfg in "2 1" "1 2" "1 1"; do
    set -- $cfg
    "$JAVA" $JFLAGS -cp "$CP" dev.scoreflow.benchmarks.InProcessBench "$onnx" 1000 "$1" "$2" 5 | tee -a "$RES/inprocess.txt"
  done
  if [[ -z ${SKIP_SEED:-} ]]; then
    for variant in seed seed-blas1; do
      extra=""; [[ $variant == seed-blas1 ]] && extra="env = OPENBLAS_NUM_THREADS=1"
      echo "== $model: $variant (Flask + uwsgi processes=2 + nginx) on :$PORT_SEED"
      (cd "$SEED_DIR" && PORT=$PORT_SEED service/ctl.sh start "$model" 2 1 "$extra" >/dev/null)
      load_all "$variant" "$model" "http://127.0.0.1:$PORT_SEED/score"
      (cd "$SEED_DIR" && PORT=$PORT_SEED service/ctl.sh stop >/dev/null)
    done
  fi
  echo "== $model: scoreflow on :$PORT_SF"
  "$JAVA" $JFLAGS -cp "$CP" dev.scoreflow.cli.Main serve --model "$onnx" --name "$model" --port $PORT_SF \
      > "$RES/scoreflow-$model.log" 2>&1 &
  SF_PID=$!
  wait_port $PORT_SF || { echo "scoreflow did not start:"; cat "$RES/scoreflow-$model.log"; exit 1; }
  check_answers "http://127.0.0.1:$PORT_SF/score" "$onnx"
  load_all scoreflow "$model" "http://127.0.0.1:$PORT_SF/score"
  kill "$SF_PID"; wait "$SF_PID" 2>/dev/null || true; SF_PID=
  if [[ -n ${BEFORE:-} ]]; then # an earlier build of Scoreflow, for a before/after in the same run
    echo "== $model: scoreflow-before ($BEFORE) on :$PORT_SF"
    "$JAVA" $JFLAGS -cp "$BEFORE/scoreflow-cli/target/scoreflow-cli-0.1.0-SNAPSHOT.jar:$BEFORE/scoreflow-cli/target/lib/*" \
        dev.scoreflow.cli.Main serve --model "$onnx" --name "$model" --port $PORT_SF > "$RES/before-$model.log" 2>&1 &
    SF_PID=$!
    wait_port $PORT_SF || { echo "scoreflow-before did not start:"; cat "$RES/before-$model.log"; exit 1; }
    load_all scoreflow-before "$model" "http://127.0.0.1:$PORT_SF/score"
    kill "$SF_PID"; wait "$SF_PID" 2>/dev/null || true; SF_PID=
  fi
  if [[ -z ${SKIP_FASTAPI:-} ]]; then
    echo "== $model: fastapi (gunicorn, $(nproc) uvicorn workers, ONNX Runtime 1 thread each) on :$PORT_FASTAPI"
    start_fastapi "$model" "$onnx" || exit 1
    check_answers "http://127.0.0.1:$PORT_FASTAPI/score" "$onnx"
    load_all fastapi "$model" "http://127.0.0.1:$PORT_FASTAPI/score"
    stop_session "$FASTAPI_PID"; FASTAPI_PID=
  fi
  if [[ -z ${SKIP_RAY:-} ]]; then
    echo "== $model: ray (Ray Serve, $(nproc) replicas, ONNX Runtime 1 thread each, Serve's HTTP proxy) on :$PORT_RAY"
    start_ray "$model" "$onnx" || exit 1
    check_answers "http://127.0.0.1:$PORT_RAY/score" "$onnx"
    load_all ray "$model" "http://127.0.0.1:$PORT_RAY/score"
    stop_session "$RAY_PID"; RAY_PID=
  fi
done

if [[ -z ${SKIP_BARE:-} ]]; then
  echo "== bare Netty server (reads the body, answers 4 bytes per row, no scoring) on :$PORT_BARE"
  "$JAVA" $JFLAGS -cp "$CP" dev.scoreflow.benchmarks.BareServer $PORT_BARE 100 > "$RES/bare.log" 2>&1 &
  BARE_PID=$!
  wait_port $PORT_BARE
  load_all bare - "http://127.0.0.1:$PORT_BARE/score"
  kill "$BARE_PID"; BARE_PID=
fi

"$HERE/summarize.sh" "$RES" | tee "$RES/summary.md"
echo "results: $RES"
