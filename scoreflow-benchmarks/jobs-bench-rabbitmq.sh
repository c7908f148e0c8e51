#!/usr/bin/env bash
# jobs-bench.sh on RabbitMQ (issue 9): the same JobsBench, with the queue on the machine's RabbitMQ (a quorum queue,
# publisher confirms, manual acks with prefetch 8) and its states and results in the machine's PostgreSQL: jobs/s
# submitted and completed with 1 and 2 worker threads, submit-to-result latency at half the completed rate, and the
# synchronous /score as the ceiling.
#
#   scoreflow-benchmarks/jobs-bench-rabbitmq.sh # 3,000 jobs of 100 rows, 20 s of latency: about 2 min
# Knobs: JOBS (3000) ROWS (100) LATENCY_SECONDS (20)
#        AMQP_URL (amqp://guest:guest@127.0.0.1:5672/?store=postgresql://postgres@127.0.0.1:5432/test) JAVA_HOME
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
RES=$HERE/results/jobs-rabbitmq-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES"
(cd "$ROOT" && mvn -B -q -Pbench -DskipTests package)
CP="$HERE/target/scoreflow-benchmarks-0.1.0-SNAPSHOT.jar:$HERE/target/lib/*"
{ echo "date: $(date -Is)"; echo "cpus: $(nproc)"; echo "java: $("$JAVA" -version 2>&1 | head -1)"
  echo "rabbitmq: $(rabbitmqctl -q version 2>/dev/null)"
  echo "postgres: $(psql -h 127.0.0.1 -U postgres -d test -Atc 'show server_version' 2>/dev/null)"
  echo "load before start: $(cat /proc/loadavg)"; } | tee "$RES/env.txt"
"$JAVA" --enable-native-access=ALL-UNNAMED -Xmx2g -cp "$CP" dev.scoreflow.benchmarks.JobsBench \
    "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/?store=postgresql://postgres@127.0.0.1:5432/test}" "$ROOT" \
    "${JOBS:-3000}" "${ROWS:-100}" "${LATENCY_SECONDS:-20}" 2> "$RES/bench.log" | tee "$RES/summary.md"
echo "results: $RES"
