#!/usr/bin/env bash
# Stream scoring against its ceilings, side by side in one run (issue 8): Kafka's own producer and consumer, a
# pass-through Kafka Streams app (exactly once and at least once), the stream scorer in-process (exactly once) and
# through a Scoreflow server (at least once), with features, statistics and rules on; then each scorer's
# event-to-score latency at half its measured rate. One broker (`scoreflow broker`, a separate JVM) on this machine.
#
#   scoreflow-benchmarks/stream-bench.sh            # 600,000 events, 20 s of latency per scorer: about 8 min
# Knobs: EVENTS (600000) LATENCY_SECONDS (20) CARDS (50000) JAVA_HOME ONLY (inproc|remote: that scorer alone)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
RES=$HERE/results/stream-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES"
(cd "$ROOT" && mvn -B -q -Pbench -DskipTests package)
CP="$HERE/target/scoreflow-benchmarks-0.1.0-SNAPSHOT.jar:$HERE/target/lib/*"
PORT=19192
rm -rf "$RES/kafka"
"$JAVA" --enable-native-access=ALL-UNNAMED -Xmx1g -cp "$CP" dev.scoreflow.cli.Main broker --port $PORT \
    --dir "$RES/kafka" > "$RES/broker.log" 2>&1 &
BROKER=$!
trap 'kill $BROKER 2>/dev/null || true' EXIT
for _ in $(seq 120); do grep -q "kafka ready" "$RES/broker.log" && break; sleep 0.5; done
{ echo "date: $(date -Is)"; echo "cpus: $(nproc)"; echo "java: $("$JAVA" -version 2>&1 | head -1)"
  echo "load before start: $(cat /proc/loadavg)"; } | tee "$RES/env.txt"
"$JAVA" --enable-native-access=ALL-UNNAMED -Xms1g -Xmx2g -cp "$CP" dev.scoreflow.benchmarks.StreamBench \
    127.0.0.1:$PORT "$ROOT" "${EVENTS:-600000}" "${LATENCY_SECONDS:-20}" "${CARDS:-50000}" 2> "$RES/bench.log" | tee "$RES/summary.md"
echo "results: $RES"
