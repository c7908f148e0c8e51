#!/usr/bin/env bash
# Request-acknowledge jobs on the machine's PostgreSQL against the synchronous /score (issue 9), in one JVM: jobs/s
# submitted and completed with 1 and 2 worker threads, then submit-to-result latency (submit + long poll) at half the
# completed rate; the same requests to PUT /score as the ceiling.
#
#   scoreflow-benchmarks/jobs-bench.sh          # 3,000 jobs of 100 rows, 20 s of latency: about 2 min
# Knobs: JOBS (3000) ROWS (100) LATENCY_SECONDS (20) PG_URL (jdbc:postgresql://127.0.0.1:5432/test) JAVA_HOME
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
RES=$HERE/results/jobs-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES"
(cd "$ROOT" && mvn -B -q -Pbench -DskipTests package)
CP="$HERE/target/scoreflow-benchmarks-0.1.0-SNAPSHOT.jar:$HERE/target/lib/*"
{ echo "date: $(date -Is)"; echo "cpus: $(nproc)"; echo "java: $("$JAVA" -version 2>&1 | head -1)"
  echo "postgres: $(psql -h 127.0.0.1 -U postgres -d test -Atc 'show server_version' 2>/dev/null)"
  echo "load before start: $(cat /proc/loadavg)"; } | tee "$RES/env.txt"
"$JAVA" --enable-native-access=ALL-UNNAMED -Xmx2g -cp "$CP" dev.scoreflow.benchmarks.JobsBench \
    "${PG_URL:-jdbc:postgresql://127.0.0.1:5432/test}" "$ROOT" "${JOBS:-3000}" "${ROWS:-100}" \
    "${LATENCY_SECONDS:-20}" 2> "$RES/bench.log" | tee "$RES/summary.md"
echo "results: $RES"
