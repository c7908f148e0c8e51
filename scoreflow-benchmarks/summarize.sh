#!/usr/bin/env bash
# Prints the load benchmark's tables (markdown) from a results directory written by load.sh: every server's rows/s,
# then Scoreflow's over the seed service's, the Python peers' (FastAPI under gunicorn, Ray Serve) and the bare server's.
set -euo pipefail
RES=$1
awk '
function ratio(k, o) { return (o in rps && rps[o] > 0) ? sprintf("%.1fx", rps[k] / rps[o]) : (o in rps ? "served 0" : "n/a") }
function kv(line, key,   m) { if (match(line, key "=[^ ]+")) { return substr(line, RSTART + length(key) + 1, RLENGTH - length(key) - 1) } return "" }
{
  s = kv($0, "server"); m = kv($0, "model"); r = kv($0, "rows"); c = kv($0, "conns"); k = s SUBSEP m SUBSEP r SUBSEP c
  dur = kv($0, "duration_s"); ok = kv($0, "code_200") + 0
  rps[k] = ok / dur * r; p99[k] = kv($0, "lat_p99_ms"); p50[k] = kv($0, "lat_p50_ms")
  other = ""; n = split($0, f, " ")
  for (i = 1; i <= n; i++) if (f[i] ~ /^code_/ && f[i] !~ /^code_200=/) other = other " " substr(f[i], 6)
  e = kv($0, "err_connect") + kv($0, "err_read") + kv($0, "err_write") + kv($0, "err_timeout")
  if (e > 0) other = other " sockerr=" e
  bad[k] = kv($0, "badlen"); oth[k] = other; busy[k] = kv($0, "machine_busy_pct")
  servers[s] = 1; models[m] = 1; cases[r SUBSEP c] = 1
}
END {
  printf "| model | rows/req | conns | server | rows/s (HTTP 200) | p50 ms | p99 ms | other answers | machine busy %% |\n|---|---|---|---|---|---|---|---|---|\n"
  split("logreg mlp -", ml, " "); ns = split("seed seed-blas1 fastapi ray scoreflow scoreflow-before bare", sl, " ")
  split("1 100 1000", rl, " "); split("8 32 128 256", cl, " ")
  for (mi = 1; mi <= 3; mi++) for (ri = 1; ri <= 3; ri++) for (ci = 1; ci <= 4; ci++) for (si = 1; si <= ns; si++) {
    k = sl[si] SUBSEP ml[mi] SUBSEP rl[ri] SUBSEP cl[ci]
    if (!(k in rps)) continue
    printf "| %s | %s | %s | %s | %.0f | %s | %s | %s | %s |\n", ml[mi], rl[ri], cl[ci], sl[si], rps[k], p50[k], p99[k], oth[k] == "" ? "-" : oth[k], busy[k]
  }
  printf "\n**Ratios, Scoreflow rows/s over the other servers'"'"', same model, rows and connections:**\n\n| model | rows/req | conns | vs seed (article config) | vs seed-blas1 (tuned) | vs fastapi (gunicorn + uvicorn) | vs ray (Ray Serve) | Scoreflow / bare-server ceiling |\n|---|---|---|---|---|---|---|---|\n"
  for (mi = 1; mi <= 2; mi++) for (ri = 1; ri <= 3; ri++) for (ci = 1; ci <= 4; ci++) {
    k = "scoreflow" SUBSEP ml[mi] SUBSEP rl[ri] SUBSEP cl[ci]; if (!(k in rps)) continue
    c = SUBSEP ml[mi] SUBSEP rl[ri] SUBSEP cl[ci]; w = "bare" SUBSEP "-" SUBSEP rl[ri] SUBSEP cl[ci]
    rw = (w in rps && rps[w] > 0) ? sprintf("%.0f%%", 100 * rps[k] / rps[w]) : "n/a"
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", ml[mi], rl[ri], cl[ci], ratio(k, "seed" c), ratio(k, "seed-blas1" c),
        ratio(k, "fastapi" c), ratio(k, "ray" c), rw
  }
  if (!(("scoreflow-before") in servers)) exit
  printf "\n**This build against the earlier one (BEFORE), same run:**\n\n| model | rows/req | conns | before rows/s | after rows/s | after / before |\n|---|---|---|---|---|---|\n"
  for (mi = 1; mi <= 2; mi++) for (ri = 1; ri <= 3; ri++) for (ci = 1; ci <= 4; ci++) {
    k = "scoreflow" SUBSEP ml[mi] SUBSEP rl[ri] SUBSEP cl[ci]; o = "scoreflow-before" SUBSEP ml[mi] SUBSEP rl[ri] SUBSEP cl[ci]
    if (!(k in rps) || !(o in rps)) continue
    printf "| %s | %s | %s | %.0f | %.0f | %s |\n", ml[mi], rl[ri], cl[ci], rps[o], rps[k], (rps[o] > 0 ? sprintf("%.0f%%", 100 * rps[k] / rps[o]) : "n/a")
  }
}' "$RES/load.kv"
if [[ -f $RES/inprocess.txt ]]; then
  echo; echo "**In-process ONNX Runtime ([1000,100] batches):**"; echo; echo '```'; cat "$RES/inprocess.txt"; echo '```'
fi
if [[ -f $RES/answers.txt ]]; then
  echo; echo "**Answers checked before the load (scores on 100 rows against in-process ONNX Runtime; a partial row):**"
  echo; echo '```'; cat "$RES/answers.txt"; echo '```'
fi
