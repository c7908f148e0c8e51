#!/usr/bin/env bash
# The Spark client against the article's naive client across a network (issue 11): localhost has no latency and this
# kernel no netem, so a LatencyProxy (scoreflow-testkit) between Spark and the server adds a fixed delay each way.
# For each DELAY (ms, each way): Spark local[2] scores ROWS rows x 100 features through the proxy with ModelScorer
# (the back-pressured client, MAX_IN_FLIGHT requests per partition) and with the naive client (one blocking request
# per batch inside mapPartitions); the same two directly (delay 0) first. Model: the seed baseline's logreg.
#
#   scoreflow-benchmarks/spark-latency-bench.sh     # about 5 min
# Each mode also reports the CPU time per row of every part over its timed runs (CpuAccount): Spark's task threads,
# the client's event loops, the JDK HttpClient's threads, the rest of the Spark JVM, the server and the proxy; the
# direct run adds the "rows" mode (Spark reading and writing the rows without scoring) as the baseline.
# Knobs: ROWS (1000000) RUNS (3) DELAYS ("0.5 2") BATCH_ROWS (1000) MAX_IN_FLIGHT (8) JAVA_HOME
# Results: scoreflow-benchmarks/results/spark-latency-<timestamp>/{env.txt,spark-*.txt,summary.md}
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
SEED_DIR=${SEED_DIR:-/tmp/seed-baseline}
ROWS=${ROWS:-1000000}; RUNS=${RUNS:-3}; DELAYS=${DELAYS:-0.5 2}; BATCH_ROWS=${BATCH_ROWS:-1000}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-8}
PORT=8098; PROXY_PORT=8099
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
RES=$HERE/results/spark-latency-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES"
source "$HERE/seed-setup.sh"
(cd "$ROOT" && mvn -B -q -Pbench -DskipTests package)
CP="$HERE/target/scoreflow-benchmarks-0.1.0-SNAPSHOT.jar:$HERE/target/lib/*"
OPENS=""
for p in java.lang java.lang.invoke java.lang.reflect java.io java.net java.nio java.util java.util.concurrent \
         java.util.concurrent.atomic sun.nio.ch sun.nio.cs sun.security.action sun.util.calendar; do
  OPENS="$OPENS --add-opens=java.base/$p=ALL-UNNAMED"
done
{ echo "date: $(date -Is)"; echo "cpus: $(nproc)"; echo "java: $("$JAVA" -version 2>&1 | head -1)"
  echo "ROWS=$ROWS RUNS=$RUNS DELAYS=$DELAYS BATCH_ROWS=$BATCH_ROWS MAX_IN_FLIGHT=$MAX_IN_FLIGHT"
  echo "load before start: $(cat /proc/loadavg)"; } | tee "$RES/env.txt"

wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
cleanup() { for p in ${SF_PID:-} ${PROXY_PID:-}; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$JAVA" --enable-native-access=ALL-UNNAMED -Xms1g -Xmx2g -cp "$CP" dev.scoreflow.cli.Main serve \
    --model "$SEED_DIR/models/logreg.onnx" --name logreg --port $PORT > "$RES/server.log" 2>&1 &
SF_PID=$!
wait_port $PORT || { cat "$RES/server.log"; exit 1; }

spark() { # label url pids modes...
  local label=$1 url=$2 pids=$3; shift 3
  echo "== Spark local[2] through $label"
  SPARK_LOCAL_IP=127.0.0.1 "$JAVA" --enable-native-access=ALL-UNNAMED -Xmx6g $OPENS -Dbench.pids="$pids" -cp "$CP" \
      dev.scoreflow.benchmarks.SparkBench "$url" "$SEED_DIR/models/logreg.onnx" "$ROWS" 100 "$BATCH_ROWS" \
      "$MAX_IN_FLIGHT" "$RUNS" "$@" 2> "$RES/spark-$label.err" | sed "s/^RESULT /RESULT delay=$label /" \
      | tee "$RES/spark-$label.txt"
}
spark 0 "http://127.0.0.1:$PORT" "server=$SF_PID" rows client naive
for d in $DELAYS; do
  "$JAVA" -cp "$CP" dev.scoreflow.testkit.LatencyProxy $PROXY_PORT 127.0.0.1:$PORT "$d" 2> "$RES/proxy-$d.log" &
  PROXY_PID=$!
  wait_port $PROXY_PORT || { cat "$RES/proxy-$d.log"; exit 1; }
  spark "$d" "http://127.0.0.1:$PROXY_PORT" "server=$SF_PID,proxy=$PROXY_PID" client naive
  kill $PROXY_PID; wait $PROXY_PID 2>/dev/null || true; PROXY_PID=
done

for d in 0 $DELAYS; do cat "$RES/spark-$d.txt"; done | awk '
function kv(line, key,   m) { if (match(line, key "=[^ ]+")) return substr(line, RSTART + length(key) + 1, RLENGTH - length(key) - 1); return "" }
/^RESULT / { d = kv($0, "delay"); m = kv($0, "mode"); med[d, m] = kv($0, "median"); if (!(d in seen)) { seen[d] = 1; order[++n] = d }
  line[d, m] = $0; if (!(m in mseen)) { mseen[m] = 1; modes[++nm] = m } }
END {
  printf "| added delay each way | client rows/s (median) | naive rows/s (median) | client / naive |\n|---|---|---|---|\n"
  for (i = 1; i <= n; i++) { d = order[i]
    printf "| %s ms | %.0f | %.0f | %.1fx |\n", d, med[d, "client"], med[d, "naive"], med[d, "client"] / med[d, "naive"] }
  printf "\nCPU microseconds per row over the timed runs (the machine had cores_us_per_row in all):\n\n"
  printf "| delay | mode | rows/s | spark tasks | client io | jdk http | jvm other | server | proxy | total | cores had |\n"
  printf "|---|---|---|---|---|---|---|---|---|---|---|\n"
  for (i = 1; i <= n; i++) for (j = 1; j <= nm; j++) { d = order[i]; m = modes[j]; l = line[d, m]; if (l == "") continue
    printf "| %s ms | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n", d, m, med[d, m], \
      kv(l, "cpu_us_per_row.spark-tasks"), kv(l, "cpu_us_per_row.client-io"), kv(l, "cpu_us_per_row.jdk-http"), \
      kv(l, "cpu_us_per_row.jvm-other"), kv(l, "cpu_us_per_row.server"), kv(l, "cpu_us_per_row.proxy"), \
      kv(l, "cpu_us_per_row.total"), kv(l, "cores_us_per_row") }
}' | tee "$RES/summary.md"
echo "results: $RES"
