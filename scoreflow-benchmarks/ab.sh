#!/usr/bin/env bash
# Interleaved A/B of two builds of the scoring service: both servers run at once (ports 8095 and 8096), both are warmed,
# then every case is measured ROUNDS times alternating A, B, A, B... so machine noise (±15-25 % between runs on 2
# shared cores) falls on both builds alike. Prints rows/s per round and the B/A ratio of the sums per case.
#
#   scoreflow-benchmarks/ab.sh /path/to/before /path/to/after        # each a checkout built with its ./scoreflow
# Knobs: MODEL (mlp) CASES ("100:32 1000:8") ROUNDS (4) DURATION (s per measurement, 10) WARMUP (s per server, 15)
#        SEED_DIR (/tmp/seed-baseline, made by seed-setup.sh) JAVA_HOME
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
SEED_DIR=${SEED_DIR:-/tmp/seed-baseline}
A=${1:?usage: ab.sh BUILD_A BUILD_B}; B=${2:?usage: ab.sh BUILD_A BUILD_B}
MODEL=${MODEL:-mlp}; CASES=${CASES:-"100:32 1000:8"}; ROUNDS=${ROUNDS:-4}; DURATION=${DURATION:-10}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
source "$HERE/seed-setup.sh"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # build port
  "$JAVA" --enable-native-access=ALL-UNNAMED -Xms1g -Xmx2g \
      -cp "$1/scoreflow-cli/target/scoreflow-cli-0.1.0-SNAPSHOT.jar:$1/scoreflow-cli/target/lib/*" \
      dev.scoreflow.cli.Main serve --model "$SEED_DIR/models/$MODEL.onnx" --name "$MODEL" --port "$2" \
      > "/tmp/ab-$2.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$2) 2>/dev/null && return 0; sleep 0.1; done
  echo "server on :$2 did not start:"; cat "/tmp/ab-$2.log"; exit 1
}
rows_per_s() { # port rows conns seconds
  (cd "$SEED_DIR" && BODY=data/body_$2.f32 EXPECT_LEN=$(($2 * 4)) wrk -t2 -c"$3" -d"$4s" --timeout 10s \
      -s bench/put.lua "http://127.0.0.1:$1/score" 2>&1) | grep '^RESULT' | grep -oE 'requests=[0-9]+' \
      | cut -d= -f2 | awk -v r="$2" -v d="$4" '{printf "%.0f", $1 * r / d}'
}
start "$A" 8095; start "$B" 8096
echo "A=$A ($(git -C "$A" rev-parse --short HEAD 2>/dev/null)) B=$B ($(git -C "$B" rev-parse --short HEAD 2>/dev/null))"
echo "model=$MODEL rounds=$ROUNDS duration=${DURATION}s load=$(cut -d' ' -f1-3 /proc/loadavg) $(date -Is)"
rows_per_s 8095 1000 32 "${WARMUP:-15}" >/dev/null; rows_per_s 8096 1000 32 "${WARMUP:-15}" >/dev/null
for rc in $CASES; do
  rows=${rc%%:*}; conns=${rc##*:}; sa=0; sb=0; line=""
  for i in $(seq "$ROUNDS"); do
    a=$(rows_per_s 8095 "$rows" "$conns" "$DURATION"); b=$(rows_per_s 8096 "$rows" "$conns" "$DURATION")
    sa=$((sa + a)); sb=$((sb + b)); line+=" $a/$b"
  done
  echo "$MODEL rows=$rows conns=$conns A/B rows/s per round:$line  B/A=$(awk -v a=$sa -v b=$sb 'BEGIN{printf "%.1f%%", 100*b/a}')"
done
