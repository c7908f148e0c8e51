#!/usr/bin/env bash
# Issue 7's attack script: starts `scoreflow serve` processes on loopback and attacks them (items 1-4, 7, 12, 14),
# printing what each attack saw and a summary ("held" or "VULNERABLE"). About two minutes; loopback only.
#
#   scoreflow-benchmarks/attack.sh                            # against this checkout's ./scoreflow
#   scoreflow-benchmarks/attack.sh --scoreflow /old/scoreflow # against another build, for a before/after
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
(cd "$ROOT" && mvn -B -q -Pbench -DskipTests package)
ARGS=("$@")
[[ " $* " == *" --scoreflow "* ]] || ARGS+=(--scoreflow "$ROOT/scoreflow")
exec "$JAVA" -cp "$HERE/target/scoreflow-benchmarks-0.1.0-SNAPSHOT.jar:$HERE/target/lib/*" \
  dev.scoreflow.benchmarks.Attack "${ARGS[@]}"
