#!/usr/bin/env bash
# Spark batch-scoring benchmark (issue 3), side by side in one run on this machine:
#   (a) the Scoreflow server driven by the load generator alone (wrk, 1000-row bodies): the service's ceiling;
#   Spark local[2] scoring ROWS rows x 100 features, in one JVM (SparkBench), input cached in memory:
#   client    - ModelScorer remote through the back-pressured client (8 requests in flight per partition);
#   naive     - (b) the article's naive client: one blocking JDK HttpClient request per batch inside mapPartitions;
#   inprocess - (c) ModelScorer in-process (ONNX Runtime in the executor);
#   rows      - Spark's Row API alone, no scoring: what any Row-based mapPartitions pays.
# Model: the seed baseline's logreg (100 features), served by `scoreflow serve` with default settings.
#
#   scoreflow-benchmarks/spark-bench.sh            # about 5 min
# Knobs: ROWS (4000000) RUNS (timed runs per mode after one warm-up, 3) DURATION (s per wrk case, 10) WARMUP (s, 20)
# Results: scoreflow-benchmarks/results/spark-<timestamp>/{env.txt,wrk.txt,spark.txt,summary.md}
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
SEED_DIR=${SEED_DIR:-/tmp/seed-baseline}
ROWS=${ROWS:-4000000}; RUNS=${RUNS:-3}; DURATION=${DURATION:-10}; WARMUP=${WARMUP:-20}
PORT=8097
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
RES=$HERE/results/spark-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES"
source "$HERE/seed-setup.sh"
(cd "$ROOT" && mvn -B -q -Pbench -DskipTests package)  # never install: a stale ~/.m2 copy would shadow later builds
CP="$HERE/target/scoreflow-benchmarks-0.1.0-SNAPSHOT.jar:$HERE/target/lib/*"
OPENS=""
for p in java.lang java.lang.invoke java.lang.reflect java.io java.net java.nio java.util java.util.concurrent \
         java.util.concurrent.atomic sun.nio.ch sun.nio.cs sun.security.action sun.util.calendar; do
  OPENS="$OPENS --add-opens=java.base/$p=ALL-UNNAMED"
done
{ echo "date: $(date -Is)"; echo "cpus: $(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "java: $("$JAVA" -version 2>&1 | head -1)"; echo "ROWS=$ROWS RUNS=$RUNS DURATION=$DURATION"
  echo "load before start: $(cat /proc/loadavg)"; ps -eo pcpu,comm --sort=-pcpu | head -6; } > "$RES/env.txt"

wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
cleanup() { [[ -n ${SF_PID:-} ]] && kill "$SF_PID" 2>/dev/null || true; }
trap cleanup EXIT

echo "== scoreflow serve (logreg, 100 features) on :$PORT"
"$JAVA" --enable-native-access=ALL-UNNAMED -Xms1g -Xmx2g -cp "$CP" dev.scoreflow.cli.Main serve \
    --model "$SEED_DIR/models/logreg.onnx" --name logreg --port $PORT > "$RES/server.log" 2>&1 &
SF_PID=$!
wait_port $PORT || { cat "$RES/server.log"; exit 1; }
URL=http://127.0.0.1:$PORT

echo "== (a) wrk alone, 1000 rows per request"
(cd "$SEED_DIR" && BODY=data/body_1000.f32 EXPECT_LEN=4000 wrk -t2 -c16 -d"${WARMUP}s" -s bench/put.lua "$URL/score" >/dev/null 2>&1 || true)
for c in 8 16 32; do
  r=$(cd "$SEED_DIR" && BODY=data/body_1000.f32 EXPECT_LEN=4000 wrk -t2 -c$c -d"${DURATION}s" --timeout 10s \
      -s bench/put.lua "$URL/score" 2>&1 | grep '^RESULT' || true)
  echo "conns=$c $r" | tee -a "$RES/wrk.txt"
done

echo "== Spark local[2], $ROWS rows x 100 features"
SPARK_LOCAL_IP=127.0.0.1 "$JAVA" --enable-native-access=ALL-UNNAMED -Xmx8g $OPENS -cp "$CP" \
    dev.scoreflow.benchmarks.SparkBench "$URL" "$SEED_DIR/models/logreg.onnx" "$ROWS" 100 1000 8 "$RUNS" \
    rows client naive inprocess 2> "$RES/spark.err" | tee "$RES/spark.txt"

awk -v res="$RES" '
function kv(line, key,   m) { if (match(line, key "=[^ ]+")) return substr(line, RSTART + length(key) + 1, RLENGTH - length(key) - 1); return "" }
/^conns=/ { ok = kv($0, "code_200") + 0; d = kv($0, "duration_s"); r = ok / d * 1000; if (r > wrk) { wrk = r; wc = kv($0, "conns") } }
/^RESULT mode=/ { m = kv($0, "mode"); best[m] = kv($0, "best"); med[m] = kv($0, "median"); sum[m] = kv($0, "sum_of_scores") }
END {
  printf "| path | rows/s best | rows/s median | sum of scores |\n|---|---|---|---|\n"
  printf "| (a) wrk alone, best of 8/16/32 conns (%s) | %.0f | - | - |\n", wc, wrk
  split("client naive inprocess rows", ms, " ")
  for (i = 1; i <= 4; i++) { m = ms[i]; printf "| Spark %s | %.0f | %.0f | %s |\n", m, best[m], med[m], sum[m] }
  printf "\n- client / (a) ceiling: %.0f%% (median %.0f%%)\n", 100 * best["client"] / wrk, 100 * med["client"] / wrk
  printf "- client / (b) naive: %.1fx (median %.1fx)\n", best["client"] / best["naive"], med["client"] / med["naive"]
  printf "- client / (c) in-process: %.0f%% (median %.0f%%)\n", 100 * best["client"] / best["inprocess"], 100 * med["client"] / med["inprocess"]
}' "$RES/wrk.txt" "$RES/spark.txt" | tee "$RES/summary.md"
echo "results: $RES"
